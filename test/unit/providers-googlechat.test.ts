import { describe, expect, it } from 'vitest';
import { googlechat } from '../../providers/googlechat.js';
import { deliver, goJson, REVISION, TRICKY_MESSAGE, trickyEvent, useSink } from '../support/adapter-harness.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';

const sink = useSink();

describe('googlechat', () => {
  it('posts a cards v1 message: red message for errors, one key/value widget per metadata key', async () => {
    const config = testProviderConfig({ type: 'googlechat', address: `${sink().url}/v1/spaces/AAA/messages?key=k&token=t` });
    const [req, ...more] = await deliver(googlechat, config, trickyEvent());
    expect(more).toHaveLength(0);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/v1/spaces/AAA/messages?key=k&token=t');
    expect(req?.headers['content-type']).toBe('application/json');
    const kv = (topLabel: string, content: string) => ({
      textParagraph: null,
      keyValue: { topLabel, content, contentMultiline: false, bottomLabel: null, icon: null },
    });
    expect(req?.body).toBe(
      goJson({
        cards: [
          {
            header: { title: 'kustomization/apps.flux-system', subtitle: 'kustomize-controller', imageUrl: null, imageStyle: null },
            sections: [
              { header: '', widgets: [{ textParagraph: { text: `<font color="#ff0000">${TRICKY_MESSAGE}</font>` }, keyValue: null }] },
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
    const config = testProviderConfig({ type: 'googlechat', address: `${sink().url}/v1/spaces/AAA/messages` });
    const [req] = await deliver(googlechat, config, kustomizationEvent({ metadata: {} }));
    const body = JSON.parse(req?.body ?? '');
    expect(body.cards[0].sections).toEqual([
      { header: '', widgets: [{ textParagraph: { text: 'Reconciliation finished in 1.2s, next run in 10m0s' }, keyValue: null }] },
    ]);
  });
});
