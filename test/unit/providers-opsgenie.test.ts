import { describe, expect, it } from 'vitest';
import { opsgenie } from '../../providers/opsgenie.js';
import { problemOf, deliver, goJson, REVISION, TRICKY_MESSAGE, trickyEvent, useSink } from '../support/adapter-harness.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';

const sink = useSink();

describe('opsgenie', () => {
  it('creates an alert with a GenieKey header; details are the metadata plus severity', async () => {
    const config = testProviderConfig({ type: 'opsgenie', address: `${sink().url}/v2/alerts`, token: 'genie-api-key' });
    const [req, ...more] = await deliver(opsgenie, config, trickyEvent());
    expect(more).toHaveLength(0);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/v2/alerts');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers.authorization).toBe('GenieKey genie-api-key');
    expect(req?.body).toBe(
      goJson({
        message: 'Kustomization/apps',
        // sha256('0c9c2e41-d2f9-4f9b-9c41-2e0a8e1a6c11/Kustomization/flux-system/apps/HealthCheckFailed')
        alias: '1e1e276586ea41ae3f5b453eb06b96bdc476989f97ae28b923e52687deb717ac',
        description: TRICKY_MESSAGE,
        details: {
          env: 'prod\nblue_green',
          'owner.team': 'Équipe (ops) #1',
          revision: REVISION,
          severity: 'error',
          summary: 'Cluster "prod-eu" *critical*',
        },
      }),
    );
  });

  it('sorts detail keys as Go does, numeric-looking keys included', async () => {
    const config = testProviderConfig({ type: 'opsgenie', address: `${sink().url}/v2/alerts`, token: 'genie-api-key' });
    const [req] = await deliver(opsgenie, config, kustomizationEvent({ metadata: { '9': 'a', '10': 'b', Z: 'c' } }));
    expect(req?.body).toContain('"details":{"10":"b","9":"a","Z":"c","severity":"info"}');
  });

  it('derives one alias per provider, object and reason', async () => {
    const config = testProviderConfig({ type: 'opsgenie', address: `${sink().url}/v2/alerts`, token: 'genie-api-key' });
    const aliasOf = async (event: ReturnType<typeof kustomizationEvent>, uid = config.uid) =>
      JSON.parse((await deliver(opsgenie, { ...config, uid }, event)).at(-1)!.body).alias as string;
    const first = await aliasOf(kustomizationEvent({ message: 'one' }));
    expect(await aliasOf(kustomizationEvent({ message: 'two' }))).toBe(first);
    expect(await aliasOf(kustomizationEvent({ reason: 'Other' }))).not.toBe(first);
    expect(await aliasOf(kustomizationEvent({ message: 'one' }), 'another-cluster-uid')).not.toBe(first);
  });

  it('requires the token', () => {
    expect(problemOf(opsgenie, testProviderConfig({ type: 'opsgenie', address: 'https://api.opsgenie.com/v2/alerts' }))).toMatch(/`token`/);
    expect(problemOf(opsgenie, testProviderConfig({ type: 'opsgenie', address: 'https://api.opsgenie.com/v2/alerts', token: 'k1234' }))).toBeUndefined();
  });
});
