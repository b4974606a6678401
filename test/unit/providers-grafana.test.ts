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
import { grafana } from '../../providers/grafana.js';

describe('grafana', () => {
  it('posts a Graphite-format annotation tagged flux, controller, metadata and object', async () => {
    const config = testProviderConfig({ type: 'grafana', address: `${sink.url}/api/annotations`, token: 'glsa_grafana' });
    const [req, ...more] = await deliver(grafana, config, tricky);
    expect(more).toHaveLength(0);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/api/annotations');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers.authorization).toBe('Bearer glsa_grafana');
    expect(req?.body).toBe(
      go({
        when: Date.parse('2026-11-24T09:00:00Z') / 1000,
        text: 'kustomization/apps.flux-system',
        tags: [
          'flux',
          'kustomize-controller',
          'env: prod\nblue_green',
          'owner.team: Équipe (ops) #1',
          'revision: main@sha1|6f1d5e3c8a2b4f7e9d0c1b2a3f4e5d6c7b8a9f0e',
          'summary: Cluster "prod-eu" *critical*',
          'kind: Kustomization',
          'name: apps',
          'namespace: flux-system',
        ],
      }),
    );
  });

  it('falls back to Basic auth when there is no token, and sends none without credentials', async () => {
    const address = `${sink.url}/api/annotations`;
    await deliver(grafana, testProviderConfig({ type: 'grafana', address, username: 'admin', password: 'grafana-pw' }), kustomizationEvent());
    await deliver(grafana, testProviderConfig({ type: 'grafana', address }), kustomizationEvent());
    expect(sink.requests[0]?.headers.authorization).toBe(`Basic ${Buffer.from('admin:grafana-pw').toString('base64')}`);
    expect(sink.requests[1]?.headers.authorization).toBeUndefined();
  });
});
