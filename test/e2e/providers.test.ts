/**
 * Every provider adapter end to end: ONE Herald process (in-process queue) and ONE local sink
 * for the whole file. One Provider per supported type (plus Slack's bot mode) points at the
 * sink; one Alert per Provider selects the Kustomization named after it, so each POSTed event
 * routes to exactly one Provider. Then, per type: the event was accepted (202), and the sink got
 * exactly the requests the adapter makes (method + path), with one distinctive body field.
 *
 * Chat and incident types get an event whose message and metadata carry markdown, quotes,
 * newlines and non-ASCII text, checked intact wherever the payload carries the message
 * verbatim. Commit-status types get a `commit_status: update` event with a commit revision, as
 * kustomize-controller sends it; the sink answers their status look-ups with "none yet".
 *
 * Change-request comment types get an event annotated with the pull request number, and also
 * the same event without it, which must be dropped; the sink answers `GET /user` with an
 * account and the comment look-ups with "none yet". One `github` Provider authenticates as a
 * GitHub App (the sink answers the token exchange). `nats` publishes to the NATS server on
 * 127.0.0.1:4222, where the test subscribes; `azureeventhub` sends through Microsoft's SDK to
 * an AMQP stand-in for an Event Hubs namespace (test/support/event-hubs-stand-in.ts), and
 * `googlepubsub` through Google's SDK to a gRPC stand-in for the Pub/Sub API, which Herald
 * reaches as Flux reaches the emulator, by PUBSUB_EMULATOR_HOST; `otel`'s protobuf is checked for the Alert's and
 * the object's names (providers-otel.test.ts decodes it whole).
 *
 * Not covered here: msteams' legacy MessageCard variant, chosen only for `*.webhook.office.com`
 * hosts, which cannot be a loopback sink without a proxy (providers-msteams.test.ts covers it).
 */
import { createHmac, generateKeyPairSync, randomUUID } from 'node:crypto';
import { connect, type NatsConnection, type Subscription } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { supportedTypes } from '../../providers/registry.js';
import { SHA, TRICKY_MESSAGE } from '../support/adapter-harness.js';
import { kustomizationEvent } from '../support/events.js';
import { startHerald, type HeraldProcess } from '../support/herald.js';
import { startSink, type ReceivedRequest, type Sink, type SinkReply } from '../support/sink.js';
import { fluxEventJson } from '../../src/events/wire.js';
import { startEventHubsStandIn, type EventHubsStandIn } from '../support/event-hubs-stand-in.js';
import { startPubSubStandIn, type PubSubStandIn } from '../support/pubsub-stand-in.js';
import { alertForKustomization, provider, secret } from './manifests.js';

const REVISION = `main@sha1:${SHA}`;
const OWNER_NOTE = 'Équipe "ops" — 日本語\n**on call** <b>&</b>';
const PROVIDER_UID = '7a3f09c2-5b1e-4c7d-9e8f-0a1b2c3d4e5f';
const UID_HEAD = '7a3f09c2';
const HMAC_KEY = 'e2e-hmac-key-5f2a';
const CHANGE_REQUEST = '17';
const APP_PRIVATE_KEY = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const APP_TOKEN = 'ghs_e2eInstallationToken';
const NATS_SUBJECT = `herald.e2e.${randomUUID()}`;

/**
 * How one case's event looks: chat (tricky text, info), commit status update, an error, or a
 * chat event annotated with a change request (the same event is also sent without it).
 */
type EventKind = 'chat' | 'commit' | 'error' | 'changeRequest';

interface Expected {
  method: string;
  /** Path and query string, exactly, or a pattern for the parts a test cannot know (a hash). */
  path: string | RegExp;
}

interface Case {
  /** Provider, Alert and Kustomization name. */
  name: string;
  type: string;
  address?: (sink: Sink) => string;
  channel?: string;
  username?: string;
  secret?: Record<string, string> | ((sink: Sink) => Record<string, string>);
  event: EventKind;
  /** Every request the adapter makes for the event, in order (none: it does not speak HTTP). */
  requests: Expected[];
  /** Checks the last request (the notification itself). */
  check(req: ReceivedRequest): void;
}

const json = (req: ReceivedRequest): any => JSON.parse(req.body);
const objectTitle = (name: string) => `kustomization/${name}.flux-system`;
const gitStatusPath = (prefix: string) => `${prefix}/statuses/${SHA}`;

const cases: Case[] = [
  {
    name: 'generic',
    type: 'generic',
    address: (s) => `${s.url}/generic-hook`,
    event: 'chat',
    requests: [{ method: 'POST', path: '/generic-hook' }],
    check(req) {
      expect(req.headers['gotk-component']).toBe('kustomize-controller');
      const body = json(req);
      expect(body.message).toBe(TRICKY_MESSAGE);
      expect(body.involvedObject.name).toBe('generic');
      expect(body.metadata).toEqual({ revision: REVISION, owner: OWNER_NOTE });
    },
  },
  {
    name: 'generic-hmac',
    type: 'generic-hmac',
    address: (s) => `${s.url}/hmac-hook`,
    secret: { token: HMAC_KEY },
    event: 'chat',
    requests: [{ method: 'POST', path: '/hmac-hook' }],
    check(req) {
      expect(req.headers['x-signature']).toBe(`sha256=${createHmac('sha256', HMAC_KEY).update(req.body).digest('hex')}`);
      expect(json(req).message).toBe(TRICKY_MESSAGE);
    },
  },
  {
    name: 'slack',
    type: 'slack',
    address: (s) => `${s.url}/slack/services/T000/B000/XXXX`,
    channel: 'ops',
    event: 'chat',
    requests: [{ method: 'POST', path: '/slack/services/T000/B000/XXXX' }],
    check(req) {
      const body = json(req);
      expect(body.channel).toBe('ops');
      expect(body.username).toBe('kustomize-controller');
      expect(body.attachments[0].author_name).toBe(objectTitle('slack'));
      expect(body.attachments[0].text).toBe(TRICKY_MESSAGE);
      expect(body.attachments[0].fields).toContainEqual({ title: 'owner', value: OWNER_NOTE, short: false });
    },
  },
  {
    name: 'slack-bot',
    type: 'slack',
    address: (s) => `${s.url}/slackbot/api/chat.postMessage`,
    channel: 'C0123456',
    secret: { token: 'xoxb-e2e-bot-token' },
    event: 'chat',
    requests: [{ method: 'POST', path: '/slackbot/api/chat.postMessage' }],
    check(req) {
      expect(req.headers['authorization']).toBe('Bearer xoxb-e2e-bot-token');
      const body = json(req);
      expect(body.channel).toBe('C0123456');
      expect(body.attachments[0].text).toBe(TRICKY_MESSAGE);
    },
  },
  {
    name: 'msteams',
    type: 'msteams',
    address: (s) => `${s.url}/msteams/workflows/invoke?api-version=1`,
    event: 'chat',
    requests: [{ method: 'POST', path: '/msteams/workflows/invoke?api-version=1' }],
    check(req) {
      const body = json(req);
      expect(body.type).toBe('message');
      expect(body.attachments[0].contentType).toBe('application/vnd.microsoft.card.adaptive');
      const [title, message] = body.attachments[0].content.body[0].items;
      expect(title.text).toBe(objectTitle('msteams'));
      expect(message.text).toBe(TRICKY_MESSAGE);
    },
  },
  {
    name: 'pagerduty',
    type: 'pagerduty',
    address: (s) => `${s.url}/ignored`,
    channel: 'e2e-routing-key',
    event: 'error',
    requests: [{ method: 'POST', path: '/v2/enqueue' }],
    check(req) {
      const body = json(req);
      expect(body.routing_key).toBe('e2e-routing-key');
      expect(body.event_action).toBe('trigger');
      expect(body.payload.summary).toBe('health check failed: kustomization/pagerduty');
      expect(body.payload.custom_details.message).toBe(TRICKY_MESSAGE);
    },
  },
  // Commit-status providers: the look-up of existing statuses first, then the status.
  {
    name: 'github',
    type: 'github',
    address: (s) => `${s.url}/gh-owner/gh-repo`,
    secret: { token: 'ghp_e2eToken123' },
    event: 'commit',
    requests: [
      { method: 'GET', path: `/api/v3/repos/gh-owner/gh-repo/commits/${SHA}/statuses?per_page=50` },
      { method: 'POST', path: gitStatusPath('/api/v3/repos/gh-owner/gh-repo') },
    ],
    check(req) {
      expect(req.headers['authorization']).toBe('Bearer ghp_e2eToken123');
      expect(json(req)).toEqual({ state: 'success', description: 'reconciliation succeeded', context: `kustomization/github/${UID_HEAD}` });
    },
  },
  {
    name: 'gitlab',
    type: 'gitlab',
    address: (s) => `${s.url}/gl-group/gl-project`,
    secret: { token: 'glpat-e2eToken123' },
    event: 'commit',
    requests: [
      {
        method: 'GET',
        path: `/api/v4/projects/gl-group%2Fgl-project/repository/commits/${SHA}/statuses?name=${encodeURIComponent(`kustomization/gitlab/${UID_HEAD}`)}`,
      },
      { method: 'POST', path: gitStatusPath('/api/v4/projects/gl-group%2Fgl-project') },
    ],
    check(req) {
      expect(req.headers['private-token']).toBe('glpat-e2eToken123');
      expect(json(req)).toEqual({ state: 'success', name: `kustomization/gitlab/${UID_HEAD}`, description: 'reconciliation succeeded' });
    },
  },
  {
    name: 'gitea',
    type: 'gitea',
    address: (s) => `${s.url}/gitea-owner/gitea-repo`,
    secret: { token: 'gitea-e2e-token' },
    event: 'commit',
    requests: [
      { method: 'GET', path: `/api/v1/repos/gitea-owner/gitea-repo/commits/${SHA}/statuses?limit=50&page=1` },
      { method: 'POST', path: gitStatusPath('/api/v1/repos/gitea-owner/gitea-repo') },
    ],
    check(req) {
      expect(req.headers['authorization']).toBe('token gitea-e2e-token');
      expect(json(req).context).toBe(`kustomization/gitea/${UID_HEAD}`);
      expect(json(req).state).toBe('success');
    },
  },
  {
    name: 'bitbucket',
    type: 'bitbucket',
    address: (s) => `${s.url}/bb-workspace/bb-repo.git`,
    secret: { token: 'jane:bb-app-password' },
    event: 'commit',
    requests: [
      { method: 'GET', path: new RegExp(`^/2\\.0/repositories/bb-workspace/bb-repo/commit/${SHA}/statuses/build/[0-9a-f]{40}$`) },
      { method: 'POST', path: `/2.0/repositories/bb-workspace/bb-repo/commit/${SHA}/statuses/build` },
    ],
    check(req) {
      const body = json(req);
      expect(body.state).toBe('SUCCESSFUL');
      expect(body.name).toBe('kustomization/bitbucket');
      expect(body.key).toMatch(/^[0-9a-f]{40}$/);
    },
  },
  {
    name: 'bitbucketserver',
    type: 'bitbucketserver',
    address: (s) => `${s.url}/scm/PRJ/bbs-repo.git`,
    secret: { token: 'bbs-e2e-token' },
    event: 'commit',
    requests: [
      { method: 'GET', path: new RegExp(`^/rest/api/latest/projects/PRJ/repos/bbs-repo/commits/${SHA}/builds\\?key=[0-9a-f]{40}$`) },
      { method: 'POST', path: `/rest/api/latest/projects/PRJ/repos/bbs-repo/commits/${SHA}/builds` },
    ],
    check(req) {
      expect(req.headers['authorization']).toBe('Bearer bbs-e2e-token');
      const body = json(req);
      expect(body.state).toBe('SUCCESSFUL');
      expect(body.name).toBe('kustomization/bitbucketserver [reconciliation succeeded]');
    },
  },
  {
    name: 'azuredevops',
    type: 'azuredevops',
    address: (s) => `${s.url}/ado-org/ado-project/_git/ado-repo`,
    secret: { token: 'ado-e2e-pat' },
    event: 'commit',
    requests: [
      { method: 'GET', path: `/ado-org/ado-project/_apis/git/repositories/ado-repo/commits/${SHA}/statuses?api-version=6.0-preview.1` },
      { method: 'POST', path: `/ado-org/ado-project/_apis/git/repositories/ado-repo/commits/${SHA}/statuses?api-version=6.0-preview.1` },
    ],
    check(req) {
      expect(json(req)).toEqual({
        context: { genre: 'fluxcd', name: `kustomization/azuredevops/${UID_HEAD}` },
        description: 'reconciliation succeeded',
        state: 'succeeded',
      });
    },
  },
  // Chat, incident and observability providers.
  {
    name: 'discord',
    type: 'discord',
    address: (s) => `${s.url}/discord/api/webhooks/123/abc`,
    event: 'chat',
    requests: [{ method: 'POST', path: '/discord/api/webhooks/123/abc/slack' }],
    check(req) {
      const body = json(req);
      expect(body.attachments[0].author_name).toBe(objectTitle('discord'));
      expect(body.attachments[0].text).toBe(TRICKY_MESSAGE);
    },
  },
  {
    name: 'rocket',
    type: 'rocket',
    address: (s) => `${s.url}/rocket/hooks/abc`,
    channel: '#flux',
    event: 'chat',
    requests: [{ method: 'POST', path: '/rocket/hooks/abc' }],
    check(req) {
      const body = json(req);
      expect(body.channel).toBe('#flux');
      expect(body.attachments[0].color).toBe('#0076D7');
      expect(body.attachments[0].text).toBe(TRICKY_MESSAGE);
    },
  },
  {
    name: 'googlechat',
    type: 'googlechat',
    address: (s) => `${s.url}/googlechat/v1/spaces/AAA/messages?key=k&token=t`,
    event: 'chat',
    requests: [{ method: 'POST', path: '/googlechat/v1/spaces/AAA/messages?key=k&token=t' }],
    check(req) {
      const card = json(req).cards[0];
      expect(card.header.title).toBe(objectTitle('googlechat'));
      expect(card.sections[0].widgets[0].textParagraph.text).toBe(TRICKY_MESSAGE);
    },
  },
  {
    name: 'webex',
    type: 'webex',
    address: (s) => `${s.url}/webex/v1/messages`,
    channel: 'room-e2e',
    secret: { token: 'webex-e2e-token' },
    event: 'chat',
    requests: [{ method: 'POST', path: '/webex/v1/messages' }],
    check(req) {
      expect(req.headers['authorization']).toBe('Bearer webex-e2e-token');
      const body = json(req);
      expect(body.roomId).toBe('room-e2e');
      expect(body.markdown).toContain(TRICKY_MESSAGE);
    },
  },
  {
    name: 'telegram',
    type: 'telegram',
    // The address is the Bot API base (Herald's extension; Flux always calls api.telegram.org).
    address: (s) => `${s.url}/telegram`,
    channel: '-1001234567890',
    secret: { token: '123456:ABC-e2e' },
    event: 'chat',
    requests: [{ method: 'POST', path: '/telegram/bot123456:ABC-e2e/sendMessage' }],
    check(req) {
      const body = json(req);
      expect(body.chat_id).toBe('-1001234567890');
      expect(body.parse_mode).toBe('MarkdownV2');
      expect(body.text).toContain('Ümlaut ünïcödé — 日本語 🚀');
    },
  },
  {
    name: 'lark',
    type: 'lark',
    address: (s) => `${s.url}/lark/open-apis/bot/v2/hook/xyz`,
    event: 'chat',
    requests: [{ method: 'POST', path: '/lark/open-apis/bot/v2/hook/xyz' }],
    check(req) {
      const body = json(req);
      expect(body.msg_type).toBe('interactive');
      expect(body.card.elements[0].text.content).toContain(`**${TRICKY_MESSAGE}**`);
    },
  },
  {
    name: 'matrix',
    type: 'matrix',
    address: (s) => `${s.url}/matrix`,
    channel: '!room:example.org',
    secret: { token: 'matrix-e2e-token' },
    event: 'chat',
    requests: [{ method: 'PUT', path: /^\/matrix\/_matrix\/client\/r0\/rooms\/!room:example\.org\/send\/m\.room\.message\/[0-9a-f]{40}$/ }],
    check(req) {
      expect(req.headers['authorization']).toBe('Bearer matrix-e2e-token');
      const body = json(req);
      expect(body.msgtype).toBe('m.text');
      expect(body.body).toContain(TRICKY_MESSAGE);
    },
  },
  {
    name: 'opsgenie',
    type: 'opsgenie',
    address: (s) => `${s.url}/opsgenie/v2/alerts`,
    secret: { token: 'genie-e2e-key' },
    event: 'chat',
    requests: [{ method: 'POST', path: '/opsgenie/v2/alerts' }],
    check(req) {
      expect(req.headers['authorization']).toBe('GenieKey genie-e2e-key');
      const body = json(req);
      expect(body.message).toBe('Kustomization/opsgenie');
      expect(body.description).toBe(TRICKY_MESSAGE);
    },
  },
  {
    name: 'alertmanager',
    type: 'alertmanager',
    address: (s) => `${s.url}/alertmanager/api/v2/alerts`,
    event: 'chat',
    requests: [{ method: 'POST', path: '/alertmanager/api/v2/alerts' }],
    check(req) {
      const [alert] = json(req);
      expect(alert.status).toBe('firing');
      expect(alert.labels.name).toBe('alertmanager');
      expect(alert.labels.owner).toBe(OWNER_NOTE);
      expect(alert.annotations.message).toBe(TRICKY_MESSAGE);
    },
  },
  {
    name: 'grafana',
    type: 'grafana',
    address: (s) => `${s.url}/grafana/api/annotations`,
    secret: { token: 'grafana-e2e-token' },
    event: 'chat',
    requests: [{ method: 'POST', path: '/grafana/api/annotations' }],
    check(req) {
      const body = json(req);
      expect(body.text).toBe(objectTitle('grafana'));
      expect(body.tags).toContain('name: grafana');
    },
  },
  {
    name: 'datadog',
    type: 'datadog',
    // Only scheme and host count: the path is Datadog's.
    address: (s) => `${s.url}/ignored`,
    secret: { token: 'dd-e2e-api-key' },
    event: 'chat',
    requests: [{ method: 'POST', path: '/api/v1/events' }],
    check(req) {
      expect(req.headers['dd-api-key']).toBe('dd-e2e-api-key');
      const body = json(req);
      expect(body.title).toBe('Events from the Kustomization datadog/flux-system');
      expect(body.text).toBe(TRICKY_MESSAGE);
    },
  },
  {
    name: 'zulip',
    type: 'zulip',
    address: (s) => `${s.url}/ignored`,
    channel: 'general/flux',
    secret: { username: 'bot@zulip.example', password: 'zulip-e2e-key' },
    event: 'chat',
    requests: [{ method: 'POST', path: '/api/v1/messages' }],
    check(req) {
      const form = new URLSearchParams(req.body);
      expect(form.get('to')).toBe('general');
      expect(form.get('topic')).toBe('flux');
      expect(form.get('content')).toContain(`\n\n${TRICKY_MESSAGE}\n\n`);
    },
  },
  {
    name: 'incidentio',
    type: 'incidentio',
    address: (s) => `${s.url}/incidentio/v2/alert_events/http/01E2E`,
    secret: { token: 'incident-e2e-token' },
    event: 'chat',
    requests: [{ method: 'POST', path: '/incidentio/v2/alert_events/http/01E2E' }],
    check(req) {
      const body = json(req);
      expect(body.title).toBe(`${objectTitle('incidentio')}: ReconciliationSucceeded`);
      expect(body.status).toBe('resolved');
      expect(body.description).toBe(TRICKY_MESSAGE);
    },
  },
  {
    // Flux main's spelling of the same type.
    name: 'incident-io',
    type: 'incident.io',
    address: (s) => `${s.url}/incident-io/v2/alert_events/http/01E2E`,
    secret: { token: 'incident-e2e-token' },
    event: 'chat',
    requests: [{ method: 'POST', path: '/incident-io/v2/alert_events/http/01E2E' }],
    check(req) {
      expect(req.headers['authorization']).toBe('Bearer incident-e2e-token');
      expect(json(req).title).toBe(`${objectTitle('incident-io')}: ReconciliationSucceeded`);
    },
  },
  {
    name: 'githubdispatch',
    type: 'githubdispatch',
    address: (s) => `${s.url}/ghd-owner/ghd-repo`,
    secret: { token: 'ghp_e2eDispatch' },
    event: 'chat',
    requests: [{ method: 'POST', path: '/api/v3/repos/ghd-owner/ghd-repo/dispatches' }],
    check(req) {
      const body = json(req);
      expect(body.event_type).toBe('Kustomization/githubdispatch.flux-system');
      expect(body.client_payload.message).toBe(TRICKY_MESSAGE);
    },
  },
  {
    name: 'sentry',
    type: 'sentry',
    // A DSN: the public key is the user part, the project the last path segment.
    address: (s) => `http://e2epublickey@127.0.0.1:${s.port}/42`,
    channel: 'production',
    event: 'chat',
    requests: [{ method: 'POST', path: '/api/42/envelope/' }],
    check(req) {
      expect(req.headers['x-sentry-auth']).toContain('sentry_key=e2epublickey');
      const [, itemHeader, payload] = req.body.split('\n');
      expect(JSON.parse(itemHeader!).type).toBe('transaction');
      const item = JSON.parse(payload!);
      expect(item.environment).toBe('production');
      expect(item.message).toBe(TRICKY_MESSAGE);
    },
  },
  {
    name: 'github-app',
    type: 'github',
    address: (s) => `${s.url}/app-owner/app-repo`,
    secret: (s) => ({ githubAppID: '1234', githubAppInstallationID: '5678', githubAppPrivateKey: APP_PRIVATE_KEY, githubAppBaseURL: `${s.url}/ghapp/` }),
    event: 'commit',
    requests: [
      { method: 'POST', path: '/ghapp/app/installations/5678/access_tokens' },
      { method: 'GET', path: `/api/v3/repos/app-owner/app-repo/commits/${SHA}/statuses?per_page=50` },
      { method: 'POST', path: gitStatusPath('/api/v3/repos/app-owner/app-repo') },
    ],
    check(req) {
      expect(req.headers['authorization']).toBe(`Bearer ${APP_TOKEN}`);
      expect(json(req).context).toBe(`kustomization/github-app/${UID_HEAD}`);
    },
  },
  // Change-request comment providers: the account, the comments, then the new comment.
  {
    name: 'githubpullrequestcomment',
    type: 'githubpullrequestcomment',
    address: (s) => `${s.url}/ghpr-owner/ghpr-repo`,
    secret: { token: 'ghp_e2eComment' },
    event: 'changeRequest',
    requests: [
      { method: 'GET', path: '/api/v3/user' },
      { method: 'GET', path: `/api/v3/repos/ghpr-owner/ghpr-repo/issues/${CHANGE_REQUEST}/comments?direction=asc&per_page=100&sort=created` },
      { method: 'POST', path: `/api/v3/repos/ghpr-owner/ghpr-repo/issues/${CHANGE_REQUEST}/comments` },
    ],
    check(req) {
      expect(req.headers['authorization']).toBe('Bearer ghp_e2eComment');
      const body: string = json(req).body;
      expect(body.startsWith(`<!-- flux-pr-comment-key:${PROVIDER_UID}/Kustomization/flux-system/githubpullrequestcomment -->\n\n## Flux Status\n\n`)).toBe(true);
      expect(body).toContain(`\n\n${TRICKY_MESSAGE}\n\nMetadata:\n`);
      expect(body).not.toContain('change_request');
    },
  },
  {
    name: 'gitlabmergerequestcomment',
    type: 'gitlabmergerequestcomment',
    address: (s) => `${s.url}/glmr-group/glmr-project`,
    secret: { token: 'glpat-e2eComment' },
    event: 'changeRequest',
    requests: [
      { method: 'GET', path: '/api/v4/user' },
      { method: 'GET', path: `/api/v4/projects/glmr-group%2Fglmr-project/merge_requests/${CHANGE_REQUEST}/notes?order_by=created_at&per_page=100&sort=asc` },
      { method: 'POST', path: `/api/v4/projects/glmr-group%2Fglmr-project/merge_requests/${CHANGE_REQUEST}/notes` },
    ],
    check(req) {
      expect(req.headers['private-token']).toBe('glpat-e2eComment');
      expect(json(req).body).toContain(`<!-- flux-mr-comment-key:${PROVIDER_UID}/Kustomization/flux-system/gitlabmergerequestcomment -->`);
    },
  },
  {
    name: 'giteapullrequestcomment',
    type: 'giteapullrequestcomment',
    address: (s) => `${s.url}/gtpr-owner/gtpr-repo`,
    secret: { token: 'gitea-e2eComment' },
    event: 'changeRequest',
    requests: [
      { method: 'GET', path: '/api/v1/user' },
      { method: 'GET', path: `/api/v1/repos/gtpr-owner/gtpr-repo/issues/${CHANGE_REQUEST}/comments?limit=100&page=1` },
      { method: 'POST', path: `/api/v1/repos/gtpr-owner/gtpr-repo/issues/${CHANGE_REQUEST}/comments` },
    ],
    check(req) {
      expect(req.headers['authorization']).toBe('token gitea-e2eComment');
      expect(json(req).body).toContain(`<!-- flux-pr-comment-key:${PROVIDER_UID}/Kustomization/flux-system/giteapullrequestcomment -->`);
    },
  },
  {
    name: 'otel',
    type: 'otel',
    address: (s) => `${s.url}/v1/traces`,
    secret: { password: 'otel-e2e-token' },
    event: 'error',
    requests: [{ method: 'POST', path: '/v1/traces' }],
    check(req) {
      expect(req.headers['content-type']).toBe('application/x-protobuf');
      expect(req.headers['authorization']).toBe('Bearer otel-e2e-token');
      // The resource names the Alert (service.name), the span the object.
      expect(req.body).toContain('flux-system/otel');
      expect(req.body).toContain('Kustomization: flux-system/otel');
      expect(req.body).toContain('flux:notification-controller');
    },
  },
  {
    name: 'azureeventhub',
    type: 'azureeventhub',
    // The connection string, from the Secret's address, as Flux documents it.
    secret: () => ({ address: eventHubs.connectionString({ hub: 'flux-e2e' }) }),
    event: 'chat',
    requests: [],
    check() {
      // Checked by the Event Hubs stand-in (below).
    },
  },
  {
    name: 'googlepubsub',
    type: 'googlepubsub',
    address: () => 'flux-e2e-project',
    channel: 'flux-e2e-topic',
    secret: { headers: 'team: ops\n' },
    event: 'chat',
    requests: [],
    check() {
      // Checked by the Pub/Sub stand-in (below).
    },
  },
  {
    name: 'nats',
    type: 'nats',
    address: () => 'nats://127.0.0.1:4222',
    channel: NATS_SUBJECT,
    event: 'chat',
    requests: [],
    check() {
      // Checked by the subscriber on the NATS server (below).
    },
  },
];

function eventFor(c: Case): FluxEvent {
  const involvedObject = { ...kustomizationEvent().involvedObject, name: c.name };
  if (c.event === 'commit') {
    return kustomizationEvent({
      involvedObject,
      metadata: { 'kustomize.toolkit.fluxcd.io/revision': REVISION, 'kustomize.toolkit.fluxcd.io/commit_status': 'update' },
    });
  }
  return kustomizationEvent({
    involvedObject,
    message: TRICKY_MESSAGE,
    ...(c.event === 'error' ? { severity: 'error', reason: 'HealthCheckFailed' } : {}),
    metadata: {
      'kustomize.toolkit.fluxcd.io/revision': REVISION,
      'event.toolkit.fluxcd.io/owner': OWNER_NOTE,
      ...(c.event === 'changeRequest' ? { 'event.toolkit.fluxcd.io/change_request': CHANGE_REQUEST } : {}),
    },
  });
}

/** The event a change-request comment provider must drop: the same without the annotation. */
function withoutChangeRequest(c: Case): FluxEvent {
  const event = eventFor(c);
  const { 'event.toolkit.fluxcd.io/change_request': _dropped, ...metadata } = event.metadata ?? {};
  return { ...event, message: `${event.message} (no change request)`, metadata };
}

function manifests(sink: Sink): Record<string, string> {
  const files: Record<string, string> = {};
  for (const c of cases) {
    const docs = [
      provider({
        name: c.name,
        type: c.type,
        address: c.address?.(sink),
        channel: c.channel,
        username: c.username,
        secretName: c.secret ? `${c.name}-secret` : undefined,
        uid: PROVIDER_UID,
      }),
      alertForKustomization({ name: c.name, provider: c.name, kustomization: c.name }),
    ];
    if (c.secret) docs.push(secret(`${c.name}-secret`, typeof c.secret === 'function' ? c.secret(sink) : c.secret));
    files[`${c.name}.yaml`] = docs.join('---\n');
  }
  return files;
}

/** The sink as the providers' APIs: look-ups of existing commit statuses find none. */
function answer(req: ReceivedRequest): SinkReply {
  if (req.method === 'GET') {
    if (req.url.includes('/_apis/git/')) return { status: 200, body: '{"count":0,"value":[]}' };
    // The change-request providers' account look-up (GitHub and Gitea read login, GitLab username).
    if (/^\/api\/v[134]\/user$/.test(req.url)) return { status: 200, body: '{"login":"flux-bot","username":"flux-bot"}' };
    // Bitbucket Cloud and Server look up the one status by key: none yet.
    if (req.url.startsWith('/2.0/') || req.url.startsWith('/rest/api/')) return { status: 404, body: '' };
    return { status: 200, body: '[]' };
  }
  // The GitHub App's token exchange.
  if (req.url.endsWith('/access_tokens')) {
    return { status: 201, body: JSON.stringify({ token: APP_TOKEN, expires_at: new Date(Date.now() + 3_600_000).toISOString() }) };
  }
  // Slack's Web API answers ok: true; the others take any JSON.
  if (req.url.endsWith('/api/chat.postMessage')) return { status: 200, body: '{"ok":true,"ts":"1.2"}' };
  return { status: req.method === 'POST' && req.url.includes('/statuses') ? 201 : 200, body: '{}' };
}

const matches = (e: Expected, r: ReceivedRequest) => r.method === e.method && (typeof e.path === 'string' ? r.url === e.path : e.path.test(r.url));

let sink: Sink;
let herald: HeraldProcess;
let eventHubs: EventHubsStandIn;
let pubsub: PubSubStandIn;
let natsSubscriber: NatsConnection;
let natsSubscription: Subscription;
const natsMessages: string[] = [];
const accepted = new Map<string, number>();
let deliveredInMs = 0;

beforeAll(async () => {
  sink = await startSink(answer);
  eventHubs = await startEventHubsStandIn({ keys: { RootManageSharedAccessKey: 'ZTJlLWV2ZW50LWh1Yi1rZXk=' }, hubs: ['flux-e2e'] });
  natsSubscriber = await connect({ servers: '127.0.0.1:4222', timeout: 5_000 });
  natsSubscription = natsSubscriber.subscribe(NATS_SUBJECT, { max: 10 });
  void (async () => {
    for await (const message of natsSubscription) natsMessages.push(new TextDecoder().decode(message.data));
  })();
  await natsSubscriber.flush();
  pubsub = await startPubSubStandIn();
  herald = await startHerald({ manifests: manifests(sink), env: { PUBSUB_EMULATOR_HOST: pubsub.host } });
  const started = Date.now();
  await Promise.all(
    cases.map(async (c) => {
      // Dropped by routing, so it may go first: nothing of it may arrive.
      if (c.event === 'changeRequest') expect((await herald.postEvent(withoutChangeRequest(c))).status).toBe(202);
      const res = await herald.postEvent(eventFor(c));
      accepted.set(c.name, res.status);
    }),
  );
  // Wait until every expected request arrived (or give up and let each case say what is missing).
  const expected = cases.flatMap((c) => c.requests);
  const deadline = Date.now() + 10_000;
  while ((!expected.every((e) => sink.requests.some((r) => matches(e, r))) || natsMessages.length === 0 || eventHubs.events.length === 0 || pubsub.published.length === 0) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  deliveredInMs = Date.now() - started;
}, 30_000);

afterAll(async () => {
  await natsSubscriber?.close();
  await herald?.stop();
  await eventHubs?.close();
  await pubsub?.close();
  await herald?.cleanup();
  await sink?.close();
});

describe('every provider type through the running service', () => {
  it('covers every registered adapter type (msteams legacy variant aside)', () => {
    expect(new Set(cases.map((c) => c.type))).toEqual(new Set(supportedTypes()));
  });

  it('has every Provider and Alert Ready', async () => {
    const status = (await (await fetch(`${herald.healthUrl}/resources`)).json()) as {
      resources: Array<{ kind: string; name: string; ready: { status: string; message: string } }>;
      problems: unknown[];
    };
    expect(status.problems).toEqual([]);
    const notReady = status.resources.filter((r) => r.ready.status !== 'True').map((r) => `${r.kind}/${r.name}: ${r.ready.message}`);
    expect(notReady).toEqual([]);
    expect(status.resources.filter((r) => r.kind === 'Provider').map((r) => r.name).sort()).toEqual(cases.map((c) => c.name).sort());
  });

  it.each(cases.filter((c) => c.requests.length > 0).map((c) => [c.name, c] as const))('%s: 202, then the adapter’s request at the sink', (_name, c) => {
    expect(accepted.get(c.name)).toBe(202);
    const received = c.requests.map((e) => {
      const found = sink.requests.filter((r) => matches(e, r));
      expect(found, `${e.method} ${String(e.path)} among ${sink.requests.map((r) => `${r.method} ${r.url}`).join(', ')}`).toHaveLength(1);
      return found[0]!;
    });
    // The look-up (if any) comes before the notification itself.
    expect(received.map((r) => r.receivedAt)).toEqual([...received.map((r) => r.receivedAt)].sort((a, b) => a - b));
    c.check(received[received.length - 1]!);
  });

  it('nats: 202, then the event’s Flux JSON on the subject', () => {
    expect(accepted.get('nats')).toBe(202);
    expect(natsMessages).toHaveLength(1);
    const event = eventFor(cases.find((c) => c.name === 'nats')!);
    // What Herald sends is the notification: metadata un-prefixed and merged.
    const published = JSON.parse(natsMessages[0]!);
    expect(published.involvedObject.name).toBe('nats');
    expect(published.message).toBe(TRICKY_MESSAGE);
    expect(published.metadata).toEqual({ revision: REVISION, owner: OWNER_NOTE });
    expect(natsMessages[0]).toBe(fluxEventJson({ ...event, metadata: published.metadata }));
  });

  it('change-request comment providers dropped the event without the annotation, and delivered the other', async () => {
    const metrics = await herald.metrics();
    for (const type of ['githubpullrequestcomment', 'gitlabmergerequestcomment', 'giteapullrequestcomment']) {
      const count = (outcome: string) =>
        Number(new RegExp(`herald_deliveries_total\\{[^}]*provider_type="${type}"[^}]*outcome="${outcome}"[^}]*\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
      expect({ type, dropped: count('dropped'), success: count('success'), retry: count('retry'), failed: count('failed') }).toEqual({
        type,
        dropped: 1,
        success: 1,
        retry: 0,
        failed: 0,
      });
    }
  });

  it('azureeventhub: 202, then the event’s Flux JSON in the hub, with a SAS token that verifies', () => {
    expect(accepted.get('azureeventhub')).toBe(202);
    expect(eventHubs.events).toHaveLength(1);
    expect(eventHubs.events[0]!.hub).toBe('flux-e2e');
    const published = JSON.parse(eventHubs.events[0]!.body.toString('utf8'));
    expect(published.involvedObject.name).toBe('azureeventhub');
    expect(published.message).toBe(TRICKY_MESSAGE);
    const event = eventFor(cases.find((c) => c.name === 'azureeventhub')!);
    expect(eventHubs.events[0]!.body.toString('utf8')).toBe(fluxEventJson({ ...event, metadata: published.metadata }));
    expect(eventHubs.tokens.length).toBeGreaterThan(0);
    expect(eventHubs.tokens.every((t) => t.verified)).toBe(true);
  });

  it('googlepubsub: 202, then the event’s Flux JSON on the topic, the Secret’s headers as attributes', () => {
    expect(accepted.get('googlepubsub')).toBe(202);
    expect(pubsub.published).toHaveLength(1);
    const [message] = pubsub.published;
    expect(message!.topic).toBe('projects/flux-e2e-project/topics/flux-e2e-topic');
    expect(message!.attributes).toEqual({ team: 'ops' });
    const published = JSON.parse(message!.data.toString('utf8'));
    expect(published.involvedObject.name).toBe('googlepubsub');
    const event = eventFor(cases.find((c) => c.name === 'googlepubsub')!);
    expect(message!.data.toString('utf8')).toBe(fluxEventJson({ ...event, metadata: published.metadata }));
  });

  it('sent nothing else, and quickly', () => {
    const expected = cases.flatMap((c) => c.requests);
    const stray = sink.requests.filter((r) => !expected.some((e) => matches(e, r)));
    expect(stray.map((r) => `${r.method} ${r.url}`)).toEqual([]);
    expect(sink.requests).toHaveLength(expected.length);
    expect(deliveredInMs).toBeLessThan(10_000);
  });
});
