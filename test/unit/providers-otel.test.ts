import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { createHttpClient } from '../../providers/http.js';
import { alertUid, otel } from '../../providers/otel.js';
import type { AlertIdentity, ProviderConfig } from '../../providers/types.js';
import { failureOf, REVISION, TRICKY_MESSAGE, trickyEvent, preparedOf } from '../support/adapter-harness.js';
import { kustomizationEvent } from '../support/events.js';
import { decodeTraceExport, hex, startOtlpReceiver, type DecodedKeyValue, type OtlpReceiver } from '../support/otlp-receiver.js';
import { testProviderConfig } from '../support/provider-config.js';

const ALERT: AlertIdentity = { namespace: 'flux-system', name: 'ops-traces', uid: '5d7f3a10-8c2e-4b9a-a1f0-3e4d5c6b7a89' };

let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver?.close();
});
beforeEach(() => {
  receiver.requests.length = 0;
  receiver.answer(200);
});

function config(overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  return testProviderConfig({ type: 'otel', address: `${receiver.url}/v1/traces`, ...overrides });
}

/** `alert: null` sends without the Alert. */
async function send(event: FluxEvent, cfg = config(), alert: AlertIdentity | null = ALERT) {
  const http = createHttpClient(cfg);
  try {
    await otel.send(event, { config: cfg, prepared: preparedOf(otel, cfg), http, ...(alert ? { alert } : {}) });
  } finally {
    await http.close();
  }
  return receiver.requests;
}

const attrs = (list: DecodedKeyValue[]) => list.map((kv) => [kv.key, kv.value.string_value]);
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('otel adapter: the span Flux exports', () => {
  it('POSTs one protobuf ExportTraceServiceRequest to the address, as Flux maps the event', async () => {
    const before = Date.now();
    const [req, ...more] = await send(trickyEvent());
    const after = Date.now();
    expect(more).toHaveLength(0);
    expect(req!.method).toBe('POST');
    expect(req!.url).toBe('/v1/traces');
    expect(req!.headers['content-type']).toBe('application/x-protobuf');
    expect(req!.headers['authorization']).toBeUndefined();

    const exported = decodeTraceExport(req!.body);
    expect(exported.resource_spans).toHaveLength(1);
    const [resourceSpans] = exported.resource_spans;
    expect(resourceSpans!.schema_url).toBe('https://opentelemetry.io/schemas/1.34.0');
    expect(attrs(resourceSpans!.resource.attributes)).toEqual([
      ['service.name', 'flux-system/ops-traces'],
      ['service.namespace', 'flux-system'],
      ['service.instance.id', ALERT.uid],
    ]);
    expect(resourceSpans!.scope_spans).toHaveLength(1);
    const [scopeSpans] = resourceSpans!.scope_spans;
    expect(scopeSpans!.scope.name).toBe('flux:notification-controller');
    expect(scopeSpans!.scope.version).toBe('');
    expect(scopeSpans!.spans).toHaveLength(1);

    const [span] = scopeSpans!.spans;
    expect(span!.name).toBe('Kustomization: flux-system/apps');
    expect(span!.kind).toBe(1); // SPAN_KIND_INTERNAL
    expect(hex(span!.trace_id)).toBe(sha256(`${ALERT.uid}:${REVISION}`).slice(0, 32));
    expect(hex(span!.span_id)).toMatch(/^[0-9a-f]{16}$/);
    expect(hex(span!.span_id)).not.toBe('0000000000000000');
    expect(span!.parent_span_id).toBe('');
    expect(span!.trace_state).toBe('');
    // Go's exporter: "has is-remote" and "is remote" bits (the remote parent), no trace flags.
    expect(span!.flags).toBe(0x300);
    expect(span!.start_time_unix_nano).toBe(`${Date.parse('2026-11-24T09:00:00Z')}000000`);
    const endMs = Number(BigInt(span!.end_time_unix_nano) / 1_000_000n);
    expect(endMs).toBeGreaterThanOrEqual(before);
    expect(endMs).toBeLessThanOrEqual(after);
    expect(attrs(span!.attributes)).toEqual([
      ['object.uid', 'cc4d0095-e4b8-4f1b-9a5e-1b2c3d4e5f60'],
      ['object.kind', 'Kustomization'],
      ['object.name', 'apps'],
      ['object.namespace', 'flux-system'],
      ['env', 'prod\nblue_green'],
      ['owner.team', 'Équipe (ops) #1'],
      ['revision', REVISION],
      ['summary', 'Cluster "prod-eu" *critical*'],
    ]);
    expect(span!.status).toEqual({ code: 2, message: TRICKY_MESSAGE });
  });

  it('an info event is status Ok without a message', async () => {
    const [req] = await send(kustomizationEvent({ metadata: { revision: REVISION } }));
    expect(decodeTraceExport(req!.body).resource_spans[0]!.scope_spans[0]!.spans[0]!.status).toEqual({ code: 1, message: '' });
  });

  it('the trace id follows <app-version>@<oci-digest> when both are there, else revision, else "unknown"', async () => {
    const traceOf = async (metadata: Record<string, string>) => {
      receiver.requests.length = 0;
      const [req] = await send(kustomizationEvent({ metadata }));
      return hex(decodeTraceExport(req!.body).resource_spans[0]!.scope_spans[0]!.spans[0]!.trace_id);
    };
    expect(await traceOf({ 'app-version': '6.7.0', 'oci-digest': 'sha256:abc', revision: 'x' })).toBe(sha256(`${ALERT.uid}:6.7.0@sha256:abc`).slice(0, 32));
    expect(await traceOf({ 'oci-digest': 'sha256:abc', revision: 'r1' })).toBe(sha256(`${ALERT.uid}:r1`).slice(0, 32));
    expect(await traceOf({})).toBe(sha256(`${ALERT.uid}:unknown`).slice(0, 32));
  });

  it('HelmRepository events are not sent', async () => {
    const event = kustomizationEvent({ involvedObject: { kind: 'HelmRepository', name: 'podinfo', namespace: 'flux-system' } });
    expect(await send(event)).toHaveLength(0);
  });

  it('an Alert without uid (manifests directory) gets a stable one from its namespace and name', async () => {
    const fromManifest = { namespace: 'flux-system', name: 'ops-traces', uid: '' };
    expect(alertUid(fromManifest)).toBe(alertUid({ ...fromManifest }));
    expect(alertUid(fromManifest)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(alertUid({ ...fromManifest, name: 'other' })).not.toBe(alertUid(fromManifest));
    const [req] = await send(kustomizationEvent(), config(), fromManifest);
    const resource = decodeTraceExport(req!.body).resource_spans[0]!.resource;
    expect(attrs(resource.attributes)).toContainEqual(['service.instance.id', alertUid(fromManifest)]);
  });
});

describe('otel adapter: authentication and failures', () => {
  it('the token (else the password) alone is a Bearer token; with username, Basic; an Authorization header from the Secret wins', async () => {
    await send(kustomizationEvent(), config({ password: 'otlp-t0ken-value' }));
    expect(receiver.requests[0]!.headers['authorization']).toBe('Bearer otlp-t0ken-value');
    await send(kustomizationEvent(), config({ token: 'otlp-t0ken-first', password: 'otlp-passw0rd' }));
    expect(receiver.requests.pop()!.headers['authorization']).toBe('Bearer otlp-t0ken-first');
    await send(kustomizationEvent(), config({ username: 'flux', password: 'otlp-passw0rd' }));
    expect(receiver.requests[1]!.headers['authorization']).toBe(`Basic ${Buffer.from('flux:otlp-passw0rd').toString('base64')}`);
    await send(kustomizationEvent(), config({ password: 'otlp-passw0rd', headers: { Authorization: 'ApiKey k3y' } }));
    expect(receiver.requests[2]!.headers['authorization']).toBe('ApiKey k3y');
  });

  it('a 503 is retryable, a 400 is not, and the token never shows', async () => {
    receiver.answer(503, 'overloaded for otlp-t0ken-value');
    const retry = await failureOf(send(kustomizationEvent(), config({ password: 'otlp-t0ken-value' })));
    expect(retry.retryable).toBe(true);
    expect(retry.message).not.toContain('otlp-t0ken-value');
    receiver.answer(400, 'bad span');
    const fatal = await failureOf(send(kustomizationEvent()));
    expect(fatal.retryable).toBe(false);
  });

  it('without the Alert of the notification nothing is sent, and that is not retried', async () => {
    const err = await failureOf(send(kustomizationEvent(), config(), null));
    expect(err.retryable).toBe(false);
    expect(receiver.requests).toHaveLength(0);
  });
});
