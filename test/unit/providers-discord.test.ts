import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { discord, discordSlackUrl } from '../../providers/discord.js';
import { createHttpClient } from '../../providers/http.js';
import type { ProviderConfig } from '../../providers/types.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';
import { startSink, type Sink } from '../support/sink.js';

/** JSON as Go's encoding/json writes it (HTML characters escaped). */
const go = (v: unknown) =>
  JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

const MESSAGE = 'Health check **failed** for "podinfo"\n> `deployment/podinfo` <not ready> & [docs](https://x.io/a_b)\nÜmlaut ünïcödé — 日本語 🚀';
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
const FIELDS = [
  { title: 'env', value: 'prod\nblue_green', short: false },
  { title: 'owner.team', value: 'Équipe (ops) #1', short: false },
  { title: 'revision', value: 'main@sha1:6f1d5e3c8a2b4f7e9d0c1b2a3f4e5d6c7b8a9f0e', short: false },
  { title: 'summary', value: 'Cluster "prod-eu" *critical*', short: false },
];

let sink: Sink;
beforeAll(async () => {
  sink = await startSink(() => ({ status: 204 }));
});
afterAll(() => sink.close());
beforeEach(() => {
  sink.requests.length = 0;
});

async function deliver(config: ProviderConfig, event: FluxEvent) {
  const http = createHttpClient(config);
  try {
    await discord.send(event, { config, http });
  } finally {
    await http.close();
  }
  return sink.requests;
}

describe('discord', () => {
  it('posts Flux\'s Slack-format payload to the webhook\'s /slack endpoint', async () => {
    const config = testProviderConfig({ type: 'discord', address: `${sink.url}/api/webhooks/1234/s3cr3t-hook` });
    const [req, ...more] = await deliver(config, tricky);
    expect(more).toHaveLength(0);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/api/webhooks/1234/s3cr3t-hook/slack');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.body).toBe(
      go({
        channel: '',
        username: 'kustomize-controller',
        icon_url: '',
        icon_emoji: '',
        attachments: [
          {
            color: 'danger',
            author_name: 'kustomization/apps.flux-system',
            text: MESSAGE,
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
    const config = testProviderConfig({ type: 'discord', address: `${sink.url}/api/webhooks/1/t/slack`, username: 'flux-bot' });
    const [req] = await deliver(config, kustomizationEvent({ metadata: {} }));
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
    expect(discord.validate).toBeUndefined();
    expect(discord.requiresAddress).not.toBe(false);
  });
});
