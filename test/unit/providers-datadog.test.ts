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
import { datadog, datadogEventsUrl } from '../../providers/datadog.js';

describe('datadog', () => {
  it('posts a v1 event to <host>/api/v1/events with DD-API-KEY and lower-cased tags', async () => {
    const config = testProviderConfig({ type: 'datadog', address: `${sink.url}/ignored/path`, token: 'dd-api-key-123' });
    const [req, ...more] = await deliver(datadog, config, tricky);
    expect(more).toHaveLength(0);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/api/v1/events');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers.accept).toBe('application/json');
    expect(req?.headers['dd-api-key']).toBe('dd-api-key-123');
    expect(req?.headers.authorization).toBeUndefined();
    expect(req?.body).toBe(
      go({
        alert_type: 'error',
        date_happened: Date.parse('2026-11-24T09:00:00Z') / 1000,
        source_type_name: 'fluxcd',
        tags: [
          'flux_reporting_controller:kustomize-controller',
          'flux_reason:healthcheckfailed',
          'kube_kind:kustomization',
          'kube_name:apps',
          'kube_namespace:flux-system',
          'env:prod\nblue_green',
          'owner.team:équipe (ops) #1',
          `revision:${REVISION}`,
          'summary:cluster "prod-eu" *critical*',
        ],
        text: MESSAGE,
        title: 'Events from the Kustomization apps/flux-system',
      }),
    );
  });

  it('uses only scheme and host of the address; info events are alert_type info', async () => {
    expect(datadogEventsUrl('https://api.datadoghq.eu/some/path?x=1')).toBe('https://api.datadoghq.eu/api/v1/events');
    const config = testProviderConfig({ type: 'datadog', address: sink.url, token: 'dd-api-key-123' });
    const [req] = await deliver(datadog, config, kustomizationEvent());
    expect(JSON.parse(req?.body ?? '').alert_type).toBe('info');
  });

  it('requires the API key', () => {
    expect(datadog.validate?.(testProviderConfig({ type: 'datadog', address: 'https://api.datadoghq.com' }))).toMatch(/`token`/);
  });
});
