/**
 * Kubernetes mode end to end: Herald as a process with `--kubernetes`, pointed by KUBECONFIG at
 * the fake API server (test/support/fake-apiserver.ts), delivering to a local sink. One Herald
 * runs through the whole story in order: deliver, status written, change, matchLabels, an Event
 * for a dispatch failure, 410 Gone, deletion, and the Lease released at shutdown.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { kustomizationEvent } from '../support/events.js';
import { FakeApiServer, NOTIFICATION_V1BETA3, alertObject, eventually, providerObject, readyConditionOf } from '../support/fake-apiserver.js';
import { startHerald, type HeraldProcess } from '../support/herald.js';
import { startSink, type Sink } from '../support/sink.js';

const NS = 'flux-system';
let api: FakeApiServer;
let sink: Sink;
let herald: HeraldProcess;

function gitRepositoryEvent(name: string, message: string): FluxEvent {
  return kustomizationEvent({
    involvedObject: { kind: 'GitRepository', namespace: NS, name, apiVersion: 'source.toolkit.fluxcd.io/v1' },
    message,
    reason: 'NewArtifact',
    metadata: {},
    reportingController: 'source-controller',
  });
}

/** Messages the sink received, in order. */
function delivered(): string[] {
  return sink.requests.filter((r) => r.url !== '/broken').map((r) => (JSON.parse(r.body) as FluxEvent).message);
}

async function post(event: FluxEvent): Promise<void> {
  const res = await herald.postEvent(event);
  expect(res.status).toBe(202);
}

/** Posts `event`, then a sentinel that must arrive; after it, `event` must not have arrived. */
async function expectNotDelivered(event: FluxEvent, sentinel: FluxEvent): Promise<void> {
  await post(event);
  await post(sentinel);
  await eventually(() => delivered().includes(sentinel.message), 10_000, `sentinel "${sentinel.message}" delivered`);
  await new Promise((r) => setTimeout(r, 200));
  expect(delivered()).not.toContain(event.message);
}

const alertStatus = (name: string) => readyConditionOf(api.get(NOTIFICATION_V1BETA3, 'Alert', NS, name));

beforeAll(async () => {
  api = await FakeApiServer.start();
  sink = await startSink((req) => (req.url === '/broken' ? { status: 400, body: 'bad request' } : { status: 200 }));
  api.apply(providerObject('sink', { type: 'generic', address: `${sink.url}/hook` }));
  api.apply(alertObject('apps', { providerRef: { name: 'sink' } }));
  api.apply(alertObject('team-a', { providerRef: { name: 'sink' }, eventSources: [{ kind: 'GitRepository', name: '*', matchLabels: { team: 'a' } }] }));
  api.apply(alertObject('orphan', { providerRef: { name: 'missing' }, eventSources: [{ kind: 'HelmRelease', name: '*' }] }));
  api.apply(providerObject('broken', { type: 'generic', address: `${sink.url}/broken` }));
  api.apply(alertObject('rejected', { providerRef: { name: 'broken' }, eventSources: [{ kind: 'Bucket', name: '*' }] }));
  api.apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'podinfo', namespace: NS, labels: { team: 'a' } }, spec: {} });
  api.apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'other', namespace: NS, labels: { team: 'b' } }, spec: {} });
  herald = await startHerald({
    kubernetes: true,
    env: { KUBECONFIG: api.kubeconfigPath, HERALD_POD_NAMESPACE: NS },
    extraArgs: ['--retry-base-delay', '100ms', '--retry-max-delay', '400ms'],
  });
});

afterAll(async () => {
  await herald?.stop();
  await herald?.cleanup();
  await sink?.close();
  await api?.close();
});

describe('Kubernetes mode', () => {
  it('delivers an event through a Provider and an Alert read from the API', async () => {
    await post(kustomizationEvent({ message: 'first delivery' }));
    const [req] = await sink.waitFor(1);
    expect(req?.url).toBe('/hook');
    expect(delivered()).toEqual(['first delivery']);
  });

  it('writes the Ready condition to Providers and Alerts through the status subresource, holding the Lease', async () => {
    await eventually(() => readyConditionOf(api.get(NOTIFICATION_V1BETA3, 'Provider', NS, 'sink'))?.status === 'True', 10_000, 'provider status');
    expect(readyConditionOf(api.get(NOTIFICATION_V1BETA3, 'Provider', NS, 'sink'))).toMatchObject({
      status: 'True',
      reason: 'Succeeded',
      message: 'Provider is ready',
      observedGeneration: 1,
    });
    await eventually(() => alertStatus('apps')?.status === 'True' && alertStatus('orphan'), 10_000, 'alert statuses');
    expect(alertStatus('apps')).toMatchObject({ reason: 'Succeeded', observedGeneration: 1 });
    expect(alertStatus('orphan')).toMatchObject({ status: 'False', reason: 'ProviderNotFound' });
    expect(api.get(NOTIFICATION_V1BETA3, 'Alert', NS, 'apps')?.status).toMatchObject({ observedGeneration: 1 });

    const patches = api.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith('/status'));
    expect(patches.every((r) => r.contentType === 'application/merge-patch+json')).toBe(true);
    const lease = api.get('coordination.k8s.io/v1', 'Lease', NS, 'herald-leader');
    expect((lease?.spec as { holderIdentity?: string }).holderIdentity).toMatch(new RegExp(`_${herald.pid}$`));

    // Unchanged statuses are not written again.
    const all = [...api.list(NOTIFICATION_V1BETA3, 'Provider'), ...api.list(NOTIFICATION_V1BETA3, 'Alert')];
    await eventually(() => all.every((o) => readyConditionOf(api.get(NOTIFICATION_V1BETA3, o.kind ?? '', NS, o.metadata.name))), 10_000, 'all written');
    const written = api.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith('/status')).length;
    expect(written).toBe(all.length);
    await new Promise((r) => setTimeout(r, 300));
    expect(api.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith('/status')).length).toBe(written);
  });

  it('applies a changed Alert: its new exclusionList takes effect', async () => {
    api.apply(alertObject('apps', { providerRef: { name: 'sink' }, exclusionList: ['skip me'] }));
    await eventually(() => alertStatus('apps')?.observedGeneration === 2, 10_000, 'alert generation 2 observed');
    await expectNotDelivered(kustomizationEvent({ message: 'please skip me' }), kustomizationEvent({ message: 'after the change' }));
  });

  it('matches matchLabels against the labels of the object the API serves', async () => {
    await expectNotDelivered(gitRepositoryEvent('other', 'team b repository'), gitRepositoryEvent('podinfo', 'team a repository'));
    const lookups = api.requests.filter((r) => r.path === `/apis/source.toolkit.fluxcd.io/v1/namespaces/${NS}/gitrepositories/podinfo`);
    expect(lookups.length).toBe(1);
    expect(lookups[0]?.accept).toContain('as=PartialObjectMetadata');
  });

  it('records a Kubernetes Event on the Alert when its Provider does not exist', async () => {
    const helmEvent = kustomizationEvent({
      involvedObject: { kind: 'HelmRelease', namespace: NS, name: 'podinfo', apiVersion: 'helm.toolkit.fluxcd.io/v2' },
      message: 'Helm upgrade failed',
      severity: 'error',
      metadata: {},
    });
    await post(helmEvent);
    const [event] = await eventually(() => {
      const events = api.events(NS).filter((e) => (e.involvedObject as { name?: string }).name === 'orphan');
      return events.length > 0 ? events : undefined;
    }, 10_000, 'Event recorded');
    expect(event).toMatchObject({
      type: 'Warning',
      reason: 'NotificationDispatchFailed',
      message: `failed to dispatch notification for HelmRelease/${NS}/podinfo: failed to read provider: Provider.notification.toolkit.fluxcd.io "missing" not found`,
      involvedObject: { kind: 'Alert', namespace: NS, name: 'orphan', apiVersion: NOTIFICATION_V1BETA3 },
      source: { component: 'herald' },
      count: 1,
    });
    expect((event?.involvedObject as { uid?: string }).uid).toBe(api.get(NOTIFICATION_V1BETA3, 'Alert', NS, 'orphan')?.metadata.uid);
  });

  it('records a Kubernetes Event on the Alert when a delivery fails for good', async () => {
    await post(
      kustomizationEvent({
        involvedObject: { kind: 'Bucket', namespace: NS, name: 'assets', apiVersion: 'source.toolkit.fluxcd.io/v1' },
        message: 'bucket event',
        metadata: {},
      }),
    );
    const [event] = await eventually(() => {
      const events = api.events(NS).filter((e) => (e.involvedObject as { name?: string }).name === 'rejected');
      return events.length > 0 ? events : undefined;
    }, 10_000, 'Event recorded');
    expect(event).toMatchObject({ type: 'Warning', reason: 'NotificationDispatchFailed' });
    expect(event?.message).toMatch(new RegExp(`^failed to send notification for Bucket/${NS}/assets: .*400`));
  });

  it('recovers from 410 Gone mid-watch by relisting, without losing state', async () => {
    await eventually(() => api.openWatches() >= 2, 5000, 'watches open');
    const lists = api.listCount(/\/alerts$/);
    // An Alert whose ADDED event is lost to compaction: only a relist can find it.
    api.setSilently(alertObject('silent', { providerRef: { name: 'sink' }, eventSources: [{ kind: 'GitRepository', name: 'silent' }] }));
    api.expireWatches();
    await eventually(() => api.listCount(/\/alerts$/) > lists, 10_000, 'relist');
    await eventually(async () => {
      const res = await fetch(`${herald.healthUrl}/resources`);
      const body = (await res.json()) as { resources: Array<{ kind: string; name: string }> };
      return body.resources.some((r) => r.kind === 'Alert' && r.name === 'silent');
    }, 10_000, 'silent Alert loaded');
    await post(gitRepositoryEvent('silent', 'found after relist'));
    await post(kustomizationEvent({ message: 'still delivered after relist' }));
    await eventually(
      () => delivered().includes('found after relist') && delivered().includes('still delivered after relist'),
      10_000,
      'deliveries after relist',
    );
  });

  it('stops delivering for a deleted Alert', async () => {
    api.remove(NOTIFICATION_V1BETA3, 'Alert', NS, 'apps');
    await eventually(async () => {
      const res = await fetch(`${herald.healthUrl}/resources`);
      const body = (await res.json()) as { resources: Array<{ kind: string; name: string }> };
      return !body.resources.some((r) => r.kind === 'Alert' && r.name === 'apps');
    }, 10_000, 'Alert gone from Herald');
    await expectNotDelivered(kustomizationEvent({ message: 'after the deletion' }), gitRepositoryEvent('podinfo', 'sentinel after deletion'));
  });

  it('releases the Lease at shutdown', async () => {
    expect(await herald.stop()).toBe(0);
    const lease = api.get('coordination.k8s.io/v1', 'Lease', NS, 'herald-leader');
    expect((lease?.spec as { holderIdentity?: string }).holderIdentity ?? '').toBe('');
  });
});
