/**
 * What the provider adapter tests share: one local sink per test file, a `deliver` that sends
 * one event through an adapter and the shared HTTP layer, an event whose text is hard to
 * format, and JSON written the way Go writes it, for stating golden payloads by hand.
 */
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { createHttpClient, DeliveryError } from '../../providers/http.js';
import type { AlertIdentity, ProviderAdapter, ProviderConfig } from '../../providers/types.js';
import { kustomizationEvent } from './events.js';
import { startSink, type ReceivedRequest, type Sink, type SinkReply } from './sink.js';
import type { Provider } from '../../src/api/types.js';
import { validateProvider } from '../../src/resources/validate.js';

/**
 * JSON as Go's encoding/json writes it (`<`, `>`, `&`, U+2028 and U+2029 escaped). Written
 * here, apart from the adapters' own serialiser, so that a golden payload checks it.
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export const SHA = '6f1d5e3c8a2b4f7e9d0c1b2a3f4e5d6c7b8a9f0e';
/** The revision of `trickyEvent` and of `kustomizationEvent`. */
export const REVISION = `main@sha1:${SHA}`;
export const TRICKY_MESSAGE =
  'Health check **failed** for "podinfo"\n> `deployment/podinfo` <not ready> & [docs](https://x.io/a_b)\nÜmlaut ünïcödé — 日本語 🚀';

/** An error event whose message and metadata carry markdown, quotes, newlines and non-ASCII text. */
export function trickyEvent(overrides: Partial<FluxEvent> = {}): FluxEvent {
  return kustomizationEvent({
    severity: 'error',
    reason: 'HealthCheckFailed',
    message: TRICKY_MESSAGE,
    metadata: {
      revision: REVISION,
      summary: 'Cluster "prod-eu" *critical*',
      env: 'prod\nblue_green',
      'owner.team': 'Équipe (ops) #1',
    },
    ...overrides,
  });
}

let active: Sink | undefined;

/**
 * Starts a sink for the test file. Before each test it forgets the requests it received and
 * answers `reply` again, whatever an earlier test told it. Returns a getter for it.
 */
export function useSink(reply: SinkReply = { status: 200, body: '{}' }): () => Sink {
  beforeAll(async () => {
    active = await startSink(() => reply);
  });
  afterAll(async () => {
    await active?.close();
    active = undefined;
  });
  beforeEach(() => {
    sink().requests.length = 0;
    sink().respondWith(() => reply);
  });
  return sink;
}

function sink(): Sink {
  if (!active) throw new Error('no sink: call useSink() in the test file');
  return active;
}

/**
 * Sends one event through `adapter` with a fresh HTTP client for `config`. Resolves with every
 * request the sink received in this test so far.
 */
export async function deliver(
  adapter: ProviderAdapter,
  config: ProviderConfig,
  event: FluxEvent,
  alert?: AlertIdentity,
): Promise<ReceivedRequest[]> {
  const prepared = preparedOf(adapter, config);
  const http = createHttpClient(config);
  try {
    await adapter.send(event, { config, prepared, http, ...(alert ? { alert } : {}) });
  } finally {
    await http.close();
  }
  return sink().requests;
}

/** What `prepare` makes of `config`; throws when it does not prepare. */
export function preparedOf<P>(adapter: ProviderAdapter<P>, config: ProviderConfig): P {
  const preparation = adapter.prepare(config);
  if (!preparation.ok) throw new Error(`the test's configuration does not prepare: ${preparation.problem}`);
  return preparation.prepared;
}

/** What `prepare` says is wrong with `config`, or undefined when it prepares. */
export function problemOf(adapter: ProviderAdapter, config: ProviderConfig): string | undefined {
  const preparation = adapter.prepare(config);
  return preparation.ok ? undefined : preparation.problem;
}

/** The DeliveryError a delivery fails with; the test fails when it succeeds or throws anything else. */
export async function failureOf(delivery: Promise<unknown>): Promise<DeliveryError> {
  const error = await delivery.then(
    () => expect.fail('the delivery succeeded; expected a DeliveryError'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DeliveryError);
  return error as DeliveryError;
}

/** Answers a GET (a commit-status look-up) with `get`, and any other request (the post) with `post`. */
export function answerLookupThenPost(get: SinkReply, post: SinkReply = { status: 201, body: '{}' }): void {
  sink().respondWith((req) => (req.method === 'GET' ? get : post));
}

/** Answers a GET with `listed` as JSON (the commit's statuses), and any other request with `post`. */
export function answerListThenPost(listed: unknown, post?: SinkReply): void {
  answerLookupThenPost({ status: 200, body: JSON.stringify(listed) }, post);
}

/**
 * What the store says of a Provider of `type` whose `spec.address` is `address`: every address
 * is checked there, before the adapter's own `prepare` runs.
 */
export function addressProblem(type: string, address: string): string {
  const provider: Provider = {
    apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
    kind: 'Provider',
    metadata: { name: 'p', namespace: 'flux-system' },
    spec: { type, address },
  };
  return validateProvider(provider, () => undefined).findings.map((f) => f.message).join('; ');
}
