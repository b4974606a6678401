/**
 * `nats`: the golden bytes through the NATS server every machine and CI runs on 127.0.0.1:4222
 * (a subscriber there receives them), and authentication against a protocol-level stand-in
 * server that challenges with a nonce and checks the client's CONNECT as nats-server does.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { connect, nkeys, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient } from '../../providers/http.js';
import { nats, natsServers } from '../../providers/nats.js';
import { setOwnListeners } from '../../providers/own-listeners.js';
import type { ProviderConfig } from '../../providers/types.js';
import { fluxEventJson } from '../../src/events/wire.js';
import { failureOf, trickyEvent, problemOf, preparedOf } from '../support/adapter-harness.js';
import { testProviderConfig } from '../support/provider-config.js';

const SHARED_NATS = 'nats://127.0.0.1:4222';

function config(overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  const base = testProviderConfig({ type: 'nats', address: SHARED_NATS, channel: `herald.test.${randomUUID()}`, ...overrides });
  base.sensitiveValues.push(...Object.values(base.secret));
  return base;
}

async function send(cfg: ProviderConfig, event = trickyEvent()): Promise<void> {
  const http = createHttpClient(cfg);
  try {
    await nats.send(event, { config: cfg, prepared: preparedOf(nats, cfg), http });
  } finally {
    await http.close();
  }
}

describe('nats adapter: golden bytes on the shared NATS server', () => {
  let subscriber: NatsConnection;
  beforeAll(async () => {
    subscriber = await connect({ servers: '127.0.0.1:4222', timeout: 5_000 });
  });
  afterAll(async () => {
    await subscriber?.close();
  });

  it('publishes the event, as Flux serialises it, to the subject in spec.channel', async () => {
    const cfg = config();
    const subscription = subscriber.subscribe(cfg.channel, { max: 1 });
    await subscriber.flush();
    const event = trickyEvent();
    await send(cfg, event);

    const received: Uint8Array[] = [];
    const done = (async () => {
      for await (const message of subscription) received.push(message.data);
    })();
    await Promise.race([done, new Promise((r) => setTimeout(r, 5_000))]);
    expect(received).toHaveLength(1);
    expect(Buffer.from(received[0]!).toString('utf8')).toBe(fluxEventJson(event));
    expect(Buffer.from(received[0]!).toString('utf8')).toContain('\\u003cnot ready\\u003e \\u0026');
  });

  it('fails retryably and quickly when no server listens, without leaking the password', async () => {
    const closed = await closedPort();
    const cfg = config({ address: `nats://flux:s3cretNatsPass@127.0.0.1:${closed}`, timeoutMs: 2_000 });
    const started = Date.now();
    const err = await failureOf(send(cfg));
    expect(err.retryable).toBe(true);
    expect(err.message).not.toContain('s3cretNatsPass');
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

interface Connect {
  user?: string;
  pass?: string;
  nkey?: string;
  sig?: string;
  jwt?: string;
}

/**
 * Speaks enough of the NATS protocol to authenticate a client: INFO with a nonce, then CONNECT
 * checked by `accept` (-ERR 'Authorization Violation' when it refuses), PING/PONG, and PUB
 * recorded. `silent` never sends INFO (a server that hangs).
 */
async function standIn(accept: (c: Connect, nonce: string) => boolean, silent = false) {
  const published: Array<{ subject: string; payload: string }> = [];
  const connects: Connect[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (silent) return;
    const nonce = randomUUID();
    socket.write(`INFO ${JSON.stringify({ server_id: 'STANDIN', version: '2.10.0', proto: 1, max_payload: 1048576, auth_required: true, nonce, headers: true })}\r\n`);
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const end = buffer.indexOf('\r\n');
        if (end < 0) return;
        const line = buffer.subarray(0, end).toString('utf8');
        if (line.startsWith('PUB ')) {
          const [, subject, size] = line.split(' ');
          const length = Number(size);
          if (buffer.length < end + 2 + length + 2) return;
          published.push({ subject: subject!, payload: buffer.subarray(end + 2, end + 2 + length).toString('utf8') });
          buffer = buffer.subarray(end + 2 + length + 2);
          continue;
        }
        buffer = buffer.subarray(end + 2);
        if (line.startsWith('CONNECT ')) {
          const c = JSON.parse(line.slice(8)) as Connect;
          connects.push(c);
          if (!accept(c, nonce)) {
            socket.end("-ERR 'Authorization Violation'\r\n");
            return;
          }
        } else if (line === 'PING') socket.write('PONG\r\n');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    address: `nats://127.0.0.1:${port}`,
    port,
    published,
    connects,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

function signedBy(c: Connect, nonce: string, publicKey: string): boolean {
  if (c.nkey !== publicKey || !c.sig) return false;
  return nkeys.fromPublic(publicKey).verify(new TextEncoder().encode(nonce), Buffer.from(c.sig, 'base64url'));
}

describe('nats adapter: authentication, as Flux chooses it (creds, then nkey, then username/password)', () => {
  const user = nkeys.createUser();
  const seed = new TextDecoder().decode(user.getSeed());
  const publicKey = user.getPublicKey();
  const userJwt = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJVIn0.c2ln';
  const creds = `-----BEGIN NATS USER JWT-----\n${userJwt}\n------END NATS USER JWT------\n\n************************* IMPORTANT *************************\nNKEY Seed printed below can be used to sign and prove identity.\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`;

  it('nkey: signs the server nonce with the seed', async () => {
    const server = await standIn((c, nonce) => signedBy(c, nonce, publicKey));
    try {
      await send(config({ address: server.address, channel: 'flux.events', secret: { nkey: seed } }));
      expect(server.published).toEqual([{ subject: 'flux.events', payload: fluxEventJson(trickyEvent()) }]);
      expect(server.connects[0]!.user).toBeUndefined();
    } finally {
      await server.close();
    }
  });

  it('creds: sends the user JWT and signs the nonce with the seed, and wins over nkey and password', async () => {
    const other = new TextDecoder().decode(nkeys.createUser().getSeed());
    const server = await standIn((c, nonce) => c.jwt === userJwt && signedBy(c, nonce, publicKey));
    try {
      await send(config({ address: server.address, channel: 'flux.events', username: 'u', password: 'p4ssword', secret: { creds, nkey: other } }));
      expect(server.published).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('username and password: both needed', async () => {
    const server = await standIn((c) => c.user === 'flux' && c.pass === 'n4tsPassw0rd');
    try {
      await send(config({ address: server.address, channel: 'flux.events', username: 'flux', password: 'n4tsPassw0rd' }));
      expect(server.published).toHaveLength(1);
      const refused = await failureOf(send(config({ address: server.address, channel: 'flux.events', username: 'flux', password: 'wr0ngPassw0rd' })));
      expect(refused.retryable).toBe(false);
      expect(refused.message).toMatch(/AUTHORIZATION_VIOLATION/);
      expect(refused.message).not.toContain('wr0ngPassw0rd');
      expect(server.published).toHaveLength(1);
    } finally {
      await server.close();
    }
  });

  it('a server that never answers fails retryably within the Provider timeout', async () => {
    const server = await standIn(() => true, true);
    try {
      const started = Date.now();
      const err = await failureOf(send(config({ address: server.address, channel: 'x', timeoutMs: 500 })));
      expect(err.retryable).toBe(true);
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      await server.close();
    }
  });

  it('refuses a server that is one of Herald’s own listeners', async () => {
    const server = await standIn(() => true);
    setOwnListeners([{ flag: 'admin-addr', host: '127.0.0.1', port: server.port }]);
    try {
      const err = await failureOf(send(config({ address: server.address, channel: 'x' })));
      expect(err.retryable).toBe(false);
      expect(err.message).toMatch(/--admin-addr/);
      expect(server.connects).toHaveLength(0);
    } finally {
      setOwnListeners([]);
      await server.close();
    }
  });

  it('validate names every problem, never a value', () => {
    expect(problemOf(nats, config())).toBeUndefined();
    expect(problemOf(nats, config({ address: '127.0.0.1:4222, tls://nats.example:4443' }))).toBeUndefined();
    expect(problemOf(nats, config({ address: 'https://nats.example', channel: '', secret: { nkey: 'SUnotaseed' } }))).toBe(
      'the address is not a NATS server URL: expected nats://host:port, tls://host:port or host:port, comma-separated; nats needs the subject in spec.channel; the `nkey` key of spec.secretRef is not an NKey seed',
    );
    expect(problemOf(nats, config({ address: '' }))).toMatch(/^no address/);
    expect(problemOf(nats, config({ secret: { creds: 'just a token' } }))).toMatch(/`creds` key .* not a NATS user credentials file/);
    expect(natsServers('nats.example')).toEqual([{ host: 'nats.example', port: 4222, hostPort: 'nats.example:4222', tls: false }]);
  });
});
