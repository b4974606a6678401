/**
 * Every Receiver type end to end, in Kubernetes mode: one Herald process (`--kubernetes
 * --no-cross-namespace-refs`) against the fake API server, a Receiver per type, each sent what
 * its sender sends (payload shape, signature or token header), and the
 * `reconcile.fluxcd.io/requestedAt` merge patches observed on the API server. Then the
 * resource rules (by name, `*` with matchLabels, cross-namespace refused, a resourceFilter
 * excluding one), the bounds (413, 429), and what a refused request may show: nothing secret.
 *
 * Payloads follow each sender's documented examples (trimmed); signatures are computed here as
 * the senders compute them. `gcr` tokens come from a stand-in issuer whose JWKS Herald fetches
 * (`--gcr-jwks-url`); `generic-oidc` discovers a stand-in issuer on loopback.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECONCILE_REQUEST_ANNOTATION, webhookPath } from '../../src/receivers/index.js';
import { FakeApiServer, eventually, readyConditionOf, secretObject, type KubeObject } from '../support/fake-apiserver.js';
import { startHerald, type HeraldProcess } from '../support/herald.js';
import { statusBeforeBody } from '../support/raw-http.js';
import { testIssuer } from '../support/receivers.js';

const NS = 'apps';
const OTHER_NS = 'shared';
const TOKEN = 'e2e-types-token-7c41d2f09a8b3e65';
const RECEIVER_V1 = 'notification.toolkit.fluxcd.io/v1';
const GIT = { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', plural: 'gitrepositories' };
const IMAGE = { apiVersion: 'image.toolkit.fluxcd.io/v1', kind: 'ImageRepository', plural: 'imagerepositories' };
type TargetKind = typeof GIT | typeof IMAGE;

interface WebhookRequest {
  headers: Record<string, string>;
  body: string;
}

const json = (value: unknown) => JSON.stringify(value);
const hmacHex = (algorithm: 'sha1' | 'sha256', key: string, body: string) => createHmac(algorithm, key).update(body).digest('hex');

// ---- what each sender sends ----------------------------------------------------------------

const GITHUB_PUSH = json({
  ref: 'refs/heads/main',
  before: '6113728f27ae82c7b1a177c8d03f9e96e0adf246',
  after: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c',
  repository: { id: 186853002, name: 'webapp', full_name: 'example-org/webapp', private: false },
  pusher: { name: 'octocat', email: 'octocat@example.com' },
});
const GITHUB_PING = json({ zen: 'Design for failure.', hook_id: 109948940, hook: { type: 'Repository', id: 109948940, events: ['ping', 'push'], active: true } });

function github(event: string, body: string, signature: { header: 'x-hub-signature-256' | 'x-hub-signature'; value: string }): WebhookRequest {
  return {
    body,
    headers: { 'content-type': 'application/json', 'user-agent': 'GitHub-Hookshot/7b7b3c5', 'x-github-event': event, 'x-github-delivery': randomUUID(), [signature.header]: signature.value },
  };
}
const githubSigned = (event: string, body: string, algorithm: 'sha1' | 'sha256' = 'sha256', key = TOKEN) =>
  github(event, body, { header: algorithm === 'sha256' ? 'x-hub-signature-256' : 'x-hub-signature', value: `${algorithm}=${hmacHex(algorithm, key, body)}` });

const GITLAB_PUSH = json({
  object_kind: 'push',
  event_name: 'push',
  ref: 'refs/heads/main',
  checkout_sha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
  project: { id: 15, name: 'webapp', path_with_namespace: 'example/webapp', default_branch: 'main' },
});
const gitlab = (event: string, token = TOKEN): WebhookRequest => ({
  body: GITLAB_PUSH,
  headers: { 'content-type': 'application/json', 'x-gitlab-event': event, 'x-gitlab-token': token, 'x-gitlab-instance': 'https://gitlab.example.com' },
});

const BITBUCKET_REFS_CHANGED = json({
  eventKey: 'repo:refs_changed',
  date: '2026-11-30T10:15:00+0000',
  actor: { name: 'admin', id: 1, slug: 'admin', type: 'NORMAL' },
  repository: { slug: 'webapp', id: 84, name: 'webapp', project: { key: 'PRJ', id: 84, name: 'Project' } },
  changes: [{ refId: 'refs/heads/main', fromHash: 'ecddabb624f6f5ba43816f5926e580a5f680a932', toHash: '178864a7d521b6f5e720b386b2c2b0ef8563e0dc', type: 'UPDATE' }],
});
// Bitbucket Server signs the body with HMAC-SHA256 in X-Hub-Signature.
const bitbucket = (event: string, key = TOKEN): WebhookRequest => ({
  body: BITBUCKET_REFS_CHANGED,
  headers: { 'content-type': 'application/json; charset=utf-8', 'x-event-key': event, 'x-request-id': randomUUID(), 'x-hub-signature': `sha256=${hmacHex('sha256', key, BITBUCKET_REFS_CHANGED)}` },
});

const HARBOR_PUSH_ARTIFACT = json({
  type: 'PUSH_ARTIFACT',
  occur_at: 1764497700,
  operator: 'admin',
  event_data: {
    resources: [{ digest: 'sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4', tag: '1.2.3', resource_url: 'harbor.example.com/library/webapp:1.2.3' }],
    repository: { name: 'webapp', namespace: 'library', repo_full_name: 'library/webapp', repo_type: 'public' },
  },
});
// Harbor's "Auth Header": the Authorization header is sent exactly as configured.
const harbor = (authorization: string): WebhookRequest => ({ body: HARBOR_PUSH_ARTIFACT, headers: { 'content-type': 'application/json', authorization } });

const DOCKERHUB_PUSH = json({
  callback_url: 'https://registry.hub.docker.com/u/example/webapp/hook/2141b5bi5i5b02bec211i4eeih0242eg11000a/',
  push_data: { pushed_at: 1764497700, pusher: 'trustedbuilder', tag: 'latest' },
  repository: { name: 'webapp', namespace: 'example', repo_name: 'example/webapp', repo_url: 'https://registry.hub.docker.com/u/example/webapp/' },
});
const QUAY_PUSH = json({
  repository: 'example/webapp', namespace: 'example', name: 'webapp', docker_url: 'quay.io/example/webapp',
  homepage: 'https://quay.io/repository/example/webapp', updated_tags: ['latest', '1.2.3'],
});
const ACR_PUSH = json({
  id: 'cb8c3971-9adc-488b-bdd8-43cbb4974ff5',
  timestamp: '2026-11-30T16:52:01.343145347Z',
  action: 'push',
  target: { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', size: 524, digest: 'sha256:80f0d5c8786bb9e621a45ece0db56d11cdc624ad20da9fe62e9d25490f331d7d', repository: 'webapp', tag: 'v1' },
  request: { id: '3cbb6949-7549-4fa1-86cd-a6d5451dffc7', host: 'example.azurecr.io', method: 'PUT', useragent: 'docker/27.0.0' },
});
const plainJson = (body: string): WebhookRequest => ({ body, headers: { 'content-type': 'application/json' } });

const NEXUS_COMPONENT = json({
  timestamp: '2026-11-30T23:57:49.664+0000',
  nodeId: '52905B51-085CCABB-CEBBEAAD-16F5CB85-5D5B3B1E',
  initiator: 'admin/127.0.0.1',
  repositoryName: 'docker-hosted',
  action: 'CREATED',
  component: { id: '08909bf0c86cf6c9600aade89e1c5e25', format: 'docker', name: 'webapp', version: '1.2.3' },
});
// Nexus: the hex HMAC-SHA1 of the body under the capability's secret key.
const nexus = (key = TOKEN): WebhookRequest => ({
  body: NEXUS_COMPONENT,
  headers: { 'content-type': 'application/json; charset=UTF-8', 'x-nexus-webhook-id': 'rm:repository:component', 'x-nexus-webhook-delivery': randomUUID(), 'x-nexus-webhook-signature': hmacHex('sha1', key, NEXUS_COMPONENT) },
});

const generic = (): WebhookRequest => ({ body: '', headers: {} });
const GENERIC_HMAC_BODY = json({ image: 'ghcr.io/example/webapp', tag: '1.2.3' });
const genericHmac = (key = TOKEN): WebhookRequest => ({
  body: GENERIC_HMAC_BODY,
  headers: { 'content-type': 'application/json', 'x-signature': `sha256=${hmacHex('sha256', key, GENERIC_HMAC_BODY)}` },
});

const CDEVENT_ARTIFACT_PUBLISHED = json({
  context: { version: '0.4.1', id: '271069a8-fc18-44f1-b38f-9d70a1695819', source: '/event/source/123', type: 'dev.cdevents.artifact.published.0.2.0', timestamp: '2026-11-30T12:00:00Z' },
  subject: { id: 'pkg:oci/webapp@sha256%3A0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427', source: '/event/source/123', type: 'artifact', content: {} },
});
// CloudEvents' binary mode over HTTP: the CDEvent is the body, its type in Ce-Type.
const cdevent = (ceType: string, body = CDEVENT_ARTIFACT_PUBLISHED): WebhookRequest => ({
  body,
  headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': randomUUID(), 'ce-source': '/event/source/123', 'ce-type': ceType },
});

// gcr: a Pub/Sub push of an Artifact Registry event, with the subscription's OIDC token.
const GCR_EMAIL = 'flux-push@example-project.iam.gserviceaccount.com';
const GCR_AUDIENCE = 'https://flux-webhook.example.com/hook/gcr';
const GCR_PUSH = json({
  message: {
    attributes: {},
    data: Buffer.from(json({ action: 'INSERT', digest: 'us-east1-docker.pkg.dev/example-project/apps/webapp@sha256:6ec128e26cd5', tag: 'us-east1-docker.pkg.dev/example-project/apps/webapp:1.1' })).toString('base64'),
    messageId: '2070443601311540',
    publishTime: '2026-11-30T11:59:58.749Z',
  },
  subscription: 'projects/example-project/subscriptions/flux-webhook',
});
const google = testIssuer('google-key-1');
const googleClaims = (extra: Record<string, unknown> = {}) => {
  const now = Math.floor(Date.now() / 1000);
  return { aud: GCR_AUDIENCE, azp: '113774264463038321964', email: GCR_EMAIL, email_verified: true, exp: now + 3600, iat: now, iss: 'https://accounts.google.com', sub: '113774264463038321964', ...extra };
};
const gcr = (token: string): WebhookRequest => ({
  body: GCR_PUSH,
  headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'user-agent': 'APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)' },
});

// generic-oidc: a CI job's ID token (GitHub Actions' claims), from an issuer discovered on loopback.
const actions = testIssuer('actions-key-1');
let issuerURL = '';
const actionsClaims = (extra: Record<string, unknown> = {}) => {
  const now = Math.floor(Date.now() / 1000);
  return { iss: issuerURL, aud: 'notification-controller', sub: 'repo:example-org/webapp:ref:refs/heads/main', repository: 'example-org/webapp', exp: now + 300, iat: now, ...extra };
};
const oidc = (token: string): WebhookRequest => ({ body: json({ ref: 'refs/heads/main' }), headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });

// ---- the table -----------------------------------------------------------------------------

interface TypeCase {
  type: string;
  target: TargetKind;
  spec?: Record<string, unknown>;
  secret?: Record<string, string>;
  /** Each answered 200, each a new reconcile request of the target. */
  accepted: Array<[string, () => WebhookRequest]>;
  /** Answered with this status, the target left alone. */
  refused: Array<[string, () => WebhookRequest, number]>;
  /** Values a refused request's answer and Herald's output must never show (besides the token). */
  secrets?: () => string[];
}

const CASES: TypeCase[] = [
  { type: 'generic', target: GIT, accepted: [['any request', generic]], refused: [] },
  {
    type: 'generic-hmac',
    target: IMAGE,
    accepted: [['X-Signature sha256=<hmac>', () => genericHmac()]],
    refused: [
      ['a signature under another key', () => genericHmac('not-the-token'), 401],
      ['no X-Signature', () => ({ ...genericHmac(), headers: { 'content-type': 'application/json' } }), 401],
    ],
    secrets: () => [hmacHex('sha256', TOKEN, GENERIC_HMAC_BODY)],
  },
  {
    type: 'github',
    target: GIT,
    spec: { events: ['ping', 'push'] },
    accepted: [
      ['a push signed in X-Hub-Signature-256', () => githubSigned('push', GITHUB_PUSH, 'sha256')],
      ['a push signed in X-Hub-Signature (sha1)', () => githubSigned('push', GITHUB_PUSH, 'sha1')],
      ['the ping GitHub sends when the hook is created', () => githubSigned('ping', GITHUB_PING)],
    ],
    refused: [
      ['an event outside spec.events', () => githubSigned('issues', GITHUB_PUSH), 400],
      ['a sha256 signature under another key', () => githubSigned('push', GITHUB_PUSH, 'sha256', 'not-the-token'), 401],
      ['a sha1 signature under another key', () => githubSigned('push', GITHUB_PUSH, 'sha1', 'not-the-token'), 401],
      ['no signature', () => ({ body: GITHUB_PUSH, headers: { 'content-type': 'application/json', 'x-github-event': 'push' } }), 401],
    ],
    secrets: () => [hmacHex('sha256', TOKEN, GITHUB_PUSH), hmacHex('sha1', TOKEN, GITHUB_PUSH)],
  },
  {
    type: 'gitlab',
    target: GIT,
    spec: { events: ['Push Hook', 'Tag Push Hook'] },
    accepted: [['a Push Hook with the token in X-Gitlab-Token', () => gitlab('Push Hook')]],
    refused: [
      ['an event outside spec.events', () => gitlab('Merge Request Hook'), 400],
      ['another token', () => gitlab('Push Hook', `${TOKEN}x`), 401],
    ],
  },
  {
    type: 'bitbucket',
    target: GIT,
    spec: { events: ['repo:refs_changed'] },
    accepted: [['a signed repo:refs_changed', () => bitbucket('repo:refs_changed')]],
    refused: [
      ['an event outside spec.events', () => bitbucket('pr:opened'), 400],
      ['a signature under another key', () => bitbucket('repo:refs_changed', 'not-the-token'), 401],
    ],
    secrets: () => [hmacHex('sha256', TOKEN, BITBUCKET_REFS_CHANGED)],
  },
  {
    type: 'harbor',
    target: IMAGE,
    accepted: [['PUSH_ARTIFACT with the token as Authorization', () => harbor(TOKEN)]],
    refused: [['a Bearer of the token (not what Harbor sends)', () => harbor(`Bearer ${TOKEN}`), 401], ['another header', () => harbor('not-the-token'), 401]],
  },
  {
    type: 'dockerhub',
    target: IMAGE,
    accepted: [['a push', () => plainJson(DOCKERHUB_PUSH)]],
    refused: [['a push_data that is not an object', () => plainJson(json({ push_data: 'latest' })), 400]],
  },
  {
    type: 'quay',
    target: IMAGE,
    accepted: [['a Repository Push', () => plainJson(QUAY_PUSH)]],
    refused: [['updated_tags that is not a list', () => plainJson(json({ updated_tags: 'latest' })), 400]],
  },
  {
    type: 'gcr',
    target: IMAGE,
    secret: { token: TOKEN, email: GCR_EMAIL, audience: GCR_AUDIENCE },
    accepted: [["a Pub/Sub push with the subscription's ID token", () => gcr(google.jwt(googleClaims()))]],
    refused: [
      ['a token for another service account', () => gcr(google.jwt(googleClaims({ email: 'other@example-project.iam.gserviceaccount.com' }))), 401],
      ['a token for another audience', () => gcr(google.jwt(googleClaims({ aud: 'https://elsewhere.example.com' }))), 401],
      ['an expired token', () => gcr(google.jwt(googleClaims({ exp: Math.floor(Date.now() / 1000) - 3600 }))), 401],
      ['no token', () => ({ ...gcr(''), headers: { 'content-type': 'application/json' } }), 401],
    ],
  },
  {
    type: 'nexus',
    target: IMAGE,
    accepted: [['a signed component event', () => nexus()]],
    refused: [
      ['a signature under another key', () => nexus('not-the-token'), 401],
      ['no signature', () => ({ body: NEXUS_COMPONENT, headers: { 'content-type': 'application/json' } }), 401],
    ],
    secrets: () => [hmacHex('sha1', TOKEN, NEXUS_COMPONENT)],
  },
  {
    type: 'acr',
    target: IMAGE,
    accepted: [['a push', () => plainJson(ACR_PUSH)]],
    refused: [['a target.tag that is not a string', () => plainJson(json({ target: { tag: 1 } })), 400]],
  },
  {
    type: 'cdevents',
    target: GIT,
    spec: { events: ['dev.cdevents.artifact.published.0.2.0'] },
    accepted: [['an artifact.published CDEvent', () => cdevent('dev.cdevents.artifact.published.0.2.0')]],
    refused: [
      ['a Ce-Type outside spec.events', () => cdevent('dev.cdevents.change.merged.0.2.0'), 400],
      ['a body without a CDEvent context', () => cdevent('dev.cdevents.artifact.published.0.2.0', json({ subject: { id: 'x' } })), 400],
    ],
  },
  {
    type: 'generic-oidc',
    target: GIT,
    accepted: [["a CI job's ID token that passes the validations", () => oidc(actions.jwt(actionsClaims()))]],
    refused: [
      ['a token from another repository', () => oidc(actions.jwt(actionsClaims({ repository: 'someone/else' }))), 401],
      ['a token for another audience', () => oidc(actions.jwt(actionsClaims({ aud: 'sts.amazonaws.com' }))), 401],
    ],
  },
];

const nameOf = (c: TypeCase) => `${c.type}-receiver`;
const targetOf = (c: TypeCase) => `${c.type}-target`;
const pathOf = (c: TypeCase) => webhookPath(c.type === 'generic-oidc' ? '' : TOKEN, nameOf(c), NS);

function receiverFor(c: TypeCase): KubeObject {
  const spec: Record<string, unknown> = {
    type: c.type,
    resources: [{ apiVersion: c.target.apiVersion, kind: c.target.kind, name: targetOf(c) }],
    ...c.spec,
  };
  if (c.type === 'generic-oidc') {
    spec.oidcProviders = [{ issuerURL, validations: [{ expression: "claims.repository == 'example-org/webapp'", message: 'only example-org/webapp may trigger this' }] }];
  } else {
    spec.secretRef = { name: `${c.type}-token` };
  }
  return { apiVersion: RECEIVER_V1, kind: 'Receiver', metadata: { name: nameOf(c), namespace: NS }, spec };
}

function targetObject(kind: TargetKind, name: string, namespace = NS, labels?: Record<string, string>): KubeObject {
  return { apiVersion: kind.apiVersion, kind: kind.kind, metadata: { name, namespace, ...(labels && { labels }) }, spec: {} };
}

// ---- the run -------------------------------------------------------------------------------

let api: FakeApiServer;
let herald: HeraldProcess;
let keysServer: Server;

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string>;
}

async function hook(path: string, request: WebhookRequest): Promise<Answer> {
  const res = await fetch(`${herald.receiverUrl}${path}`, { method: 'POST', headers: request.headers, body: request.body });
  return { status: res.status, body: await res.text(), headers: Object.fromEntries(res.headers) };
}

/** The reconcile requests (PATCHes of the object itself, not its status) the API server saw for one object. */
function reconcilePatches(kind: TargetKind, name: string, namespace = NS) {
  const path = `/apis/${kind.apiVersion}/namespaces/${namespace}/${kind.plural}/${name}`;
  return api.requests.filter((r) => r.method === 'PATCH' && r.path === path);
}

const annotationOf = (kind: TargetKind, name: string, namespace = NS) => api.get(kind.apiVersion, kind.kind, namespace, name)?.metadata.annotations?.[RECONCILE_REQUEST_ANNOTATION];

beforeAll(async () => {
  // One server plays both stand-ins: Google's JWKS for gcr, and a discoverable OIDC issuer.
  keysServer = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/google/certs') return res.end(json(google.jwks));
    if (req.url === '/actions/.well-known/openid-configuration') {
      return res.end(json({ issuer: issuerURL, jwks_uri: `${issuerURL}/jwks`, id_token_signing_alg_values_supported: ['RS256'] }));
    }
    if (req.url === '/actions/jwks') return res.end(json(actions.jwks));
    res.statusCode = 404;
    res.end('{}');
  });
  await new Promise<void>((resolve) => keysServer.listen(0, '127.0.0.1', resolve));
  const keysUrl = `http://127.0.0.1:${(keysServer.address() as AddressInfo).port}`;
  issuerURL = `${keysUrl}/actions`;

  api = await FakeApiServer.start();
  api.register({ group: 'image.toolkit.fluxcd.io', version: 'v1', kind: 'ImageRepository', plural: 'imagerepositories' });
  for (const c of CASES) {
    if (c.type !== 'generic-oidc') api.apply(secretObject(`${c.type}-token`, c.secret ?? { token: TOKEN }, NS));
    api.apply(receiverFor(c));
    api.apply(targetObject(c.target, targetOf(c)));
  }
  // The resource rules: by name, `*` with matchLabels, a filter excluding one, another namespace.
  api.apply(secretObject('rules-token', { token: TOKEN }, NS));
  api.apply({
    apiVersion: RECEIVER_V1,
    kind: 'Receiver',
    metadata: { name: 'fan-out', namespace: NS },
    spec: {
      type: 'generic',
      secretRef: { name: 'rules-token' },
      resourceFilter: "res.metadata.name != 'excluded' && req.ref == 'refs/heads/main'",
      resources: [
        { kind: 'GitRepository', name: 'named' },
        { kind: 'GitRepository', name: '*', matchLabels: { fleet: 'web' } },
      ],
    },
  });
  api.apply({
    apiVersion: RECEIVER_V1,
    kind: 'Receiver',
    metadata: { name: 'cross', namespace: NS },
    spec: {
      type: 'generic',
      secretRef: { name: 'rules-token' },
      resources: [
        { kind: 'GitRepository', name: 'infra', namespace: OTHER_NS },
        { kind: 'GitRepository', name: 'local' },
      ],
    },
  });
  api.apply({
    apiVersion: RECEIVER_V1,
    kind: 'Receiver',
    metadata: { name: 'burst', namespace: NS },
    spec: { type: 'generic', secretRef: { name: 'rules-token' }, resources: [{ kind: 'GitRepository', name: '*', matchLabels: { fleet: 'nobody' } }] },
  });
  for (const name of ['named', 'local', 'unlabelled']) api.apply(targetObject(GIT, name));
  for (const name of ['web-1', 'web-2', 'excluded']) api.apply(targetObject(GIT, name, NS, { fleet: 'web' }));
  api.apply(targetObject(GIT, 'web-elsewhere', OTHER_NS, { fleet: 'web' }));
  api.apply(targetObject(GIT, 'infra', OTHER_NS));

  herald = await startHerald({
    kubernetes: true,
    env: { KUBECONFIG: api.kubeconfigPath, HERALD_POD_NAMESPACE: NS },
    extraArgs: ['--no-cross-namespace-refs', '--gcr-jwks-url', `${keysUrl}/google/certs`],
  });
  const names = [...CASES.map(nameOf), 'fan-out', 'cross', 'burst'];
  await eventually(() => names.every((name) => readyConditionOf(api.get(RECEIVER_V1, 'Receiver', NS, name))?.status === 'True'), 15_000, 'every Receiver Ready');
}, 60_000);

afterAll(async () => {
  await herald?.stop();
  await herald?.cleanup();
  await api?.close();
  await new Promise((resolve) => keysServer?.close(resolve));
});

describe('every Receiver type, against the API server', () => {
  it.each(CASES.map((c) => [c.type, c] as const))('%s: Ready with its webhook path written to its status, and a Succeeded Event', async (_type, c) => {
    const receiver = api.get(RECEIVER_V1, 'Receiver', NS, nameOf(c));
    expect(receiver?.status).toMatchObject({ webhookPath: pathOf(c) });
    expect(readyConditionOf(receiver)).toMatchObject({ reason: 'Succeeded', message: `Receiver initialized for path: ${pathOf(c)}` });
    const events = () => api.events(NS).filter((e) => (e.involvedObject as { kind?: string; name?: string }).name === nameOf(c));
    await eventually(() => events().length > 0, 10_000, 'Receiver Event');
    expect(events()).toMatchObject([
      { type: 'Normal', reason: 'Succeeded', message: 'Reconciliation finished, next run in 10m0s', involvedObject: { kind: 'Receiver', uid: receiver?.metadata.uid } },
    ]);
  });

  it.each(CASES.map((c) => [c.type, c] as const))('%s: what the sender sends patches the target; what it must not send is refused and patches nothing', async (_type, c) => {
    for (const [what, request] of c.accepted) {
      const before = reconcilePatches(c.target, targetOf(c)).length;
      const answer = await hook(pathOf(c), request());
      expect(answer.status, what).toBe(200);
      expect(answer.body, what).toBe('');
      const patches = reconcilePatches(c.target, targetOf(c));
      expect(patches.length, what).toBe(before + 1);
      expect(patches.at(-1)?.contentType, what).toBe('application/merge-patch+json');
      expect(patches.at(-1)?.body, what).toEqual({ metadata: { annotations: { [RECONCILE_REQUEST_ANNOTATION]: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} \+0000 UTC$/) } } });
    }
    expect(annotationOf(c.target, targetOf(c))).toBeDefined();
    const patched = reconcilePatches(c.target, targetOf(c)).length;
    for (const [what, request, status] of c.refused) {
      const answer = await hook(pathOf(c), request());
      expect(answer.status, what).toBe(status);
      expect(answer.body, what).toBe('');
    }
    expect(reconcilePatches(c.target, targetOf(c)).length).toBe(patched);
  });

  it('a refused signature or token is a bare 401: no expected signature, no token bytes, in the answer or in the logs', async () => {
    const answers: Answer[] = [];
    for (const c of CASES) for (const [, request, status] of c.refused) if (status === 401) answers.push(await hook(pathOf(c), request()));
    expect(answers.length).toBeGreaterThanOrEqual(15);
    const secrets = [TOKEN, ...CASES.flatMap((c) => c.secrets?.() ?? [])];
    for (const answer of answers) {
      expect(answer).toMatchObject({ status: 401, body: '' });
      const shown = JSON.stringify(answer.headers);
      for (const secret of secrets) expect(shown).not.toContain(secret);
    }
    const output = herald.output.join('\n');
    expect(output).toContain('unable to validate payload');
    for (const secret of secrets) expect(output).not.toContain(secret);
    // Not even a slice of the token (a prefix or suffix shown "for debugging").
    expect(output).not.toContain(TOKEN.slice(0, 12));
    expect(output).not.toContain(TOKEN.slice(-12));
  });

  it('counts each answer by type and outcome', async () => {
    const metrics = await herald.metrics();
    for (const c of CASES) {
      expect(metrics, c.type).toMatch(new RegExp(`herald_receiver_requests_total\\{type="${c.type}",outcome="accepted"\\} ${c.accepted.length}\\b`));
    }
  });
});

describe('which objects a request reconciles', () => {
  const fanOut = webhookPath(TOKEN, 'fan-out', NS);

  it('the named object and every match of * with matchLabels in its namespace, less those the resourceFilter excludes', async () => {
    const answer = await hook(fanOut, { body: json({ ref: 'refs/heads/main' }), headers: { 'content-type': 'application/json' } });
    expect(answer.status).toBe(200);
    for (const name of ['named', 'web-1', 'web-2']) expect(reconcilePatches(GIT, name), name).toHaveLength(1);
    for (const name of ['excluded', 'unlabelled']) expect(reconcilePatches(GIT, name), name).toHaveLength(0);
    expect(reconcilePatches(GIT, 'web-elsewhere', OTHER_NS)).toHaveLength(0);
    // The `*` was a list with the label selector, as Flux asks the API server.
    const lists = api.requests.filter((r) => r.method === 'GET' && r.path === `/apis/source.toolkit.fluxcd.io/v1/namespaces/${NS}/gitrepositories`);
    expect(lists.map((r) => r.query.labelSelector)).toContain('fleet=web');
  });

  it('the filter reads the request too: another branch reconciles nothing', async () => {
    const reconcileRequests = () => api.requests.filter((r) => r.method === 'PATCH' && r.path.includes('/gitrepositories/') && !r.path.endsWith('/status')).length;
    const before = reconcileRequests();
    const answer = await hook(fanOut, { body: json({ ref: 'refs/heads/feature' }), headers: { 'content-type': 'application/json' } });
    expect(answer.status).toBe(200);
    expect(reconcileRequests()).toBe(before);
    for (const name of ['named', 'web-1', 'web-2']) expect(reconcilePatches(GIT, name), name).toHaveLength(1);
  });

  it('under --no-cross-namespace-refs, an object in another namespace is refused (500) while its own are reconciled', async () => {
    const answer = await hook(webhookPath(TOKEN, 'cross', NS), generic());
    expect(answer.status).toBe(500);
    expect(answer.body).toBe('');
    expect(reconcilePatches(GIT, 'local')).toHaveLength(1);
    expect(reconcilePatches(GIT, 'infra', OTHER_NS)).toHaveLength(0);
    expect(annotationOf(GIT, 'infra', OTHER_NS)).toBeUndefined();
    // Refused before the API server is asked: no read of the other namespace either.
    expect(api.requests.some((r) => r.path.startsWith(`/apis/source.toolkit.fluxcd.io/v1/namespaces/${OTHER_NS}/`))).toBe(false);
  });
});

describe('the bounds, through the process', () => {
  it('413 for a body over 3 MiB, before it is verified (and before the body is sent)', async () => {
    // Answered from the declared length, before any of the body is read (see statusBeforeBody).
    expect(await statusBeforeBody(`${herald.receiverUrl}${webhookPath(TOKEN, 'cross', NS)}`, 3 * 1024 * 1024 + 1)).toBe(413);
    expect(reconcilePatches(GIT, 'local')).toHaveLength(1);
  });

  it('429 with Retry-After once a webhook path spends its burst of 20', async () => {
    const path = webhookPath(TOKEN, 'burst', NS);
    const answers = await Promise.all(Array.from({ length: 30 }, () => hook(path, generic())));
    const limited = answers.filter((a) => a.status === 429);
    expect(answers.filter((a) => a.status === 200).length).toBeLessThanOrEqual(21);
    expect(limited.length).toBeGreaterThanOrEqual(9);
    expect(Number(limited[0]?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited[0]?.body).toBe('');
    // Other paths are not held back by this one.
    expect((await hook(webhookPath(TOKEN, 'generic-receiver', NS), generic())).status).toBe(200);
  });
});
