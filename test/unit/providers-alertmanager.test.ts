import { describe, expect, it } from 'vitest';
import { alertmanager, goTitleCase } from '../../providers/alertmanager.js';
import { deliver, goJson, REVISION, TRICKY_MESSAGE, trickyEvent, useSink } from '../support/adapter-harness.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';

const sink = useSink();

describe('alertmanager', () => {
  it('posts one firing alert: metadata as labels, summary moved to the annotations', async () => {
    const config = testProviderConfig({ type: 'alertmanager', address: `${sink().url}/api/v2/alerts/` });
    const [req, ...more] = await deliver(alertmanager, config, trickyEvent());
    expect(more).toHaveLength(0);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/api/v2/alerts/');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers.authorization).toBeUndefined();
    expect(req?.body).toBe(
      goJson([
        {
          status: 'firing',
          labels: {
            alertname: 'FluxKustomizationHealthcheckfailed',
            env: 'prod\nblue_green',
            kind: 'Kustomization',
            name: 'apps',
            namespace: 'flux-system',
            'owner.team': 'Équipe (ops) #1',
            reason: 'HealthCheckFailed',
            reportingcontroller: 'kustomize-controller',
            revision: REVISION,
            severity: 'error',
          },
          annotations: { message: TRICKY_MESSAGE, summary: 'Cluster "prod-eu" *critical*' },
          startsAt: '2026-11-24T09:00:00Z',
          endsAt: '0001-01-01T00:00:00Z',
        },
      ]),
    );
  });

  it('authenticates with Basic when username and password are set (it wins over a token), else Bearer', async () => {
    const address = `${sink().url}/api/v2/alerts`;
    await deliver(alertmanager, testProviderConfig({ type: 'alertmanager', address, username: 'am', password: 'pässword', token: 'am-token' }), kustomizationEvent());
    await deliver(alertmanager, testProviderConfig({ type: 'alertmanager', address, token: 'am-token' }), kustomizationEvent());
    expect(sink().requests[0]?.headers.authorization).toBe(`Basic ${Buffer.from('am:pässword').toString('base64')}`);
    expect(sink().requests[1]?.headers.authorization).toBe('Bearer am-token');
  });

  it('title-cases the reason as Go\'s cases.Title does, and writes timestamps as RFC 3339 UTC seconds', async () => {
    expect(goTitleCase('ReconciliationSucceeded')).toBe('Reconciliationsucceeded');
    expect(goTitleCase('health-check failed')).toBe('Health-Check Failed');
    expect(goTitleCase('')).toBe('');
    const config = testProviderConfig({ type: 'alertmanager', address: `${sink().url}/api/v2/alerts` });
    const [req] = await deliver(alertmanager, config, kustomizationEvent({ timestamp: '2026-11-24T11:30:15.250+02:00', metadata: {} }));
    const [alert] = JSON.parse(req?.body ?? '');
    expect(alert.startsAt).toBe('2026-11-24T09:30:15Z');
    expect(alert.labels.alertname).toBe('FluxKustomizationReconciliationsucceeded');
    expect(alert.annotations).toEqual({ message: 'Reconciliation finished in 1.2s, next run in 10m0s' });
  });
});
