/**
 * Receivers end to end: Herald as a process serving `/hook/<digest>` on `--receiver-addr`, in
 * the manifests directory mode (verified, answered, counted, shown on /resources) and in
 * Kubernetes mode against the fake API server (the target's `reconcile.fluxcd.io/requestedAt`
 * patched, the Receiver's status written).
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookPath } from '../../src/receivers/index.js';
import { eventually } from '../support/fake-apiserver.js';
import { metricValue, startHerald, type HeraldProcess } from '../support/herald.js';

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
});
