/**
 * `nats`: the event, serialised as Flux serialises it (the bytes `generic` sends), published to
 * the subject `spec.channel` on the NATS server(s) of the address, as Flux's
 * notification-controller does.
 *
 * - The address is `nats://host:port`, `tls://host:port` or `host:port` (port 4222 by
 *   default), or several of them separated by commas.
 * - Authentication, first present wins, as in Flux: the Secret's `creds` (a user credentials
 *   file: JWT and NKey seed), its `nkey` (an NKey user seed), or `username` and `password`
 *   (both needed). TLS material from `spec.certSecretRef` is used when the server wants TLS.
 * - One connection per send, as Flux makes it: connect, publish, flush (the server's answer to
 *   the flush proves it took the message), close; all within the Provider's timeout. No socket
 *   stays open between events, so a changed or deleted Provider leaves nothing behind, and an
 *   unreachable server costs one attempt per delivery. `spec.proxy` is not used (NATS is not
 *   HTTP; Flux does not use it either).
 * - Like every Provider, it may not reach Herald's own listeners: each server's address is
 *   resolved and checked before connecting.
 * - Failures are masked and classified: refused authentication or permission and an oversized
 *   message fail for good; anything else (a server down, a timeout) is retried by the queue.
 */
import type { Authenticator, ConnectionOptions, NatsConnection } from 'nats';
import { DeliveryError } from './http.js';
import { OwnListenerRefused, refuseOwnListenerAt } from './own-listeners.js';
import { prepared, problem, type ProviderAdapter, type ProviderConfig } from './types.js';
import { onFirstUse } from '../src/common/on-first-use.js';
import { fluxEventJson } from '../src/events/wire.js';

const natsSdk = onFirstUse<typeof import('nats')>('nats');

const DEFAULT_PORT = 4222;
/** Errors another attempt cannot fix: the server refused who we are, what we may do, or the size. */
const PERMANENT_CODES = new Set(['AUTHORIZATION_VIOLATION', 'AUTHENTICATION_EXPIRED', 'PERMISSIONS_VIOLATION', 'MAX_PAYLOAD_EXCEEDED', 'BAD_AUTHENTICATION']);

interface NatsServer {
  host: string;
  port: number;
  /** As nats.js takes it: `host:port` (the `tls://` scheme only asks for TLS). */
  hostPort: string;
  tls: boolean;
}

/** The servers of the address; undefined when one of them is not a NATS server URL. */
export function natsServers(address: string): NatsServer[] | undefined {
  const parts = address.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) return undefined;
  const servers: NatsServer[] = [];
  for (const part of parts) {
    const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(part) ? part : `nats://${part}`;
    let url: URL;
    try {
      url = new URL(withScheme);
    } catch {
      return undefined;
    }
    if ((url.protocol !== 'nats:' && url.protocol !== 'tls:') || !url.hostname || (url.pathname !== '' && url.pathname !== '/')) return undefined;
    const port = url.port ? Number(url.port) : DEFAULT_PORT;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    servers.push({ host, port, hostPort: `${url.hostname}:${port}`, tls: url.protocol === 'tls:' });
  }
  return servers;
}

/** The authenticator Flux would choose; a string names the Secret key that is unusable. */
export function natsAuthenticator(config: ProviderConfig): Authenticator | undefined | string {
  const { creds, nkey } = config.secret;
  const { credsAuthenticator, nkeyAuthenticator, nkeys, usernamePasswordAuthenticator } = natsSdk();
  if (creds) {
    if (!/-----BEGIN NATS USER JWT-----/.test(creds) || !/-----BEGIN USER NKEY SEED-----/.test(creds)) {
      return "the `creds` key of spec.secretRef is not a NATS user credentials file (a user JWT and an NKey seed)";
    }
    return credsAuthenticator(new TextEncoder().encode(creds));
  }
  if (nkey) {
    const seed = new TextEncoder().encode(nkey.trim());
    try {
      nkeys.fromSeed(seed);
    } catch {
      return 'the `nkey` key of spec.secretRef is not an NKey seed';
    }
    return nkeyAuthenticator(seed);
  }
  if (config.username && config.password) return usernamePasswordAuthenticator(config.username, config.password);
  return undefined;
}

function classify(err: unknown, mask: (text: string) => string, timeoutMs: number): DeliveryError {
  if (err instanceof DeliveryError) return err;
  if (err instanceof OwnListenerRefused) return new DeliveryError(err.message, false);
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : undefined;
  const text = err instanceof Error ? err.message : String(err);
  const reason = code === 'TIMEOUT' || code === 'CONNECTION_TIMEOUT' ? `timed out after ${timeoutMs}ms` : `${code ? `${code} ` : ''}${text}`;
  return new DeliveryError(mask(`nats: ${reason}`), !PERMANENT_CODES.has(code ?? '') && !/permissions violation|authorization violation/i.test(text));
}

export const nats: ProviderAdapter<{ servers: NonNullable<ReturnType<typeof natsServers>>; auth: Exclude<ReturnType<typeof natsAuthenticator>, string> }> = {
  type: 'nats',
  // The address is a NATS URL, not http(s): checked here instead.
  requiresAddress: false,
  prepare(config) {
    const problems: string[] = [];
    const servers = config.address ? natsServers(config.address) : undefined;
    if (!config.address) problems.push("no address: set spec.address (nats://host:port), or the 'address' key of the Secret named by spec.secretRef");
    else if (!servers) problems.push('the address is not a NATS server URL: expected nats://host:port, tls://host:port or host:port, comma-separated');
    if (!config.channel) problems.push('nats needs the subject in spec.channel');
    const auth = natsAuthenticator(config);
    if (typeof auth === 'string') problems.push(auth);
    if (problems.length > 0 || !servers || typeof auth === 'string') return problem(problems.join('; '));
    return prepared({ servers, auth });
  },
  async send(event, { config, prepared: { servers, auth }, http }) {
    const payload = new TextEncoder().encode(fluxEventJson(event));
    const deadline = Date.now() + config.timeoutMs;
    const remaining = () => Math.max(1, deadline - Date.now());

    let connection: NatsConnection | undefined;
    let abandoned = false;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { code: 'TIMEOUT' })), config.timeoutMs);
    });
    const publish = async (): Promise<void> => {
      for (const server of servers) await refuseOwnListenerAt(server.host, server.port);
      const options: ConnectionOptions = {
        servers: servers.map((s) => s.hostPort),
        name: 'Herald NATS Provider Publisher',
        timeout: remaining(),
        reconnect: false,
        maxReconnectAttempts: 0,
        ...(auth ? { authenticator: auth } : {}),
        ...(servers.some((s) => s.tls) || config.tls ? { tls: { ...config.tls } } : {}),
      };
      const nc = await natsSdk().connect(options);
      connection = nc;
      // Timed out while connecting: the caller has given up, so close at once.
      if (abandoned) return;
      // A refused publish (permissions) arrives as an asynchronous error before the flush's answer.
      const refused: string[] = [];
      void (async () => {
        for await (const status of nc.status()) if (status.type === 'error') refused.push(String(status.data));
      })().catch(() => undefined);
      nc.publish(config.channel, payload);
      await nc.flush();
      if (refused[0] !== undefined) throw Object.assign(new Error('the server refused the message'), { code: refused[0] });
    };
    const sending = publish();
    try {
      await Promise.race([sending, timedOut]);
    } catch (err) {
      throw classify(err, http.mask, config.timeoutMs);
    } finally {
      abandoned = true;
      clearTimeout(timer);
      timedOut.catch(() => undefined);
      // Whenever it ends, the connection is closed: now, or once a late connect completes.
      void sending.catch(() => undefined).finally(() => connection?.close().catch(() => undefined));
      await connection?.close().catch(() => undefined);
    }
  },
};
