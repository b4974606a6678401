import { describe, expect, it } from 'vitest';
import { lark } from '../../providers/lark.js';
import { deliver, goJson, REVISION, TRICKY_MESSAGE, trickyEvent, useSink } from '../support/adapter-harness.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';

const sink = useSink();

describe('lark', () => {
  it('posts an interactive card: red 🚨 header for errors, bold message then key: value lines', async () => {
    const config = testProviderConfig({ type: 'lark', address: `${sink().url}/open-apis/bot/v2/hook/xxxx` });
    const [req, ...more] = await deliver(lark, config, trickyEvent());
    expect(more).toHaveLength(0);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/open-apis/bot/v2/hook/xxxx');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.body).toBe(
      goJson({
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
                  `**${TRICKY_MESSAGE}**\n\n` +
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
    const config = testProviderConfig({ type: 'lark', address: `${sink().url}/hook` });
    const [req] = await deliver(lark, config, kustomizationEvent({ metadata: {} }));
    const body = JSON.parse(req?.body ?? '');
    expect(body.card.header).toEqual({ title: { tag: 'plain_text', content: '💫 kustomization/apps.flux-system' }, template: 'turquoise' });
    expect(body.card.elements[0].text.content).toBe('**Reconciliation finished in 1.2s, next run in 10m0s**\n\n');
  });
});
