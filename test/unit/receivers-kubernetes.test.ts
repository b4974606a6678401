import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { RECONCILE_REQUEST_ANNOTATION, kubernetesReceiverTargets, reconcileRequestValue } from '../../src/receivers/index.js';
import { FakeApiServer, kubeConfigFor } from '../support/fake-apiserver.js';
import { TOKEN, receiverHarness, receiverManifest } from '../support/receivers.js';

let api: FakeApiServer | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

const NOW = new Date('2026-11-30T12:00:00.123Z');
const PUSH = JSON.stringify({ ref: 'refs/heads/main', after: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c', repository: { full_name: 'example-org/webapp' } });
const signed = { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${createHmac('sha256', TOKEN).update(PUSH).digest('hex')}` };

describe('Receivers against the Kubernetes API', () => {
  it('patches reconcile.fluxcd.io/requestedAt on the named object and on each labelled match, with a JSON merge patch', async () => {
    api = await FakeApiServer.start();
    api.register({ group: 'image.toolkit.fluxcd.io', version: 'v1', kind: 'ImageRepository', plural: 'imagerepositories' });
    api.apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'webapp', namespace: 'apps', annotations: { keep: 'me' } } });
    for (const [name, labels] of [['webapp', { app: 'webapp' }], ['api', { app: 'webapp' }], ['other', { app: 'other' }]] as const) {
      api.apply({ apiVersion: 'image.toolkit.fluxcd.io/v1', kind: 'ImageRepository', metadata: { name, namespace: 'apps', labels } });
    }
    const h = receiverHarness({
      manifest: receiverManifest('github', {
        resources: [
          { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: 'webapp' },
          { kind: 'ImageRepository', name: '*', matchLabels: { app: 'webapp' } },
        ],
      }),
      backend: kubernetesReceiverTargets(kubeConfigFor(api), () => NOW),
    });
    const res = await h.send({ payload: PUSH, headers: signed });
    expect(res.statusCode).toBe(200);

    const requested = (apiVersion: string, kind: string, name: string) => api!.get(apiVersion, kind, 'apps', name)?.metadata.annotations?.[RECONCILE_REQUEST_ANNOTATION];
    expect(requested('source.toolkit.fluxcd.io/v1', 'GitRepository', 'webapp')).toBe('2026-11-30 12:00:00.123000000 +0000 UTC');
    expect(api.get('source.toolkit.fluxcd.io/v1', 'GitRepository', 'apps', 'webapp')?.metadata.annotations?.keep).toBe('me');
    expect(requested('image.toolkit.fluxcd.io/v1', 'ImageRepository', 'webapp')).toBe(reconcileRequestValue(NOW));
    expect(requested('image.toolkit.fluxcd.io/v1', 'ImageRepository', 'api')).toBe(reconcileRequestValue(NOW));
    expect(requested('image.toolkit.fluxcd.io/v1', 'ImageRepository', 'other')).toBeUndefined();

    const patches = api.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => r.contentType)).toEqual(Array(3).fill('application/merge-patch+json'));
    expect(patches[0]?.body).toEqual({ metadata: { annotations: { [RECONCILE_REQUEST_ANNOTATION]: reconcileRequestValue(NOW) } } });
    expect(api.requests.find((r) => r.method === 'GET' && r.path.endsWith('/imagerepositories'))?.query.labelSelector).toBe('app=webapp');
  });

  it('answers 500 when a named object is missing or the patch fails, and patches the rest', async () => {
    api = await FakeApiServer.start();
    api.apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'webapp', namespace: 'apps' } });
    const h = receiverHarness({
      manifest: receiverManifest('generic', {
        resources: [
          { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: 'absent' },
          { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: 'webapp' },
        ],
      }),
      backend: kubernetesReceiverTargets(kubeConfigFor(api), () => NOW),
    });
    expect((await h.send({})).statusCode).toBe(500);
    expect(h.reconciled).toEqual(['GitRepository/apps/webapp']);
    api.failNext(/gitrepositories\/webapp/, 500, 1, 'PATCH');
    expect((await h.send({})).statusCode).toBe(500);
  });
});
