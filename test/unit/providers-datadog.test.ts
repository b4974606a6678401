import { describe, expect, it } from 'vitest';
import { datadog, datadogEventsUrl } from '../../providers/datadog.js';
import { problemOf, deliver, goJson, REVISION, TRICKY_MESSAGE, trickyEvent, useSink } from '../support/adapter-harness.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';

const sink = useSink();

describe('datadog', () => {
  it('posts a v1 event to <host>/api/v1/events with DD-API-KEY and lower-cased tags', async () => {
    const config = testProviderConfig({ type: 'datadog', address: `${sink().url}/ignored/path`, token: 'dd-api-key-123' });
    const [req, ...more] = await deliver(datadog, config, trickyEvent());
    expect(more).toHaveLength(0);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/api/v1/events');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers.accept).toBe('application/json');
    expect(req?.headers['dd-api-key']).toBe('dd-api-key-123');
    expect(req?.headers.authorization).toBeUndefined();
    expect(req?.body).toBe(
      goJson({
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
        text: TRICKY_MESSAGE,
        title: 'Events from the Kustomization apps/flux-system',
      }),
    );
  });

  it('uses only scheme and host of the address; info events are alert_type info', async () => {
    expect(datadogEventsUrl('https://api.datadoghq.eu/some/path?x=1')).toBe('https://api.datadoghq.eu/api/v1/events');
    const config = testProviderConfig({ type: 'datadog', address: sink().url, token: 'dd-api-key-123' });
    const [req] = await deliver(datadog, config, kustomizationEvent());
    expect(JSON.parse(req?.body ?? '').alert_type).toBe('info');
  });

  it('requires the API key', () => {
    expect(problemOf(datadog, testProviderConfig({ type: 'datadog', address: 'https://api.datadoghq.com' }))).toMatch(/`token`/);
  });
});
