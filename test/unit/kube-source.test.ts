/**
 * The Kubernetes source against the fake API server: initial load, changes, Secrets followed by
 * reference, 410 Gone in both forms, reconnecting after failures, one namespace.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ResourceStore } from '../../src/resources/store.js';
import { startKubernetesSource, type KubernetesSource } from '../../src/resources/kubernetes/source.js';
import type { Logger } from '../../src/api/types.js';
import { FakeApiServer, alertObject, eventually, kubeConfigFor, providerObject, secretObject } from '../support/fake-apiserver.js';

const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
const fastBackoff = { initialMs: 20, maxMs: 100 };

let api: FakeApiServer;
let store: ResourceStore;
let source: KubernetesSource | undefined;

beforeEach(async () => {
  api = await FakeApiServer.start();
  store = new ResourceStore();
});

afterEach(async () => {
  await source?.close();
  source = undefined;
  await api.close();
});

function start(namespace?: string, logger: Logger = quiet): KubernetesSource {
  source = startKubernetesSource(store, { namespace, logger, kubeConfig: kubeConfigFor(api), backoff: fastBackoff });
  return source;
}

const alertKeys = () => store.statuses().resources.filter((r) => r.kind === 'Alert').map((r) => `${r.namespace}/${r.name}`);

describe('Kubernetes source', () => {
  it('loads Providers, Alerts and only the Secrets they reference, then marks the store loaded', async () => {
    api.apply(secretObject('hook-token', { token: 's3cr3t' }));
    api.apply(secretObject('unrelated', { token: 'other' }));
    api.apply(providerObject('hook', { type: 'generic', address: 'https://hooks.example.com/x', secretRef: { name: 'hook-token' } }));
    api.apply(alertObject('all', { providerRef: { name: 'hook' } }));
    const src = start();
    expect(store.loaded).toBe(false);
    await eventually(() => store.loaded, 5000, 'store loaded');

    expect(src.watchedSecrets()).toEqual(['flux-system/hook-token']);
    const provider = store.provider('flux-system', 'hook');
    expect(provider?.ready).toBe(true);
    expect(provider?.config?.sensitiveValues).toContain('s3cr3t');
    expect(alertKeys()).toEqual(['flux-system/all']);
    // The Secret informer asked for that one Secret by name, never for the namespace's Secrets.
    const secretLists = api.requests.filter((r) => r.path.endsWith('/secrets'));
    expect(secretLists.length).toBeGreaterThan(0);
    expect(secretLists.every((r) => r.query.fieldSelector === 'metadata.name=hook-token')).toBe(true);
  });

  it('loads Receivers (v1) and watches the Secrets they name', async () => {
    api.apply(secretObject('receiver-token', { token: 'r3c3iv3r' }));
    api.apply({
      apiVersion: 'notification.toolkit.fluxcd.io/v1',
      kind: 'Receiver',
      metadata: { name: 'github', namespace: 'flux-system' },
      spec: { type: 'github', secretRef: { name: 'receiver-token' }, resources: [{ kind: 'GitRepository', name: 'webapp' }] },
    });
    const src = start();
    await eventually(() => store.loaded, 5000, 'store loaded');
    expect(src.watchedSecrets()).toEqual(['flux-system/receiver-token']);
    expect(store.receivers().map((r) => [r.apiVersion, r.metadata.name])).toEqual([['notification.toolkit.fluxcd.io/v1', 'github']]);
    expect(store.secretData('flux-system', 'receiver-token')).toEqual({ token: 'r3c3iv3r' });
    expect(src.objects('Receiver').map((o) => o.metadata?.name)).toEqual(['github']);
  });

  it('loads Providers and Alerts on a cluster without the Receiver CRD', async () => {
    api.failNext(/\/receivers$/, 404, 10_000);
    api.apply(providerObject('hook', { type: 'generic', address: 'https://hooks.example.com/x' }));
    start();
    await eventually(() => store.loaded, 5000, 'store loaded without Receivers');
    expect(store.provider('flux-system', 'hook')?.ready).toBe(true);
    expect(store.receivers()).toEqual([]);
  });

  it('applies additions, changes and deletions after the initial load', async () => {
    api.apply(providerObject('hook', { type: 'generic', address: 'https://hooks.example.com/x' }));
    start();
    await eventually(() => store.loaded);

    api.apply(alertObject('late', { providerRef: { name: 'hook' } }));
    await eventually(() => alertKeys().includes('flux-system/late'), 5000, 'alert added');

    api.apply(alertObject('late', { providerRef: { name: 'missing' } }));
    await eventually(() => store.statuses().resources.find((r) => r.name === 'late')?.ready.reason === 'ProviderNotFound', 5000, 'alert changed');

    api.remove('notification.toolkit.fluxcd.io/v1beta3', 'Alert', 'flux-system', 'late');
    await eventually(() => !alertKeys().includes('flux-system/late'), 5000, 'alert deleted');
  });

  it('a Secret whose data is not base64 makes its Provider say InvalidSecret, at the initial load and on a change', async () => {
    const broken = { ...secretObject('token', {}), data: { token: 'not base64!' } };
    api.apply(providerObject('hook', { type: 'generic', address: 'https://hooks.example.com/x', secretRef: { name: 'token' } }));
    api.apply(broken);
    start();
    await eventually(() => store.loaded);
    expect(store.provider('flux-system', 'hook')).toMatchObject({ reason: 'InvalidSecret', message: expect.stringMatching(/'flux-system\/token'.*data\.token is not valid base64/) });

    api.apply(secretObject('token', { token: 'fixed' }));
    await eventually(() => store.provider('flux-system', 'hook')?.ready, 5000, 'fixed secret seen');
    api.apply({ ...broken, data: { token: 'broken again!' } });
    await eventually(() => store.provider('flux-system', 'hook')?.reason === 'InvalidSecret', 5000, 'broken secret seen');
  });

  it('follows Secret references as Providers change, and sees Secrets created later', async () => {
    api.apply(providerObject('hook', { type: 'generic', address: 'https://hooks.example.com/x', secretRef: { name: 'first' } }));
    const src = start();
    await eventually(() => store.loaded);
    expect(store.provider('flux-system', 'hook')?.reason).toBe('SecretNotFound');

    api.apply(secretObject('first', { token: 'one' }));
    await eventually(() => store.provider('flux-system', 'hook')?.ready, 5000, 'secret created later seen');

    api.apply(secretObject('second', { token: 'two' }));
    api.apply(providerObject('hook', { type: 'generic', address: 'https://hooks.example.com/x', secretRef: { name: 'second' } }));
    await eventually(() => store.provider('flux-system', 'hook')?.config?.sensitiveValues.includes('two'), 5000, 'new secret used');
    expect(src.watchedSecrets()).toEqual(['flux-system/second']);

    api.apply(secretObject('second', { token: 'rotated' }));
    await eventually(() => store.provider('flux-system', 'hook')?.config?.sensitiveValues.includes('rotated'), 5000, 'rotation seen');
  });

  it('does not let an unreadable Secret hold up loading; it is retried and used once readable', async () => {
    api.apply(secretObject('forbidden', { token: 'later' }));
    api.apply(providerObject('hook', { type: 'generic', address: 'https://hooks.example.com/x', secretRef: { name: 'forbidden' } }));
    api.apply(providerObject('other', { type: 'generic', address: 'https://hooks.example.com/y' }));
    api.failNext(/\/secrets$/, 403, 2, 'GET');
    start();
    await eventually(() => store.loaded, 5000, 'loaded despite the Secret');
    expect(store.provider('flux-system', 'other')?.ready).toBe(true);
    await eventually(() => store.provider('flux-system', 'hook')?.ready, 5000, 'secret read after retries');
  });

  it('relists after an ERROR 410 Gone watch event, picking up changes whose events were lost', async () => {
    api.apply(providerObject('hook', { type: 'generic', address: 'https://hooks.example.com/x' }));
    api.apply(alertObject('keep', { providerRef: { name: 'hook' } }));
    api.apply(alertObject('gone', { providerRef: { name: 'hook' } }));
    start();
    await eventually(() => store.loaded);
    await eventually(() => api.openWatches() >= 2, 5000, 'watches open');
    const lists = api.listCount(/\/alerts$/);

    api.setSilently(alertObject('fresh', { providerRef: { name: 'hook' } }));
    api.removeSilently('notification.toolkit.fluxcd.io/v1beta3', 'Alert', 'flux-system', 'gone');
    api.expireWatches();

    await eventually(() => alertKeys().join() === 'flux-system/fresh,flux-system/keep', 5000, 'relisted state');
    expect(api.listCount(/\/alerts$/)).toBeGreaterThan(lists);
    expect(store.provider('flux-system', 'hook')?.ready).toBe(true);
  });

  it('relists after an HTTP 410 on a watch from a compacted resourceVersion', async () => {
    api.goneStyle = 'http';
    api.apply(providerObject('hook', { type: 'generic', address: 'https://hooks.example.com/x' }));
    start();
    await eventually(() => store.loaded);
    await eventually(() => api.openWatches() >= 2, 5000, 'watches open');

    api.setSilently(alertObject('fresh', { providerRef: { name: 'hook' } }));
    api.closeWatches(); // a server-side timeout: the client watches again from its old resourceVersion
    await eventually(() => alertKeys().includes('flux-system/fresh'), 5000, 'relisted');
    const gone = api.requests.filter((r) => r.query.watch === 'true' && r.path.endsWith('/alerts'));
    expect(gone.length).toBeGreaterThanOrEqual(2);
  });

  it('keeps watching across BOOKMARKs and clean watch ends', async () => {
    api.apply(providerObject('hook', { type: 'generic', address: 'https://hooks.example.com/x' }));
    start();
    await eventually(() => store.loaded);
    await eventually(() => api.openWatches() >= 2, 5000, 'watches open');
    api.bookmark();
    api.closeWatches();
    await eventually(() => api.openWatches() >= 2, 5000, 'watches reopened');
    api.apply(alertObject('after', { providerRef: { name: 'hook' } }));
    await eventually(() => alertKeys().includes('flux-system/after'), 5000, 'change after bookmark');
  });

  it('retries with backoff when the API fails, and loads once it answers', async () => {
    api.apply(providerObject('hook', { type: 'generic', address: 'https://hooks.example.com/x' }));
    api.failNext(/\/providers$/, 500, 3, 'GET');
    const warnings: string[] = [];
    start(undefined, { ...quiet, warn: (_o, msg) => warnings.push(msg) });
    await eventually(() => store.loaded, 5000, 'loaded after failures');
    expect(warnings.filter((w) => w.includes('list/watch failed')).length).toBe(3);
    expect(store.provider('flux-system', 'hook')?.ready).toBe(true);
  });

  it('watches one namespace with a namespace set', async () => {
    api.apply(providerObject('hook', { type: 'generic', address: 'https://hooks.example.com/x' }, 'team-a'));
    api.apply(alertObject('mine', { providerRef: { name: 'hook' } }, 'team-a'));
    api.apply(alertObject('theirs', { providerRef: { name: 'hook' } }, 'team-b'));
    start('team-a');
    await eventually(() => store.loaded);
    expect(alertKeys()).toEqual(['team-a/mine']);
    expect(api.requests.filter((r) => r.path.includes('/alerts')).every((r) => r.path.includes('/namespaces/team-a/'))).toBe(true);
  });

  it('does not re-evaluate a resource when only its status changes', async () => {
    api.apply(providerObject('hook', { type: 'generic', address: 'https://hooks.example.com/x' }));
    const src = start();
    await eventually(() => store.loaded);
    const changes: unknown[] = [];
    store.on('changed', (c) => changes.push(c));
    const seen: string[] = [];
    src.onObjectChange((kind, ns, name) => seen.push(`${kind} ${ns}/${name}`));

    const res = await fetch(`${api.url}/apis/notification.toolkit.fluxcd.io/v1beta3/namespaces/flux-system/providers/hook/status`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ status: { observedGeneration: 1 } }),
    });
    expect(res.status).toBe(200);
    await eventually(() => seen.includes('Provider flux-system/hook'), 5000, 'status change seen');
    expect(changes).toEqual([]);
    expect((src.object('Provider', 'flux-system', 'hook') as { status?: unknown }).status).toEqual({ observedGeneration: 1 });
  });
});
