import { describe, expect, it } from 'vitest';
import { discord, discordSlackUrl } from '../../providers/discord.js';
import { problemOf, deliver, goJson, REVISION, TRICKY_MESSAGE, trickyEvent, useSink } from '../support/adapter-harness.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';

const FIELDS = [
  { title: 'env', value: 'prod\nblue_green', short: false },
  { title: 'owner.team', value: 'Équipe (ops) #1', short: false },
  { title: 'revision', value: REVISION, short: false },
  { title: 'summary', value: 'Cluster "prod-eu" *critical*', short: false },
];

const sink = useSink({ status: 204 });

describe('discord', () => {
  it('posts Flux\'s Slack-format payload to the webhook\'s /slack endpoint', async () => {
    const config = testProviderConfig({ type: 'discord', address: `${sink().url}/api/webhooks/1234/s3cr3t-hook` });
    const [req, ...more] = await deliver(discord, config, trickyEvent());
    expect(more).toHaveLength(0);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/api/webhooks/1234/s3cr3t-hook/slack');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.body).toBe(
      goJson({
        channel: '',
        username: 'kustomize-controller',
        icon_url: '',
        icon_emoji: '',
        attachments: [
          {
            color: 'danger',
            author_name: 'kustomization/apps.flux-system',
            text: TRICKY_MESSAGE,
            mrkdwn_in: ['text'],
            fields: FIELDS,
          },
        ],
      }),
    );
    // Go escapes HTML characters inside strings.
    expect(req?.body).toContain('\\u003cnot ready\\u003e \\u0026');
  });

  it('keeps an address that already ends in /slack, uses spec.username and the info colour', async () => {
    const config = testProviderConfig({ type: 'discord', address: `${sink().url}/api/webhooks/1/t/slack`, username: 'flux-bot' });
    const [req] = await deliver(discord, config, kustomizationEvent({ metadata: {} }));
    expect(req?.url).toBe('/api/webhooks/1/t/slack');
    const body = JSON.parse(req?.body ?? '');
    expect(body.username).toBe('flux-bot');
    expect(body.attachments[0].color).toBe('good');
    expect(body.attachments[0].fields).toEqual([]);
  });

  it('builds the /slack URL like Flux (query kept, trailing slash folded)', () => {
    expect(discordSlackUrl('https://discord.com/api/webhooks/1/t')).toBe('https://discord.com/api/webhooks/1/t/slack');
    expect(discordSlackUrl('https://discord.com/api/webhooks/1/t/')).toBe('https://discord.com/api/webhooks/1/t/slack');
    expect(discordSlackUrl('https://discord.com/api/webhooks/1/t?wait=true')).toBe('https://discord.com/api/webhooks/1/t/slack?wait=true');
  });

  it('needs nothing but the address', () => {
    expect(problemOf(discord, testProviderConfig({ type: 'discord', address: 'https://discord.com/api/webhooks/1/t' }))).toBeUndefined();
    expect(discord.requiresAddress).not.toBe(false);
  });
});
