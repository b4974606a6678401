import { describe, expect, it } from 'vitest';
import { alertmanager } from '../../providers/alertmanager.js';
import { datadog } from '../../providers/datadog.js';
import { discord } from '../../providers/discord.js';
import { githubdispatch } from '../../providers/githubdispatch.js';
import { googlechat } from '../../providers/googlechat.js';
import { grafana } from '../../providers/grafana.js';
import { incidentio } from '../../providers/incidentio.js';
import { lark } from '../../providers/lark.js';
import { matrix } from '../../providers/matrix.js';
import { opsgenie } from '../../providers/opsgenie.js';
import { rocket } from '../../providers/rocket.js';
import { sentry } from '../../providers/sentry.js';
import { escapeMarkdownV2, telegram, telegramApiBase } from '../../providers/telegram.js';
import type { ProviderAdapter, ProviderConfig } from '../../providers/types.js';
import { webex } from '../../providers/webex.js';
import { zulip } from '../../providers/zulip.js';
import { problemOf, deliver, failureOf, goJson, trickyEvent, useSink } from '../support/adapter-harness.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';

const sink = useSink();

const TOKEN = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';

describe('telegram', () => {
  it('calls sendMessage with a MarkdownV2 text, every special character escaped', async () => {
    const config = testProviderConfig({ type: 'telegram', address: sink().url, channel: '-1001234567890', token: TOKEN });
    const [req, ...more] = await deliver(telegram, config, trickyEvent());
    expect(more).toHaveLength(0);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe(`/bot${TOKEN}/sendMessage`);
    expect(req?.headers['content-type']).toBe('application/json');
    const text = [
      String.raw`*🚨 kustomization/apps/flux\-system*`,
      String.raw`Health check \*\*failed\*\* for "podinfo"`,
      String.raw`\> \`deployment/podinfo\` <not ready\> & \[docs\]\(https://x\.io/a\_b\)`,
      'Ümlaut ünïcödé — 日本語 🚀',
      String.raw`\- *env*: prod`,
      String.raw`blue\_green`,
      String.raw`\- *owner\.team*: Équipe \(ops\) \#1`,
      String.raw`\- *revision*: main@sha1:6f1d5e3c8a2b4f7e9d0c1b2a3f4e5d6c7b8a9f0e`,
      String.raw`\- *summary*: Cluster "prod\-eu" \*critical\*`,
      '',
    ].join('\n');
    expect(req?.body).toBe(goJson({ chat_id: '-1001234567890', text, parse_mode: 'MarkdownV2' }));
  });

  it('matches Flux\'s own expectation for its test event', async () => {
    const config = testProviderConfig({ type: 'telegram', address: sink().url, channel: 'channel:thread', token: TOKEN });
    const event = kustomizationEvent({
      involvedObject: { kind: 'GitRepository', name: 'webapp', namespace: 'gitops-system' },
      message: 'message',
      metadata: { test: 'metadata', 'kubernetes.io/somekey': 'some.value' },
    });
    const [req] = await deliver(telegram, config, event);
    expect(JSON.parse(req?.body ?? '')).toEqual({
      chat_id: 'channel',
      message_thread_id: 'thread',
      text: '*💫 gitrepository/webapp/gitops\\-system*\nmessage\n\\- *kubernetes\\.io/somekey*: some\\.value\n\\- *test*: metadata\n',
      parse_mode: 'MarkdownV2',
    });
  });

  it('uses api.telegram.org unless the address is an http(s) URL', () => {
    expect(telegramApiBase(testProviderConfig({ type: 'telegram' }))).toBe('https://api.telegram.org');
    expect(telegramApiBase(testProviderConfig({ type: 'telegram', address: 'https://api.telegram.org/' }))).toBe('https://api.telegram.org');
    expect(telegramApiBase(testProviderConfig({ type: 'telegram', address: 'telegram://x' }))).toBe('https://api.telegram.org');
    expect(telegram.requiresAddress).toBe(false);
  });

  it('escapes backslashes once and before everything else', () => {
    expect(escapeMarkdownV2('a\\b.c')).toBe('a\\\\b\\.c');
  });

  it('requires spec.channel and the token', () => {
    expect(problemOf(telegram, testProviderConfig({ type: 'telegram', token: TOKEN }))).toMatch(/spec\.channel/);
    expect(problemOf(telegram, testProviderConfig({ type: 'telegram', channel: '@flux' }))).toMatch(/`token`/);
    expect(problemOf(telegram, testProviderConfig({ type: 'telegram', channel: '@flux', token: TOKEN }))).toBeUndefined();
  });

  it('never puts the token (which travels in the URL) into an error message', async () => {
    sink().respondWith((r) => ({ status: 400, body: `{"ok":false,"description":"Bad Request: chat not found for ${r.url}"}` }));
    const config = testProviderConfig({ type: 'telegram', address: sink().url, channel: '@nobody', token: TOKEN });
    const error = await failureOf(deliver(telegram, config, trickyEvent()));
    expect(error.message).toContain('chat not found');
    expect(error.message).not.toContain(TOKEN);
    expect(error.message).toContain('*****');
  });
});

describe('every adapter in this group: failures are classified by the shared HTTP layer', () => {
  const cases: Array<[ProviderAdapter, () => Partial<ProviderConfig>]> = [
    [discord, () => ({ address: `${sink().url}/hook` })],
    [rocket, () => ({ address: `${sink().url}/hook` })],
    [googlechat, () => ({ address: `${sink().url}/hook` })],
    [webex, () => ({ address: `${sink().url}/v1/messages`, channel: 'room', token: 'tok-webex' })],
    [telegram, () => ({ address: sink().url, channel: '@c', token: TOKEN })],
    [lark, () => ({ address: `${sink().url}/hook` })],
    [matrix, () => ({ address: sink().url, channel: '!room:example.org', token: 'tok-matrix' })],
    [opsgenie, () => ({ address: `${sink().url}/v2/alerts`, token: 'tok-opsgenie' })],
    [alertmanager, () => ({ address: `${sink().url}/api/v2/alerts` })],
    [grafana, () => ({ address: `${sink().url}/api/annotations` })],
    [datadog, () => ({ address: sink().url, token: 'tok-datadog' })],
    [zulip, () => ({ address: sink().url, channel: 'general/flux' })],
    [incidentio, () => ({ address: `${sink().url}/v2/alert_events/http/abc`, token: 'tok-incident' })],
    [githubdispatch, () => ({ address: `${sink().url}/org/repo`, token: 'tok-github' })],
    [sentry, () => ({ address: `${sink().url.replace('://', '://publickey@')}/42` })],
  ];

  it.each(cases.map(([adapter, overrides]) => [adapter.type, adapter, overrides] as const))(
    '%s: 500 is retryable, 400 is not',
    async (type, adapter, overrides) => {
      const config = testProviderConfig({ type, ...overrides() });
      expect(problemOf(adapter, config)).toBeUndefined();
      for (const [status, retryable] of [
        [500, true],
        [400, false],
      ] as const) {
        sink().respondWith(() => ({ status, body: 'nope' }));
        const error = await failureOf(deliver(adapter, config, kustomizationEvent()));
        expect(error.retryable).toBe(retryable);
        expect(error.status).toBe(status);
      }
    },
  );
});
