import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { IncomingWebhook } from '@slack/webhook';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { isSlackBotAddress, slack } from '../../providers/slack.js';
import type { ProviderConfig } from '../../providers/types.js';
import { problemOf, deliver, failureOf, REVISION, trickyEvent as tricky, useSink, addressProblem } from '../support/adapter-harness.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';
import { hasOpenssl, makeTestCa } from '../support/test-ca.js';
import { startTunnelTo } from '../support/tunnel.js';

const TOKEN = 'xoxb-1234-s3cret-bot-token';

/** The tricky event, with Slack's own mrkdwn in its message and summary. */
const trickyEvent = () =>
  tricky({
    message: '*Health check failed* for `apps`:\n> Deployment "web" in \'default\' — état <dégradé> & 日本語 ✅',
    metadata: { revision: REVISION, summary: 'Cluster "prod-eu" — _région_ Zürich\nsecond line' },
  });

const sink = useSink({ status: 200, headers: { 'content-type': 'text/plain' }, body: 'ok' });

function webhookConfig(overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  return testProviderConfig({ type: 'slack', address: `${sink().url}/services/T000/B000/XXXX`, channel: 'general', ...overrides });
}

function botConfig(overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  return testProviderConfig({ type: 'slack', address: `${sink().url}/api/chat.postMessage`, channel: '#flux', token: TOKEN, ...overrides });
}

const send = (event: FluxEvent, cfg: ProviderConfig) => deliver(slack, cfg, event);

const expectedAttachment = {
  fallback: 'kustomization/apps.flux-system: *Health check failed* for `apps`:',
  color: 'danger',
  author_name: 'kustomization/apps.flux-system',
  text: '*Health check failed* for `apps`:\n> Deployment "web" in \'default\' — état <dégradé> & 日本語 ✅',
  mrkdwn_in: ['text'],
  fields: [
    { title: 'revision', value: 'main@sha1:6f1d5e3c8a2b4f7e9d0c1b2a3f4e5d6c7b8a9f0e', short: false },
    { title: 'summary', value: 'Cluster "prod-eu" — _région_ Zürich\nsecond line', short: false },
  ],
};

describe('slack adapter: incoming webhook', () => {
  it('posts Flux attachment layout', async () => {
    await send(trickyEvent(), webhookConfig());

    expect(sink().requests).toHaveLength(1);
    const req = sink().requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/services/T000/B000/XXXX');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['authorization']).toBeUndefined();
    expect(req.body).toBe(
      JSON.stringify({
        channel: 'general',
        username: 'kustomize-controller',
        icon_url: '',
        icon_emoji: '',
        attachments: [expectedAttachment],
      }),
    );
  });

  it('uses spec.username, colour good for info, and an empty field list without metadata', async () => {
    await send(kustomizationEvent({ metadata: {} }), webhookConfig({ username: 'flux-bot', channel: '' }));
    expect(JSON.parse(sink().requests[0]!.body)).toEqual({
      channel: '',
      username: 'flux-bot',
      icon_url: '',
      icon_emoji: '',
      attachments: [
        {
          fallback: 'kustomization/apps.flux-system: Reconciliation finished in 1.2s, next run in 10m0s',
          color: 'good',
          author_name: 'kustomization/apps.flux-system',
          text: 'Reconciliation finished in 1.2s, next run in 10m0s',
          mrkdwn_in: ['text'],
          fields: [],
        },
      ],
    });
  });

  it('sends the token as a Bearer header when one is set', async () => {
    await send(trickyEvent(), webhookConfig({ token: TOKEN }));
    expect(sink().requests[0]!.headers['authorization']).toBe(`Bearer ${TOKEN}`);
  });

  it('does not read the answer of a webhook (it is plain text)', async () => {
    sink().respondWith(() => ({ status: 200, body: 'ok' }));
    await expect(send(trickyEvent(), webhookConfig())).resolves.toHaveLength(1);
  });

  it('classifies webhook failures: 5xx and 429 retryable, other 4xx not', async () => {
    sink().respondWith(() => ({ status: 503, body: 'service unavailable' }));
    const unavailable = await failureOf(send(trickyEvent(), webhookConfig()));
    expect(unavailable.retryable).toBe(true);

    sink().respondWith(() => ({ status: 429, headers: { 'retry-after': '7' }, body: 'rate limited' }));
    const limited = await failureOf(send(trickyEvent(), webhookConfig()));
    expect(limited.retryable).toBe(true);
    expect(limited.retryAfterMs).toBe(7000);

    sink().respondWith(() => ({ status: 404, body: 'no_team' }));
    const gone = await failureOf(send(trickyEvent(), webhookConfig()));
    expect(gone.retryable).toBe(false);
    expect(gone.status).toBe(404);
  });
});

describe('slack adapter: bot mode (chat.postMessage)', () => {
  it('posts the same payload with the bot token, and accepts ok: true', async () => {
    sink().respondWith(() => ({ status: 200, body: '{"ok":true,"channel":"C123","ts":"1.2"}' }));
    await send(trickyEvent(), botConfig());

    const req = sink().requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/api/chat.postMessage');
    expect(req.headers['authorization']).toBe(`Bearer ${TOKEN}`);
    expect(req.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req.body)).toEqual({
      channel: '#flux',
      username: 'kustomize-controller',
      icon_url: '',
      icon_emoji: '',
      attachments: [expectedAttachment],
    });
  });

  it('treats ok: false as a non-retryable failure, with the token masked', async () => {
    sink().respondWith(() => ({ status: 200, body: '{"ok":false,"error":"channel_not_found"}' }));
    const err = await failureOf(send(trickyEvent(), botConfig()));
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('channel_not_found');
    expect(err.message).not.toContain(TOKEN);
  });

  it('retries ok: false when Slack says it is rate limited, honouring Retry-After', async () => {
    sink().respondWith(() => ({ status: 200, headers: { 'retry-after': '30' }, body: '{"ok":false,"error":"ratelimited"}' }));
    const err = await failureOf(send(trickyEvent(), botConfig()));
    expect(err.retryable).toBe(true);
    expect(err.retryAfterMs).toBe(30_000);
  });

  it('fails without retry when the answer is not JSON', async () => {
    sink().respondWith(() => ({ status: 200, body: '<html>proxy page</html>' }));
    const err = await failureOf(send(trickyEvent(), botConfig()));
    expect(err.retryable).toBe(false);
  });

  it('recognises the Web API address, and only that, as bot mode', () => {
    expect(isSlackBotAddress('https://slack.com/api/chat.postMessage')).toBe(true);
    expect(isSlackBotAddress('http://127.0.0.1:9999/api/chat.postMessage')).toBe(true);
    expect(isSlackBotAddress('https://hooks.slack.com/services/T/B/X')).toBe(false);
    expect(isSlackBotAddress('not a url')).toBe(false);
  });
});

describe('slack adapter: prepare', () => {
  it('accepts webhook and bot configurations', () => {
    expect(problemOf(slack, webhookConfig())).toBeUndefined();
    expect(problemOf(slack, botConfig())).toBeUndefined();
  });

  it('names the bad field', () => {
    expect(addressProblem('slack', 'hooks.slack.com/no-scheme')).toMatch(/spec\.address/);
    expect(problemOf(slack, botConfig({ token: undefined }))).toMatch(/token/);
    expect(problemOf(slack, botConfig({ channel: '' }))).toMatch(/spec\.channel/);
  });
});

/**
 * The incoming webhook is sent by @slack/webhook's IncomingWebhook with the shared HTTP layer
 * as its fetch: every guarantee of the layer must still hold on this path.
 */
describe('slack adapter: the incoming webhook goes through @slack/webhook and the shared HTTP layer', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('sends with IncomingWebhook, once, the package retrying nothing itself', async () => {
    const sent = vi.spyOn(IncomingWebhook.prototype, 'send');
    sink().respondWith(() => ({ status: 503, body: 'down' }));
    await failureOf(send(trickyEvent(), webhookConfig()));
    expect(sent).toHaveBeenCalledTimes(1);
    expect(sink().requests).toHaveLength(1);
  });

  it('keeps the Secret headers: a Content-Type or User-Agent set there wins, the package adds none of its own', async () => {
    await send(trickyEvent(), webhookConfig({ headers: { 'Content-Type': 'application/json; charset=utf-8', 'User-Agent': 'team-bot' } }));
    const req = sink().requests[0]!;
    expect(req.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(req.headers['user-agent']).toBe('team-bot');
    await send(trickyEvent(), webhookConfig());
    expect(String(sink().requests[1]!.headers['user-agent'] ?? '')).not.toMatch(/slack/i);
  });

  it("times out a hanging webhook at the Provider's timeout, as retryable", async () => {
    sink().respondWith(() => undefined);
    const started = Date.now();
    const err = await failureOf(send(trickyEvent(), webhookConfig({ timeoutMs: 300 })));
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/time/i);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('reads a bounded answer: a 2xx longer than 64 KiB is not counted as delivered', async () => {
    sink().respondWith(() => ({ status: 200, body: 'x'.repeat(200 * 1024) }));
    const err = await failureOf(send(trickyEvent(), webhookConfig()));
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/more than/);
  });

  it('masks the token and names only the origin, never the webhook path (itself a secret)', async () => {
    sink().respondWith(() => ({ status: 500, body: `token ${TOKEN} rejected` }));
    const err = await failureOf(send(trickyEvent(), webhookConfig({ token: TOKEN })));
    expect(err.message).not.toContain(TOKEN);
    expect(err.message).not.toContain('B000/XXXX');
    expect(err.retryable).toBe(true);
    expect(err.status).toBe(500);
  });

  it('goes through the configured proxy', async () => {
    const tunnel = await startTunnelTo(sink().port);
    try {
      await send(trickyEvent(), webhookConfig({ address: 'http://hooks.slack.example/services/T000/B000/XXXX', proxy: tunnel.url }));
      expect(tunnel.connects).toBe(1);
      expect(sink().requests[0]!.headers['host']).toBe('hooks.slack.example');
    } finally {
      await tunnel.close();
    }
  });

  it.skipIf(!hasOpenssl)("trusts the Provider's CA and presents its client certificate (mTLS)", async () => {
    const ca = await makeTestCa();
    const clients: string[] = [];
    const server = createHttpsServer(
      { cert: ca.pem.serverCert, key: ca.pem.serverKey, ca: ca.pem.ca, requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        clients.push(String((req.socket as TLSSocket).getPeerCertificate().subject.CN));
        req.resume().on('end', () => res.writeHead(200).end('ok'));
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const address = `https://127.0.0.1:${(server.address() as AddressInfo).port}/services/T000/B000/XXXX`;
      const tls = { ca: ca.pem.ca, cert: ca.pem.clientCert, key: ca.pem.clientKey };
      await deliver(slack, webhookConfig({ address, tls }), trickyEvent());
      expect(clients).toEqual(['herald']);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
