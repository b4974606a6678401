/** matchLabels look-ups in Kubernetes mode: paths without discovery, the cache, failures. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ObjectReference } from '../../src/events/event.js';
import { apiLabelFetcher, cachedLabelLookup, objectPath, pluralOf, type LabelFetcher } from '../../src/resources/kubernetes/labels.js';
import type { Logger } from '../../src/api/types.js';
import { FakeApiServer, kubeConfigFor } from '../support/fake-apiserver.js';

const repo: ObjectReference = { kind: 'GitRepository', namespace: 'flux-system', name: 'podinfo', apiVersion: 'source.toolkit.fluxcd.io/v1' };

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, info: () => undefined, error: () => undefined, warn: (_o, msg) => warnings.push(msg) };
}

describe('pluralOf', () => {
  it.each([
    ['GitRepository', 'gitrepositories'],
    ['OCIRepository', 'ocirepositories'],
    ['ImagePolicy', 'imagepolicies'],
    ['ImageUpdateAutomation', 'imageupdateautomations'],
    ['HelmRelease', 'helmreleases'],
    ['Kustomization', 'kustomizations'],
    ['Ingress', 'ingresses'],
    ['Deployment', 'deployments'],
    ['Gateway', 'gateways'],
    ['Policy', 'policies'],
    ['Box', 'boxes'],
    ['Match', 'matches'],
  ])('%s → %s', (kind, plural) => expect(pluralOf(kind)).toBe(plural));
});

describe('objectPath', () => {
  it('builds the group path from the event, without discovery', () => {
    expect(objectPath(repo)).toEqual({
      path: '/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/podinfo',
      apiVersion: 'source.toolkit.fluxcd.io/v1',
    });
  });

  it('uses /api for the core group', () => {
    expect(objectPath({ kind: 'ConfigMap', namespace: 'a', name: 'b', apiVersion: 'v1' })).toMatchObject({ path: '/api/v1/namespaces/a/configmaps/b' });
  });

  it("falls back to a Flux kind's current apiVersion when the event has none", () => {
    expect(objectPath({ kind: 'Kustomization', namespace: 'a', name: 'b' })).toMatchObject({
      path: '/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/a/kustomizations/b',
    });
  });

  it('gives up on an unknown kind without apiVersion, or no namespace', () => {
    expect(objectPath({ kind: 'Widget', namespace: 'a', name: 'b' })).toHaveProperty('error');
    expect(objectPath({ ...repo, namespace: '' })).toHaveProperty('error');
  });
});

describe('cachedLabelLookup', () => {
  afterEach(() => vi.useRealTimers());

  it('reuses an answer for the TTL, then asks again', async () => {
    let now = 1_000;
    const fetch = vi.fn<LabelFetcher>(async () => ({ team: 'a' }));
    const lookup = cachedLabelLookup({ fetch, logger: recordingLogger(), ttlMs: 30_000, now: () => now });
    expect(await lookup(repo)).toEqual({ team: 'a' });
    now += 29_000;
    expect(await lookup(repo)).toEqual({ team: 'a' });
    expect(fetch).toHaveBeenCalledTimes(1);
    now += 2_000;
    await lookup(repo);
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(fetch).toHaveBeenCalledWith(repo, 'source.toolkit.fluxcd.io/v1');
  });

  it('shares one request between concurrent look-ups of one object', async () => {
    let resolve: (v: Record<string, string>) => void = () => undefined;
    const fetch = vi.fn<LabelFetcher>(() => new Promise((r) => (resolve = r)));
    const lookup = cachedLabelLookup({ fetch, logger: recordingLogger() });
    const both = Promise.all([lookup(repo), lookup(repo)]);
    resolve({ x: 'y' });
    expect(await both).toEqual([{ x: 'y' }, { x: 'y' }]);
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it('caches not-found with a warning, but not errors', async () => {
    const logger = recordingLogger();
    const fetch = vi
      .fn<LabelFetcher>()
      .mockRejectedValueOnce(new Error('connect ECONNREFUSED'))
      .mockResolvedValueOnce(undefined)
      .mockResolvedValue({ late: 'yes' });
    const lookup = cachedLabelLookup({ fetch, logger });
    expect(await lookup(repo)).toBeUndefined();
    expect(await lookup(repo)).toBeUndefined();
    expect(await lookup(repo)).toBeUndefined();
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(logger.warnings).toEqual([
      'cannot look up the labels of the involved object; matchLabels does not match',
      'involved object not found; matchLabels does not match',
    ]);
  });

  it('keeps at most maxEntries answers', async () => {
    const fetch = vi.fn<LabelFetcher>(async (ref) => ({ name: ref.name }));
    const lookup = cachedLabelLookup({ fetch, logger: recordingLogger(), maxEntries: 2 });
    for (const name of ['a', 'b', 'c']) await lookup({ ...repo, name });
    await lookup({ ...repo, name: 'c' });
    await lookup({ ...repo, name: 'a' });
    expect(fetch.mock.calls.map(([ref]) => ref.name)).toEqual(['a', 'b', 'c', 'a']);
  });

  it('answers no labels, with a warning, when the event cannot name an object', async () => {
    const logger = recordingLogger();
    const fetch = vi.fn<LabelFetcher>();
    const lookup = cachedLabelLookup({ fetch, logger });
    expect(await lookup({ kind: 'Widget', name: 'w', namespace: 'a' })).toBeUndefined();
    expect(fetch).not.toHaveBeenCalled();
    expect(logger.warnings).toHaveLength(1);
  });
});

describe('apiLabelFetcher', () => {
  let api: FakeApiServer | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  it('GETs the object by its discovery-free path asking for metadata only; 404 is undefined', async () => {
    api = await FakeApiServer.start();
    api.apply({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'podinfo', namespace: 'flux-system', labels: { team: 'a' } } });
    const fetch = apiLabelFetcher(kubeConfigFor(api));
    expect(await fetch(repo, 'source.toolkit.fluxcd.io/v1')).toEqual({ team: 'a' });
    expect(await fetch({ ...repo, name: 'absent' }, 'source.toolkit.fluxcd.io/v1')).toBeUndefined();
    expect(api.requests.map((r) => r.path)).toEqual([
      '/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/podinfo',
      '/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/absent',
    ]);
    expect(api.requests[0]?.accept).toBe('application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json');
  });

  it('rejects on other failures (the look-up then logs and does not match)', async () => {
    api = await FakeApiServer.start();
    api.failNext(/gitrepositories/, 403);
    await expect(apiLabelFetcher(kubeConfigFor(api))(repo, 'source.toolkit.fluxcd.io/v1')).rejects.toThrow();
  });
});
