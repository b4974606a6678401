import { describe, expect, it } from 'vitest';
import { grafana } from '../../providers/grafana.js';
import { deliver, goJson, trickyEvent, useSink } from '../support/adapter-harness.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';

const sink = useSink();

describe('grafana', () => {
  it('posts a Graphite-format annotation tagged flux, controller, metadata and object', async () => {
    const config = testProviderConfig({ type: 'grafana', address: `${sink().url}/api/annotations`, token: 'glsa_grafana' });
    const [req, ...more] = await deliver(grafana, config, trickyEvent());
    expect(more).toHaveLength(0);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/api/annotations');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers.authorization).toBe('Bearer glsa_grafana');
    expect(req?.body).toBe(
      goJson({
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
    const address = `${sink().url}/api/annotations`;
    await deliver(grafana, testProviderConfig({ type: 'grafana', address, username: 'admin', password: 'grafana-pw' }), kustomizationEvent());
    await deliver(grafana, testProviderConfig({ type: 'grafana', address }), kustomizationEvent());
    expect(sink().requests[0]?.headers.authorization).toBe(`Basic ${Buffer.from('admin:grafana-pw').toString('base64')}`);
    expect(sink().requests[1]?.headers.authorization).toBeUndefined();
  });
});
