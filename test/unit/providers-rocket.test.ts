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
import { rocket } from '../../providers/rocket.js';

describe('rocket', () => {
  it('posts a Slack attachment message with Rocket colours, channel and username', async () => {
    const config = testProviderConfig({ type: 'rocket', address: `${sink.url}/hooks/abc/xyz`, channel: '#flux', username: 'flux' });
    const [req, ...more] = await deliver(rocket, config, tricky);
    expect(more).toHaveLength(0);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/hooks/abc/xyz');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.body).toBe(
      go({
        channel: '#flux',
        username: 'flux',
        icon_url: '',
        icon_emoji: '',
        attachments: [
          {
            color: '#FF0000',
            author_name: 'kustomization/apps.flux-system',
            text: MESSAGE,
            mrkdwn_in: ['text'],
            fields: [
              { title: 'env', value: 'prod\nblue_green', short: false },
              { title: 'owner.team', value: 'Équipe (ops) #1', short: false },
              { title: 'revision', value: REVISION, short: false },
              { title: 'summary', value: 'Cluster "prod-eu" *critical*', short: false },
            ],
          },
        ],
      }),
    );
  });

  it('uses #0076D7 for info and sends empty channel/username as Flux does (no default username)', async () => {
    const config = testProviderConfig({ type: 'rocket', address: `${sink.url}/hooks/abc` });
    const [req] = await deliver(rocket, config, kustomizationEvent());
    const body = JSON.parse(req?.body ?? '');
    expect(body.channel).toBe('');
    expect(body.username).toBe('');
    expect(body.attachments[0].color).toBe('#0076D7');
    expect(body.attachments[0].fields).toEqual([{ title: 'kustomize.toolkit.fluxcd.io/revision', value: REVISION, short: false }]);
  });
});
