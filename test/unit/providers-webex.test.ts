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
import { webex } from '../../providers/webex.js';

describe('webex', () => {
  it('posts markdown to the room with the bot token as a Bearer header', async () => {
    const config = testProviderConfig({ type: 'webex', address: `${sink.url}/v1/messages`, channel: 'Y2lzY29zcGFyazovL3Vz', token: 'webex-bot-token' });
    const [req, ...more] = await deliver(webex, config, tricky);
    expect(more).toHaveLength(0);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/v1/messages');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers.authorization).toBe('Bearer webex-bot-token');
    expect(req?.body).toBe(
      go({
        roomId: 'Y2lzY29zcGFyazovL3Vz',
        markdown:
          `💣 **kustomization/apps.flux-system**\n${MESSAGE}\n` +
          '>**env**: prod\nblue_green\n' +
          '>**owner.team**: Équipe (ops) #1\n' +
          `>**revision**: ${REVISION}\n` +
          '>**summary**: Cluster "prod-eu" *critical*\n',
      }),
    );
  });

  it('uses ✅ for info events', async () => {
    const config = testProviderConfig({ type: 'webex', address: `${sink.url}/v1/messages`, channel: 'room', token: 'webex-bot-token' });
    const [req] = await deliver(webex, config, kustomizationEvent({ metadata: {} }));
    expect(JSON.parse(req?.body ?? '').markdown).toBe('✅ **kustomization/apps.flux-system**\nReconciliation finished in 1.2s, next run in 10m0s\n');
  });

  it('requires the room (spec.channel) and the token', () => {
    expect(webex.validate?.(testProviderConfig({ type: 'webex', address: 'https://webexapis.com/v1/messages', token: 'tok1' }))).toMatch(/spec\.channel/);
    expect(webex.validate?.(testProviderConfig({ type: 'webex', address: 'https://webexapis.com/v1/messages', channel: 'room' }))).toMatch(/`token`/);
    expect(webex.validate?.(testProviderConfig({ type: 'webex', address: 'https://webexapis.com/v1/messages', channel: 'room', token: 'tok1' }))).toBeUndefined();
  });
});
