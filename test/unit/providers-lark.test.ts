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
import { lark } from '../../providers/lark.js';

describe('lark', () => {
  it('posts an interactive card: red 🚨 header for errors, bold message then key: value lines', async () => {
    const config = testProviderConfig({ type: 'lark', address: `${sink.url}/open-apis/bot/v2/hook/xxxx` });
    const [req, ...more] = await deliver(lark, config, tricky);
    expect(more).toHaveLength(0);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/open-apis/bot/v2/hook/xxxx');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.body).toBe(
      go({
        msg_type: 'interactive',
        card: {
          config: { wide_screen_mode: true },
          header: { title: { tag: 'plain_text', content: '🚨 kustomization/apps.flux-system' }, template: 'red' },
          elements: [
            {
              tag: 'div',
              text: {
                tag: 'lark_md',
                content:
                  `**${MESSAGE}**\n\n` +
                  'env: prod\nblue_green\n' +
                  'owner.team: Équipe (ops) #1\n' +
                  `revision: ${REVISION}\n` +
                  'summary: Cluster "prod-eu" *critical*\n',
              },
            },
          ],
        },
      }),
    );
  });

  it('uses 💫 and turquoise for info events', async () => {
    const config = testProviderConfig({ type: 'lark', address: `${sink.url}/hook` });
    const [req] = await deliver(lark, config, kustomizationEvent({ metadata: {} }));
    const body = JSON.parse(req?.body ?? '');
    expect(body.card.header).toEqual({ title: { tag: 'plain_text', content: '💫 kustomization/apps.flux-system' }, template: 'turquoise' });
    expect(body.card.elements[0].text.content).toBe('**Reconciliation finished in 1.2s, next run in 10m0s**\n\n');
  });
});
