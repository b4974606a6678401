/**
 * `googlepubsub` through Google's SDK against a gRPC stand-in for the Pub/Sub API, reached the
 * way Flux's SDK reaches the emulator: PUBSUB_EMULATOR_HOST.
 */
import http from 'node:http';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { EMULATOR_HOST_VARIABLE, googlepubsub } from '../../providers/googlepubsub.js';
import { createHttpClient } from '../../providers/http.js';
import { setOwnListeners } from '../../providers/own-listeners.js';
import type { ProviderConfig } from '../../providers/types.js';
import { fluxEventJson } from '../../src/events/wire.js';
import { failureOf, trickyEvent, problemOf, preparedOf } from '../support/adapter-harness.js';
import { startPubSubStandIn, type PubSubStandIn } from '../support/pubsub-stand-in.js';
import { testProviderConfig } from '../support/provider-config.js';

let pubsub: PubSubStandIn;
const previous = process.env[EMULATOR_HOST_VARIABLE];
beforeAll(async () => {
  pubsub = await startPubSubStandIn();
  process.env[EMULATOR_HOST_VARIABLE] = pubsub.host;
});
afterAll(async () => {
  if (previous === undefined) delete process.env[EMULATOR_HOST_VARIABLE];
  else process.env[EMULATOR_HOST_VARIABLE] = previous;
  await pubsub?.close();
});
beforeEach(() => {
  pubsub.published.length = 0;
  pubsub.failWith(undefined);
});

function config(overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  return testProviderConfig({ type: 'googlepubsub', address: 'flux-project', channel: 'flux-events', timeoutMs: 5_000, ...overrides });
}

async function send(cfg: ProviderConfig, event = trickyEvent()): Promise<void> {
  const http = createHttpClient(cfg);
  try {
    await googlepubsub.send(event, { config: cfg, prepared: preparedOf(googlepubsub, cfg), http });
  } finally {
    await http.close();
  }
}

describe('googlepubsub adapter', () => {
  // First: the SDK remembers what it learnt of the metadata server for the rest of the process.
  it('reaches nothing but the emulator: no request to the GCE metadata server', async () => {
    // Without credentials, the SDK would ask metadata.google.internal (169.254.169.254), off
    // this machine, for the universe domain.
    const requests = vi.spyOn(http, 'request');
    try {
      await send(config());
      const where = (target: unknown) =>
        target instanceof URL ? target.href : typeof target === 'string' ? target : JSON.stringify(target)?.slice(0, 120);
      const targets = requests.mock.calls.map((call) => where(call[0]));
      expect(targets).toEqual([]);
      expect(pubsub.published).toHaveLength(1);
    } finally {
      requests.mockRestore();
    }
  });

  it('publishes the event, as Flux serialises it, to projects/<address>/topics/<channel>', async () => {
    const event = trickyEvent();
    await send(config(), event);
    expect(pubsub.published).toEqual([{ topic: 'projects/flux-project/topics/flux-events', data: Buffer.from(fluxEventJson(event), 'utf8'), attributes: {} }]);
  });

  it('sends the Secret’s headers as the message’s attributes, as Flux does', async () => {
    await send(config({ headers: { team: 'ops', 'X-Env': 'prod' } }));
    expect(pubsub.published[0]!.attributes).toEqual({ team: 'ops', 'X-Env': 'prod' });
  });

  it('an unavailable API is retryable — by the queue: the SDK does not retry on its own', async () => {
    pubsub.failWith(status.UNAVAILABLE);
    const before = pubsub.calls;
    const err = await failureOf(send(config()));
    expect(err.retryable).toBe(true);
    expect(pubsub.calls - before).toBe(1);
  });

  it('a missing topic or a denied permission fails for good, masked', async () => {
    pubsub.failWith(status.NOT_FOUND, 'Resource not found (resource=flux-events) s3cret-in-answer');
    const missing = await failureOf(send(config({ sensitiveValues: ['s3cret-in-answer'] })));
    expect(missing.retryable).toBe(false);
    expect(missing.message).not.toContain('s3cret-in-answer');
    pubsub.failWith(status.PERMISSION_DENIED);
    expect((await failureOf(send(config()))).retryable).toBe(false);
  });

  it('refuses an emulator address that is one of Herald’s own listeners', async () => {
    setOwnListeners([{ flag: 'metrics-addr', host: '127.0.0.1', port: pubsub.port }]);
    const before = pubsub.calls;
    try {
      const err = await failureOf(send(config()));
      expect(err.retryable).toBe(false);
      expect(err.message).toMatch(/--metrics-addr/);
      expect(pubsub.calls).toBe(before);
    } finally {
      setOwnListeners([]);
    }
  });

  it('validate: project and topic; a token must be a JSON key; without one only the emulator will do', () => {
    expect(problemOf(googlepubsub, config())).toBeUndefined();
    expect(problemOf(googlepubsub, config({ token: '{"type":"service_account","project_id":"p"}' }))).toBeUndefined();
    expect(problemOf(googlepubsub, config({ address: '', channel: '', token: 'not json' }))).toBe(
      'googlepubsub needs the GCP project id in spec.address; googlepubsub needs the Pub/Sub topic id in spec.channel; the `token` key of spec.secretRef is not a Google service account key (JSON)',
    );
    delete process.env[EMULATOR_HOST_VARIABLE];
    try {
      expect(problemOf(googlepubsub, config())).toMatch(/workload identity is not supported/);
    } finally {
      process.env[EMULATOR_HOST_VARIABLE] = pubsub.host;
    }
  });
});
