import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { createHttpClient } from '../../providers/http.js';
import type { ProviderAdapter, ProviderConfig } from '../../providers/types.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';
import { startSink, type Sink } from '../support/sink.js';

/** JSON as Go's encoding/json writes it (HTML characters escaped). */
const go = (v: unknown) =>
  JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

const MESSAGE = 'Health check **failed** for "podinfo"\n> `deployment/podinfo` <not ready> & [docs](https://x.io/a_b)\nÜmlaut ünïcödé — 日本語 🚀';
/** An error event whose message and metadata carry markdown, quotes, newlines and non-ASCII text. */
const tricky: FluxEvent = kustomizationEvent({
  severity: 'error',
  reason: 'HealthCheckFailed',
  message: MESSAGE,
  metadata: {
    revision: 'main@sha1:6f1d5e3c8a2b4f7e9d0c1b2a3f4e5d6c7b8a9f0e',
    summary: 'Cluster "prod-eu" *critical*',
    env: 'prod\nblue_green',
    'owner.team': 'Équipe (ops) #1',
  },
});
const REVISION = 'main@sha1:6f1d5e3c8a2b4f7e9d0c1b2a3f4e5d6c7b8a9f0e';

let sink: Sink;
beforeAll(async () => {
  sink = await startSink(() => ({ status: 200, body: '{}' }));
});
afterAll(() => sink.close());
beforeEach(() => {
  sink.requests.length = 0;
});

async function deliver(adapter: ProviderAdapter, config: ProviderConfig, event: FluxEvent) {
  const http = createHttpClient(config);
  try {
    await adapter.send(event, { config, http });
  } finally {
    await http.close();
  }
  return sink.requests;
}
import { incidentio } from '../../providers/incidentio.js';

describe('incidentio', () => {
  it('fires an alert event for errors, deduplicated by the involved object UID', async () => {
    const config = testProviderConfig({ type: 'incidentio', address: `${sink.url}/v2/alert_events/http/01HXYZ`, token: 'inc-api-token' });
    const [req, ...more] = await deliver(incidentio, config, tricky);
    expect(more).toHaveLength(0);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/v2/alert_events/http/01HXYZ');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers.authorization).toBe('Bearer inc-api-token');
    expect(req?.body).toBe(
      go({
        title: 'kustomization/apps.flux-system: HealthCheckFailed',
        status: 'firing',
        deduplication_key: 'cc4d0095-e4b8-4f1b-9a5e-1b2c3d4e5f60',
        description: MESSAGE,
        metadata: {
          env: 'prod\nblue_green',
          'owner.team': 'Équipe (ops) #1',
          reason: 'HealthCheckFailed',
          reportingController: 'kustomize-controller',
          revision: REVISION,
          severity: 'error',
          summary: 'Cluster "prod-eu" *critical*',
        },
      }),
    );
  });

  it('resolves on info events and skips Progressing events', async () => {
    const config = testProviderConfig({ type: 'incidentio', address: `${sink.url}/v2/alert_events/http/01HXYZ`, token: 'inc-api-token' });
    await deliver(incidentio, config, kustomizationEvent({ reason: 'Progressing', message: 'Reconciliation in progress' }));
    expect(sink.requests).toHaveLength(0);
    const [req] = await deliver(incidentio, config, kustomizationEvent({ reportingController: undefined }));
    const body = JSON.parse(req?.body ?? '');
    expect(body.status).toBe('resolved');
    expect(body.metadata).toEqual({
      'kustomize.toolkit.fluxcd.io/revision': REVISION,
      reason: 'ReconciliationSucceeded',
      severity: 'info',
    });
  });

  it('requires the token', () => {
    expect(incidentio.validate?.(testProviderConfig({ type: 'incidentio', address: 'https://api.incident.io/v2/alert_events/http/x' }))).toMatch(/`token`/);
  });
});
