/**
 * `googlepubsub`: the event, serialised as Flux serialises it (the bytes `generic` sends),
 * published to a Google Cloud Pub/Sub topic with Google's SDK (`@google-cloud/pubsub`, gRPC), as
 * Flux's notification-controller publishes it: a client per send, one message, closed.
 *
 * - `spec.address` is the project id, `spec.channel` the topic id.
 * - The Secret's `token` is a service account key (JSON), as Flux reads it. Without one, Flux
 *   uses workload identity, which Herald does not support: the Provider is then not Ready,
 *   unless `PUBSUB_EMULATOR_HOST` is set in Herald's environment (the SDK then talks to the
 *   Pub/Sub emulator at that address, without credentials, as Flux's Go SDK does).
 * - The Secret's `headers` become the message's attributes, as in Flux.
 * - The SDK's own retries are off: the queue retries. Everything happens within the Provider's
 *   timeout. `spec.proxy` and `certSecretRef` are not used (Flux does not use them here either).
 * - Like every Provider, it may not reach Herald's own listeners: the emulator's address is
 *   checked before connecting.
 * - Failures are masked; a refused credential, a missing topic, a denied permission or an
 *   invalid message fails for good, anything else is retried by the queue.
 */
import type { PubSub } from '@google-cloud/pubsub';
import { DeliveryError } from './http.js';
import { OwnListenerRefused, refuseOwnListenerAt } from './own-listeners.js';
import type { ProviderAdapter, ProviderConfig } from './types.js';
import { onFirstUse } from '../src/common/on-first-use.js';
import { fluxEventJson } from '../src/events/wire.js';

const pubsubSdk = onFirstUse<typeof import('@google-cloud/pubsub')>('@google-cloud/pubsub');

export const EMULATOR_HOST_VARIABLE = 'PUBSUB_EMULATOR_HOST';

/** gRPC status codes another attempt cannot fix. */
const PERMANENT_GRPC_CODES = new Set([
  3, // INVALID_ARGUMENT
  5, // NOT_FOUND
  7, // PERMISSION_DENIED
  9, // FAILED_PRECONDITION
  16, // UNAUTHENTICATED
]);

function emulatorHost(): string | undefined {
  return process.env[EMULATOR_HOST_VARIABLE] || undefined;
}

/** The service account key of the Secret's `token`; a string says what is wrong with it (never its content). */
function credentials(config: ProviderConfig): Record<string, unknown> | undefined | string {
  if (!config.token) return undefined;
  try {
    const parsed = JSON.parse(config.token) as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // reported below
  }
  return 'the `token` key of spec.secretRef is not a Google service account key (JSON)';
}

function problem(config: ProviderConfig): string | undefined {
  const problems: string[] = [];
  if (!config.address) problems.push('googlepubsub needs the GCP project id in spec.address');
  if (!config.channel) problems.push('googlepubsub needs the Pub/Sub topic id in spec.channel');
  const key = credentials(config);
  if (typeof key === 'string') problems.push(key);
  else if (!key && !emulatorHost()) {
    problems.push(
      `googlepubsub needs a service account key (JSON) in the \`token\` key of spec.secretRef: workload identity is not supported by Herald (or set ${EMULATOR_HOST_VARIABLE} for the emulator)`,
    );
  }
  return problems.length > 0 ? problems.join('; ') : undefined;
}

/** `host:port` of the emulator variable, as the SDK reads it. */
function emulatorTarget(value: string): { host: string; port: number } | undefined {
  const [host = '', port] = value.replace(/^https?:\/\//, '').replace(/\/+$/, '').split(':');
  const number = Number(port);
  return host && Number.isInteger(number) && number > 0 ? { host, port: number } : undefined;
}

function classify(err: unknown, mask: (text: string) => string, timeoutMs: number, timedOut: boolean): DeliveryError {
  if (err instanceof DeliveryError) return err;
  if (err instanceof OwnListenerRefused) return new DeliveryError(err.message, false);
  if (timedOut) return new DeliveryError(`googlepubsub: timed out after ${timeoutMs}ms`, true);
  const code = (err as { code?: unknown })?.code;
  const text = err instanceof Error ? err.message : String(err);
  return new DeliveryError(mask(`googlepubsub: ${text}`), !(typeof code === 'number' && PERMANENT_GRPC_CODES.has(code)));
}

export const googlepubsub: ProviderAdapter = {
  type: 'googlepubsub',
  // The address is a project id, not a URL: checked here instead.
  requiresAddress: false,
  prepare(config) {
    const invalid = problem(config);
    return invalid ? { ok: false, problem: invalid } : { ok: true, prepared: undefined };
  },
  async send(event, { config, http }) {
    const key = credentials(config) as Record<string, unknown> | undefined;
    const attributes = Object.keys(config.headers).length > 0 ? { ...config.headers } : undefined;
    const data = Buffer.from(fluxEventJson(event), 'utf8');
    let client: PubSub | undefined;
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    try {
      const emulator = emulatorHost();
      const target = emulator ? emulatorTarget(emulator) : undefined;
      if (target) await refuseOwnListenerAt(target.host, target.port);
      client = new (pubsubSdk().PubSub)({
        projectId: config.address,
        ...(key ? { credentials: key } : {}),
        // Said up front, so that the SDK does not ask the GCE metadata server (169.254.169.254)
        // for it, which it does without credentials (the emulator), wherever Herald runs.
        clientOptions: { universeDomain: 'googleapis.com' },
      });
      const topic = client.topic(config.channel, {
        batching: { maxMessages: 1 },
        // No retries of the SDK's own: the queue decides.
        gaxOpts: { timeout: config.timeoutMs, retry: null },
      });
      const publishing = topic.publishMessage({ data, ...(attributes ? { attributes } : {}) });
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          timedOut = true;
          reject(new Error('timed out'));
        }, config.timeoutMs);
      });
      publishing.catch(() => undefined);
      await Promise.race([publishing, deadline]);
    } catch (err) {
      throw classify(err, http.mask, config.timeoutMs, timedOut);
    } finally {
      clearTimeout(timer);
      await client?.close().catch(() => undefined);
    }
  },
};
