/**
 * Receivers end to end: Herald as a process serving `/hook/<digest>` on `--receiver-addr`, in
 * the manifests directory mode (verified, answered, counted, shown on /resources) and in
 * Kubernetes mode against the fake API server (the target's `reconcile.fluxcd.io/requestedAt`
 * patched, the Receiver's status written).
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECONCILE_REQUEST_ANNOTATION, webhookPath } from '../../src/receivers/index.js';
import { kustomizationEvent } from '../support/events.js';
import { FakeApiServer, eventually, readyConditionOf, secretObject } from '../support/fake-apiserver.js';
import { metricValue, startHerald, type HeraldProcess } from '../support/herald.js';
import { kustomizationAlert } from './manifests.js';

const TOKEN = 'e2e-receiver-token-4f1d9c2a7b';
const NS = 'flux-system';

/** A GitHub push as GitHub sends it: JSON body, its HMAC-SHA256 under the token in X-Hub-Signature-256. */
function githubPush(key = TOKEN): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify({ ref: 'refs/heads/main', after: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c', repository: { full_name: 'org/webapp' } });
  const signature = `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
  return { body, headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958', 'x-hub-signature-256': signature } };
}

function receiverYaml(apiVersion = 'notification.toolkit.fluxcd.io/v1'): string {
  return `apiVersion: ${apiVersion}
kind: Receiver
metadata:
  name: webapp
  namespace: ${NS}
spec:
  type: github
  events: ["ping", "push"]
  secretRef:
    name: webhook-token
  resources:
    - kind: GitRepository
      name: webapp
---
apiVersion: v1
kind: Secret
metadata:
  name: webhook-token
  namespace: ${NS}
stringData:
  token: ${TOKEN}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: webapp
  namespace: ${NS}
spec:
  url: https://github.com/org/webapp
`;
}

interface ResourcesBody {
  resources: Array<{ kind: string; namespace: string; name: string; ready: { status: string; reason: string }; webhookPath?: string; lastRequestAt?: string }>;
}

async function receiverStatus(herald: HeraldProcess, name = 'webapp') {
  const body = (await (await fetch(`${herald.healthUrl}/resources`)).json()) as ResourcesBody;
  return body.resources.find((r) => r.kind === 'Receiver' && r.name === name);
}

async function hook(herald: HeraldProcess, path: string, request: { body: string; headers: Record<string, string> }): Promise<number> {
  const res = await fetch(`${herald.receiverUrl}${path}`, { method: 'POST', headers: request.headers, body: request.body });
  await res.arrayBuffer();
  return res.status;
}

describe('Receivers in the manifests directory mode', () => {
  let herald: HeraldProcess;
  const path = webhookPath(TOKEN, 'webapp', NS);

  beforeAll(async () => {
    herald = await startHerald({ manifests: { 'receiver.yaml': receiverYaml() } });
  });
  afterAll(async () => {
    await herald?.stop();
    await herald?.cleanup();
  });

  it('loads the Receiver: Ready, with Flux\'s webhook path on /resources', async () => {
    const status = await receiverStatus(herald);
    expect(status).toMatchObject({ ready: { status: 'True', reason: 'Succeeded' }, webhookPath: path });
    expect(status?.lastRequestAt).toBeUndefined();
  });

  it('answers a signed GitHub push with 200, counts it and shows when it came', async () => {
    expect(await hook(herald, path, githubPush())).toBe(200);
    const metrics = await herald.metrics();
    expect(metricValue(metrics, 'herald_receiver_requests_total', { type: 'github', outcome: 'accepted' })).toBe(1);
    expect(metricValue(metrics, 'herald_receiver_reconcile_requests_total', { type: 'github' })).toBe(1);
    const status = await receiverStatus(herald);
    expect(Date.parse(status?.lastRequestAt ?? '')).toBeGreaterThan(Date.now() - 60_000);
  });

  it('answers a bad signature with 401 and an unknown path with 404', async () => {
    expect(await hook(herald, path, githubPush('not-the-token'))).toBe(401);
    expect(await hook(herald, webhookPath('other-token', 'webapp', NS), githubPush())).toBe(404);
    const metrics = await herald.metrics();
    expect(metricValue(metrics, 'herald_receiver_requests_total', { type: 'github', outcome: 'unauthorized' })).toBe(1);
    expect(metricValue(metrics, 'herald_receiver_requests_total', { type: '', outcome: 'not_found' })).toBe(1);
    expect(metricValue(metrics, 'herald_receiver_requests_total', { type: 'github', outcome: 'accepted' })).toBe(1);
  });

  it('follows the directory: a Receiver without its Secret is not Ready and its path is gone (404)', async () => {
    await herald.writeManifest('receiver.yaml', receiverYaml().replace(/---\napiVersion: v1\nkind: Secret[\s\S]*?---\n/, '---\n'));
    await eventually(async () => (await receiverStatus(herald))?.ready.status === 'False', 10_000, 'Receiver not Ready');
    expect(await receiverStatus(herald)).toMatchObject({ ready: { reason: 'TokenNotFound' }, webhookPath: '' });
    expect(await hook(herald, path, githubPush())).toBe(404);
  });

  it('accepts the v1beta2 Receiver too', async () => {
    await herald.writeManifest('receiver.yaml', receiverYaml('notification.toolkit.fluxcd.io/v1beta2'));
    await eventually(async () => (await receiverStatus(herald))?.ready.status === 'True', 10_000, 'v1beta2 Receiver Ready');
    expect(await hook(herald, path, githubPush())).toBe(200);
  });

  it('refuses a Provider addressed at the receiver listener, as at any of Herald\'s own', async () => {
    await herald.writeManifest(
      'loop.yaml',
      `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata:
  name: loop
  namespace: flux-system
spec:
  type: generic
  address: ${herald.receiverUrl}${path}
---
${kustomizationAlert({ name: 'loop', provider: 'loop' })}`,
    );
    await eventually(async () => {
      const body = (await (await fetch(`${herald.healthUrl}/resources`)).json()) as ResourcesBody;
      return body.resources.some((r) => r.kind === 'Alert' && r.name === 'loop' && r.ready.status === 'True');
    }, 10_000, 'loop Alert Ready');
    const before = metricValue(await herald.metrics(), 'herald_receiver_requests_total', { type: 'github', outcome: 'rejected' });
    expect((await herald.postEvent(kustomizationEvent({ message: 'loop back' }))).status).toBe(202);
    await eventually(() => herald.output.some((line) => line.includes("Herald's own --receiver-addr listener")), 10_000, 'own-listener refusal logged');
    const metrics = await herald.metrics();
    expect(metricValue(metrics, 'herald_receiver_requests_total', { type: 'github', outcome: 'rejected' })).toBe(before);
  });

  it('closes the receiver listener on SIGTERM and exits 0', async () => {
    expect(await herald.stop('SIGTERM', 20_000)).toBe(0);
    await expect(fetch(`${herald.receiverUrl}${path}`, { method: 'POST', body: '{}' })).rejects.toThrow();
  });
});

describe('Receivers in Kubernetes mode', () => {
  let api: FakeApiServer;
  let herald: HeraldProcess;
  const path = webhookPath(TOKEN, 'webapp', NS);
  const RECEIVER_V1 = 'notification.toolkit.fluxcd.io/v1';
  const receiver = () => api.get(RECEIVER_V1, 'Receiver', NS, 'webapp');
  const receiverEvents = (name: string) => api.events(NS).filter((e) => (e.involvedObject as { kind?: string; name?: string }).kind === 'Receiver' && (e.involvedObject as { name?: string }).name === name);
  const annotationOf = (name: string) => api.get('source.toolkit.fluxcd.io/v1', 'GitRepository', NS, name)?.metadata.annotations?.[RECONCILE_REQUEST_ANNOTATION];

  beforeAll(async () => {
    api = await FakeApiServer.start();
    api.apply(secretObject('webhook-token', { token: TOKEN }, NS));
    api.apply({
      apiVersion: RECEIVER_V1,
      kind: 'Receiver',
      metadata: { name: 'webapp', namespace: NS },
      spec: {
        type: 'github',
        events: ['push'],
        secretRef: { name: 'webhook-token' },
        resources: [
          { kind: 'GitRepository', name: 'webapp' },
          { kind: 'GitRepository', name: '*', matchLabels: { team: 'a' } },
        ],
      },
    });
    // A Receiver whose filter no longer compiles, with the path a previous controller reported
    // (set before Herald starts: the API server drops a status given at creation).
    const broken = {
      apiVersion: RECEIVER_V1,
      kind: 'Receiver',
      metadata: { name: 'broken', namespace: NS },
      spec: { type: 'github', secretRef: { name: 'webhook-token' }, resourceFilter: 'res.metadata.name ==', resources: [{ kind: 'GitRepository', name: 'webapp' }] },
    };
    api.apply(broken);
    api.setSilently({ ...broken, status: { webhookPath: webhookPath(TOKEN, 'broken', NS) } });
    api.apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'webapp', namespace: NS }, spec: {} });
    api.apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'team-a', namespace: NS, labels: { team: 'a' } }, spec: {} });
    api.apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'team-b', namespace: NS, labels: { team: 'b' } }, spec: {} });
    herald = await startHerald({ kubernetes: true, env: { KUBECONFIG: api.kubeconfigPath, HERALD_POD_NAMESPACE: NS } });
  });
  afterAll(async () => {
    await herald?.stop();
    await herald?.cleanup();
    await api?.close();
  });

  it('writes Ready and status.webhookPath through the status subresource, holding the Lease', async () => {
    await eventually(() => readyConditionOf(receiver())?.status === 'True', 10_000, 'Receiver status written');
    expect(receiver()?.status).toMatchObject({ webhookPath: path });
    expect(readyConditionOf(receiver())).toMatchObject({ reason: 'Succeeded', message: `Receiver initialized for path: ${path}` });
    const patches = api.requests.filter((r) => r.method === 'PATCH' && r.path === `/apis/notification.toolkit.fluxcd.io/v1/namespaces/${NS}/receivers/webapp/status`);
    expect(patches.length).toBeGreaterThan(0);
  });

  it('records a Normal Succeeded Event on the Receiver, as Flux\'s controller does after a reconcile', async () => {
    const [event] = await eventually(() => (receiverEvents('webapp').length > 0 ? receiverEvents('webapp') : undefined), 10_000, 'Receiver Event');
    expect(event).toMatchObject({
      type: 'Normal',
      reason: 'Succeeded',
      message: 'Reconciliation finished, next run in 10m0s',
      involvedObject: { kind: 'Receiver', apiVersion: RECEIVER_V1, namespace: NS, name: 'webapp', uid: receiver()?.metadata.uid },
      source: { component: 'herald' },
    });
    // Herald's own status write comes back through the watch: that is no reason for another Event.
    await new Promise((r) => setTimeout(r, 500));
    expect(receiverEvents('webapp')).toHaveLength(1);
    expect(receiverEvents('webapp')[0]?.count).toBe(1);
  });

  it('handles `flux reconcile receiver`: status.lastHandledReconcileAt takes the requestedAt value, and the outcome is recorded again', async () => {
    const requested = '2026-12-01T19:30:00.000000000Z';
    const current = receiver();
    api.apply({ apiVersion: RECEIVER_V1, kind: 'Receiver', metadata: { ...current!.metadata, annotations: { [RECONCILE_REQUEST_ANNOTATION]: requested } }, spec: current!.spec });
    await eventually(() => (receiver()?.status as { lastHandledReconcileAt?: string }).lastHandledReconcileAt === requested, 10_000, 'lastHandledReconcileAt');
    expect(receiver()?.metadata.generation).toBe(current?.metadata.generation);
    // The same Event again: client-go's recorder (and Herald's) counts it on the first one.
    await eventually(() => receiverEvents('webapp')[0]?.count === 2, 10_000, 'Succeeded counted twice');
    expect(receiverEvents('webapp')).toHaveLength(1);
  });

  it('keeps the reported path of a Receiver with a configuration error, and answers 503 there, as Flux does', async () => {
    const broken = () => api.get(RECEIVER_V1, 'Receiver', NS, 'broken');
    await eventually(() => readyConditionOf(broken())?.status === 'False', 10_000, 'broken Receiver status written');
    expect(readyConditionOf(broken())).toMatchObject({ reason: 'InvalidCELExpression' });
    const stalled = ((broken()?.status as { conditions?: Array<Record<string, unknown>> }).conditions ?? []).find((c) => c.type === 'Stalled');
    expect(stalled).toMatchObject({ status: 'True', reason: 'InvalidCELExpression', message: readyConditionOf(broken())?.message });
    expect(broken()?.status).toMatchObject({ webhookPath: webhookPath(TOKEN, 'broken', NS) });
    expect(await hook(herald, webhookPath(TOKEN, 'broken', NS), githubPush())).toBe(503);
    const [event] = await eventually(() => (receiverEvents('broken').length > 0 ? receiverEvents('broken') : undefined), 10_000, 'Warning Event');
    expect(event).toMatchObject({ type: 'Warning', reason: 'InvalidCELExpression', involvedObject: { kind: 'Receiver', name: 'broken' } });
    expect(event?.message).toMatch(/^Reconciliation failed terminally due to configuration error: invalid spec.resourceFilter expression: /);
  });

  it('annotates each target with reconcile.fluxcd.io/requestedAt (a merge patch) on a signed push', async () => {
    expect(await hook(herald, path, githubPush())).toBe(200);
    expect(annotationOf('webapp')).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} \+0000 UTC$/);
    expect(annotationOf('team-a')).toBeDefined();
    expect(annotationOf('team-b')).toBeUndefined();
    const patches = api.requests.filter((r) => r.method === 'PATCH' && r.path.includes('/gitrepositories/'));
    expect(patches.map((r) => r.contentType)).toEqual(['application/merge-patch+json', 'application/merge-patch+json']);
    expect(await receiverStatus(herald)).toMatchObject({ ready: { status: 'True' }, webhookPath: path, lastRequestAt: expect.any(String) });
  });

  it('patches nothing on a bad signature (401) or on an event the Receiver does not take (400)', async () => {
    const before = api.requests.filter((r) => r.method === 'PATCH' && r.path.includes('/gitrepositories/')).length;
    expect(await hook(herald, path, githubPush('not-the-token'))).toBe(401);
    const issue = githubPush();
    expect(await hook(herald, path, { ...issue, headers: { ...issue.headers, 'x-github-event': 'issues' } })).toBe(400);
    expect(api.requests.filter((r) => r.method === 'PATCH' && r.path.includes('/gitrepositories/')).length).toBe(before);
  });

  it('follows the Secret: without its token the Receiver is not Ready, its path cleared and gone (404)', async () => {
    api.apply(secretObject('webhook-token', { other: 'x' }, NS));
    await eventually(() => readyConditionOf(receiver())?.status === 'False', 10_000, 'Receiver not Ready');
    expect(readyConditionOf(receiver())).toMatchObject({ reason: 'TokenNotFound' });
    // Retried (a Secret can appear), so not Stalled.
    expect(((receiver()?.status as { conditions?: Array<{ type: string }> }).conditions ?? []).map((c) => c.type)).toEqual(['Ready']);
    expect(receiver()?.status).toMatchObject({ webhookPath: '' });
    expect(await hook(herald, path, githubPush())).toBe(404);
    await eventually(() => receiverEvents('webapp').some((e) => e.type === 'Warning'), 10_000, 'Warning Event');
    expect(receiverEvents('webapp').find((e) => e.type === 'Warning')).toMatchObject({ reason: 'Failed', message: `invalid '${NS}/webhook-token' secret data: required fields 'token'` });
  });
});
