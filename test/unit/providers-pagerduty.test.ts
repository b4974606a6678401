import { describe, expect, it } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { pagerduty } from '../../providers/pagerduty.js';
import type { ProviderConfig } from '../../providers/types.js';
import { problemOf, deliver, failureOf, REVISION, trickyEvent as tricky, useSink, addressProblem } from '../support/adapter-harness.js';
import { testProviderConfig } from '../support/provider-config.js';

const ROUTING_KEY = 'R0UT1NGK3YR0UT1NGK3YR0UT1NGK3Y00';
const UID = 'cc4d0095-e4b8-4f1b-9a5e-1b2c3d4e5f60';
const MESSAGE = '**Health check failed** for `apps`:\n> Deployment "web" in \'default\' — état <dégradé> & 日本語 ✅';
const METADATA = { revision: REVISION, summary: 'Cluster "prod-eu" — *région* Zürich\nsecond line' };

/** The tricky event with the message and metadata the golden payloads spell out. */
const trickyEvent = (overrides: Partial<FluxEvent> = {}) => tricky({ message: MESSAGE, metadata: METADATA, ...overrides });

const sink = useSink({ status: 202, body: '{"status":"success","message":"Event processed","dedup_key":"x"}' });

function config(overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  // The path and query of the address are ignored: only its scheme and host are used.
  return testProviderConfig({ type: 'pagerduty', address: `${sink().url}/ignored/path?x=1`, channel: ROUTING_KEY, ...overrides });
}

const send = (event: FluxEvent, cfg = config()) => deliver(pagerduty, cfg, event);

describe('pagerduty adapter: golden payloads', () => {
  it('triggers an incident for an error event', async () => {
    await send(trickyEvent());

    expect(sink().requests).toHaveLength(1);
    const req = sink().requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/v2/enqueue');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.body).toBe(
      JSON.stringify({
        routing_key: ROUTING_KEY,
        event_action: 'trigger',
        dedup_key: UID,
        payload: {
          summary: 'health check failed: kustomization/apps',
          source: 'Flux kustomize-controller',
          severity: 'error',
          timestamp: '2026-11-24T09:00:00Z',
          component: 'apps',
          group: 'Kustomization',
          custom_details: { message: MESSAGE, metadata: METADATA },
        },
      }),
    );
  });

  it('resolves the incident and sends a change event for an info event', async () => {
    await send(trickyEvent({ severity: 'info', reason: 'ReconciliationSucceeded', timestamp: '2026-11-24T10:30:15.250+01:00' }));

    expect(sink().requests.map((r) => `${r.method} ${r.url}`)).toEqual(['POST /v2/enqueue', 'POST /v2/change/enqueue']);
    expect(sink().requests[0]!.body).toBe(JSON.stringify({ routing_key: ROUTING_KEY, event_action: 'resolve', dedup_key: UID }));
    expect(sink().requests[1]!.body).toBe(
      JSON.stringify({
        routing_key: ROUTING_KEY,
        payload: {
          summary: 'reconciliation succeeded: kustomization/apps',
          source: 'Flux kustomize-controller',
          timestamp: '2026-11-24T09:30:15Z',
          custom_details: { message: MESSAGE, metadata: METADATA },
        },
      }),
    );
  });

  it('resolves without a change event for a trace event', async () => {
    await send(trickyEvent({ severity: 'trace', reason: 'DependencyNotReady' }));
    expect(sink().requests.map((r) => r.url)).toEqual(['/v2/enqueue']);
    expect(JSON.parse(sink().requests[0]!.body)).toEqual({ routing_key: ROUTING_KEY, event_action: 'resolve', dedup_key: UID });
  });

  it('skips Progressing events and commit status updates: no request at all', async () => {
    await send(trickyEvent({ severity: 'info', reason: 'Progressing' }));
    await send(trickyEvent({ metadata: { ...METADATA, commit_status: 'update' } }));
    expect(sink().requests).toHaveLength(0);
  });
});

describe('pagerduty adapter: failures', () => {
  it('classifies 5xx as retryable, 429 as retryable with Retry-After, 400 as not', async () => {
    sink().respondWith(() => ({ status: 500, body: 'internal' }));
    const e500 = await failureOf(send(trickyEvent()));
    expect(e500.retryable).toBe(true);

    sink().respondWith(() => ({ status: 429, headers: { 'retry-after': '12' }, body: '{"status":"throttle event"}' }));
    const e429 = await failureOf(send(trickyEvent()));
    expect(e429.retryable).toBe(true);
    expect(e429.retryAfterMs).toBe(12_000);

    sink().respondWith(() => ({ status: 400, body: '{"status":"invalid event","errors":["Event object is invalid"]}' }));
    const e400 = await failureOf(send(trickyEvent()));
    expect(e400.retryable).toBe(false);
    expect(e400.status).toBe(400);
  });

  it('fails when the change event is refused after the alert event went through', async () => {
    sink().respondWith((req) => (req.url === '/v2/change/enqueue' ? { status: 503, body: '' } : { status: 202, body: '{}' }));
    const err = await failureOf(send(trickyEvent({ severity: 'info', reason: 'ReconciliationSucceeded' })));
    expect(err.retryable).toBe(true);
    expect(sink().requests).toHaveLength(2);
  });
});

describe('pagerduty adapter: validate', () => {
  it('names the bad field', () => {
    expect(problemOf(pagerduty, config())).toBeUndefined();
    expect(problemOf(pagerduty, config({ channel: '' }))).toMatch(/spec\.channel/);
    expect(addressProblem('pagerduty', 'events.pagerduty.com')).toMatch(/spec\.address/);
  });
});
