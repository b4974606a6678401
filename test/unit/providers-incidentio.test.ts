import { describe, expect, it } from 'vitest';
import { incidentio } from '../../providers/incidentio.js';
import { problemOf, deliver, goJson, REVISION, TRICKY_MESSAGE, trickyEvent, useSink } from '../support/adapter-harness.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';

const sink = useSink();

describe('incidentio', () => {
  it('fires an alert event for errors, deduplicated by the involved object UID', async () => {
    const config = testProviderConfig({ type: 'incidentio', address: `${sink().url}/v2/alert_events/http/01HXYZ`, token: 'inc-api-token' });
    const [req, ...more] = await deliver(incidentio, config, trickyEvent());
    expect(more).toHaveLength(0);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/v2/alert_events/http/01HXYZ');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers.authorization).toBe('Bearer inc-api-token');
    expect(req?.body).toBe(
      goJson({
        title: 'kustomization/apps.flux-system: HealthCheckFailed',
        status: 'firing',
        deduplication_key: 'cc4d0095-e4b8-4f1b-9a5e-1b2c3d4e5f60',
        description: TRICKY_MESSAGE,
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
    const config = testProviderConfig({ type: 'incidentio', address: `${sink().url}/v2/alert_events/http/01HXYZ`, token: 'inc-api-token' });
    await deliver(incidentio, config, kustomizationEvent({ reason: 'Progressing', message: 'Reconciliation in progress' }));
    expect(sink().requests).toHaveLength(0);
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
    expect(problemOf(incidentio, testProviderConfig({ type: 'incidentio', address: 'https://api.incident.io/v2/alert_events/http/x' }))).toMatch(/`token`/);
  });
});
