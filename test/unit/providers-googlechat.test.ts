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
import { googlechat } from '../../providers/googlechat.js';

describe('googlechat', () => {
  it('posts a cards v1 message: red message for errors, one key/value widget per metadata key', async () => {
    const config = testProviderConfig({ type: 'googlechat', address: `${sink.url}/v1/spaces/AAA/messages?key=k&token=t` });
    const [req, ...more] = await deliver(googlechat, config, tricky);
    expect(more).toHaveLength(0);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/v1/spaces/AAA/messages?key=k&token=t');
    expect(req?.headers['content-type']).toBe('application/json');
    const kv = (topLabel: string, content: string) => ({
      textParagraph: null,
      keyValue: { topLabel, content, contentMultiline: false, bottomLabel: null, icon: null },
    });
    expect(req?.body).toBe(
      go({
        cards: [
          {
            header: { title: 'kustomization/apps.flux-system', subtitle: 'kustomize-controller', imageUrl: null, imageStyle: null },
            sections: [
              { header: '', widgets: [{ textParagraph: { text: `<font color="#ff0000">${MESSAGE}</font>` }, keyValue: null }] },
              {
                header: '',
                widgets: [
                  kv('env', 'prod\nblue_green'),
                  kv('owner.team', 'Équipe (ops) #1'),
                  kv('revision', REVISION),
                  kv('summary', 'Cluster "prod-eu" *critical*'),
                ],
              },
            ],
          },
        ],
      }),
    );
  });

  it('sends the plain message for info and no metadata section without metadata', async () => {
    const config = testProviderConfig({ type: 'googlechat', address: `${sink.url}/v1/spaces/AAA/messages` });
    const [req] = await deliver(googlechat, config, kustomizationEvent({ metadata: {} }));
    const body = JSON.parse(req?.body ?? '');
    expect(body.cards[0].sections).toEqual([
      { header: '', widgets: [{ textParagraph: { text: 'Reconciliation finished in 1.2s, next run in 10m0s' }, keyValue: null }] },
    ]);
  });
});
