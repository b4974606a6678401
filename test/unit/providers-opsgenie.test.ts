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
import { opsgenie } from '../../providers/opsgenie.js';

describe('opsgenie', () => {
  it('creates an alert with a GenieKey header; details are the metadata plus severity', async () => {
    const config = testProviderConfig({ type: 'opsgenie', address: `${sink.url}/v2/alerts`, token: 'genie-api-key' });
    const [req, ...more] = await deliver(opsgenie, config, tricky);
    expect(more).toHaveLength(0);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/v2/alerts');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers.authorization).toBe('GenieKey genie-api-key');
    expect(req?.body).toBe(
      go({
        message: 'Kustomization/apps',
        description: MESSAGE,
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
    const config = testProviderConfig({ type: 'opsgenie', address: `${sink.url}/v2/alerts`, token: 'genie-api-key' });
    const [req] = await deliver(opsgenie, config, kustomizationEvent({ metadata: { '9': 'a', '10': 'b', Z: 'c' } }));
    expect(req?.body).toContain('"details":{"10":"b","9":"a","Z":"c","severity":"info"}');
  });

  it('requires the token', () => {
    expect(opsgenie.validate?.(testProviderConfig({ type: 'opsgenie', address: 'https://api.opsgenie.com/v2/alerts' }))).toMatch(/`token`/);
    expect(opsgenie.validate?.(testProviderConfig({ type: 'opsgenie', address: 'https://api.opsgenie.com/v2/alerts', token: 'k1234' }))).toBeUndefined();
  });
});
