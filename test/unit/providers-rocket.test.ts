import { describe, expect, it } from 'vitest';
import { rocket } from '../../providers/rocket.js';
import { deliver, goJson, REVISION, TRICKY_MESSAGE, trickyEvent, useSink } from '../support/adapter-harness.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';

const sink = useSink();

describe('rocket', () => {
  it('posts a Slack attachment message with Rocket colours, channel and username', async () => {
    const config = testProviderConfig({ type: 'rocket', address: `${sink().url}/hooks/abc/xyz`, channel: '#flux', username: 'flux' });
    const [req, ...more] = await deliver(rocket, config, trickyEvent());
    expect(more).toHaveLength(0);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/hooks/abc/xyz');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.body).toBe(
      goJson({
        channel: '#flux',
        username: 'flux',
        icon_url: '',
        icon_emoji: '',
        attachments: [
          {
            color: '#FF0000',
            author_name: 'kustomization/apps.flux-system',
            text: TRICKY_MESSAGE,
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
    const config = testProviderConfig({ type: 'rocket', address: `${sink().url}/hooks/abc` });
    const [req] = await deliver(rocket, config, kustomizationEvent());
    const body = JSON.parse(req?.body ?? '');
    expect(body.channel).toBe('');
    expect(body.username).toBe('');
    expect(body.attachments[0].color).toBe('#0076D7');
    expect(body.attachments[0].fields).toEqual([{ title: 'kustomize.toolkit.fluxcd.io/revision', value: REVISION, short: false }]);
  });
});
