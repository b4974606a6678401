/**
 * ImageRepository and ImagePolicy reconciles: status, conditions, requeue and the Flux events
 * they emit, over an in-memory tag store and a registry client that answers from a table.
 */
import { describe, expect, it } from 'vitest';
import { reconcileImagePolicy, type PolicyEnvironment } from '../../src/image/image-policy.js';
import { validateImagePolicy, validateImageRepository, type ValidImagePolicy, type ValidImageRepository } from '../../src/image/manifests.js';
import { RegistryError, type RegistryClient } from '../../src/image/registry.js';
import { reconcileImageRepository, tagsRevision, type RepositoryEnvironment } from '../../src/image/repository.js';
import { MemoryRefStore } from '../../src/image/ref-store.js';
import { MemoryTagStore } from '../../src/image/tag-store.js';
import type { ImageRepository } from '../../src/image/types.js';

const T0 = new Date('2026-01-01T10:00:00Z');

function repository(spec: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}): ValidImageRepository {
  const v = validateImageRepository({
    apiVersion: 'image.toolkit.fluxcd.io/v1',
    kind: 'ImageRepository',
    metadata: { name: 'app', namespace: 'apps', generation: 1, ...metadata },
    spec: { image: 'ghcr.io/team/app', interval: '5m', ...spec },
  });
  if (!v.ok) throw new Error(v.errors.join('; '));
  return v.object;
}

interface World {
  tags: string[];
  failWith?: string;
  listCalls: number;
  digestCalls: number;
  now: Date;
  store: MemoryTagStore;
  secrets: Record<string, Record<string, string>>;
}

function world(tags: string[]): World {
  return { tags, listCalls: 0, digestCalls: 0, now: T0, store: new MemoryTagStore(), secrets: {} };
}

function repoEnv(w: World): RepositoryEnvironment {
  const client: RegistryClient = {
    async listTags() {
      w.listCalls++;
      if (w.failWith) throw new RegistryError(w.failWith);
      return [...w.tags];
    },
    async digest(_ref, tag) {
      w.digestCalls++;
      return `sha256:${tag.replace(/\W/g, '')}`;
    },
    async close() {},
  };
  return {
    store: w.store,
    secret: (ns, name) => (w.secrets[`${ns}/${name}`] ? { metadata: { namespace: ns, name }, data: w.secrets[`${ns}/${name}`] ?? {} } : undefined),
    client: () => client,
    now: () => w.now,
  };
}

async function scan(w: World, valid: ValidImageRepository) {
  const out = await reconcileImageRepository(valid, repoEnv(w));
  valid.resource.status = out.status;
  return out;
}

function later(w: World, ms: number) {
  w.now = new Date(w.now.getTime() + ms);
}

describe('ImageRepository reconcile', () => {
  it('first scan: lastScanResult, canonical name, Ready, an info event', async () => {
    const w = world(['1.0.0', '1.2.0', 'latest', 'sha256-abc.sig', ...Array.from({ length: 10 }, (_, i) => `0.${i}.0`)]);
    const repo = repository();
    const out = await scan(w, repo);
    const stored = ['latest', '1.2.0', '1.0.0', '0.9.0', '0.8.0', '0.7.0', '0.6.0', '0.5.0', '0.4.0', '0.3.0', '0.2.0', '0.1.0', '0.0.0'];
    expect(out.status.lastScanResult).toEqual({
      revision: tagsRevision(stored),
      tagCount: 13,
      scanTime: T0.toISOString(),
      latestTags: stored.slice(0, 10),
    });
    expect(out.status.lastScanResult?.revision).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(out.status.canonicalImageName).toBe('ghcr.io/team/app');
    expect(out.status.observedExclusionList).toEqual(['^.*\\.sig$']);
    expect(out.status.observedGeneration).toBe(1);
    const message = `successful scan: found 13 tags with checksum ${tagsRevision(stored)}`;
    expect(out.status.conditions).toEqual([{ type: 'Ready', status: 'True', reason: 'Succeeded', message, observedGeneration: 1, lastTransitionTime: T0.toISOString() }]);
    expect(out.requeue).toEqual({ afterMs: 300_000 });
    expect(out.event).toEqual({
      involvedObject: { kind: 'ImageRepository', name: 'app', namespace: 'apps', apiVersion: 'image.toolkit.fluxcd.io/v1' },
      severity: 'info',
      timestamp: T0.toISOString(),
      message,
      reason: 'Succeeded',
      reportingController: 'image-reflector-controller',
    });
  });

  it('a custom exclusion list replaces the default', async () => {
    const w = world(['a.sig', 'dev-1', 'v1']);
    const out = await scan(w, repository({ exclusionList: ['^dev-'] }));
    expect(out.status.lastScanResult?.latestTags).toEqual(['v1', 'a.sig']);
  });

  it('before the interval: no scan, a trace with the remaining time, no event', async () => {
    const w = world(['v1']);
    const repo = repository();
    await scan(w, repo);
    later(w, 30_500);
    const out = await scan(w, repo);
    expect(w.listCalls).toBe(1);
    expect(out.event).toBeUndefined();
    expect(out.trace).toBe('no change in repository configuration since last scan, next scan in 4m29.5s');
    expect(out.requeue).toEqual({ afterMs: 269_500 });
  });

  it('after the interval: the same tags give a trace, new tags an info event', async () => {
    const w = world(['v1']);
    const repo = repository();
    await scan(w, repo);
    later(w, 300_000);
    const same = await scan(w, repo);
    expect(w.listCalls).toBe(2);
    expect(same.event).toBeUndefined();
    expect(same.trace).toBe('tags did not change, next scan in 5m0s');
    later(w, 300_000);
    w.tags = ['v1', 'v2'];
    const changed = await scan(w, repo);
    expect(changed.event?.severity).toBe('info');
    expect(changed.event?.message).toBe(`successful scan: found 2 tags with checksum ${tagsRevision(['v2', 'v1'])}`);
  });

  it('a failed scan: Ready False ReadOperationFailed, Reconciling with retry, an error event; then recovery', async () => {
    const w = world(['v1']);
    w.failWith = 'GET https://ghcr.io/v2/team/app/tags/list?n=1000: unexpected status code 503 Service Unavailable';
    const repo = repository();
    const out = await scan(w, repo);
    expect(out.status.conditions).toEqual([
      { type: 'Ready', status: 'False', reason: 'ReadOperationFailed', message: `scan failed: ${w.failWith}`, observedGeneration: 1, lastTransitionTime: T0.toISOString() },
      { type: 'Reconciling', status: 'True', reason: 'ProgressingWithRetry', message: 'scanning: first scan', observedGeneration: 1, lastTransitionTime: T0.toISOString() },
    ]);
    expect(out.requeue).toBe('backoff');
    expect(out.event).toMatchObject({ severity: 'error', reason: 'ReadOperationFailed', message: `scan failed: ${w.failWith}` });
    // A failing generation is not recorded as observed (Flux records it only when ready or stalled).
    expect(out.status.observedGeneration).toBeUndefined();
    w.failWith = undefined;
    later(w, 1000);
    const recovered = await scan(w, repo);
    expect(recovered.event).toMatchObject({ severity: 'info', reason: 'Succeeded' });
    expect(recovered.status.conditions?.map((c) => c.type)).toEqual(['Ready']);
  });

  it('an image with a tag stalls with ImageURLInvalid and is not retried', async () => {
    const w = world(['v1']);
    const repo = repository();
    repo.resource.spec.image = 'ghcr.io/team/app:v1';
    const out = await scan(w, repo);
    const message = "image 'ghcr.io/team/app:v1' should not include a tag; remove ':v1'";
    expect(out.status.conditions?.map((c) => [c.type, c.status, c.reason, c.message])).toEqual([
      ['Ready', 'False', 'ImageURLInvalid', message],
      ['Stalled', 'True', 'ImageURLInvalid', message],
    ]);
    expect(out.requeue).toBeUndefined();
    expect(out.event?.severity).toBe('error');
    expect(out.status.observedGeneration).toBe(1);
    expect(w.listCalls).toBe(0);
  });

  it('a cloud provider (aws, azure, gcp) stalls: Herald only speaks generic registries', async () => {
    const w = world(['v1']);
    const out = await scan(w, repository({ provider: 'aws' }));
    expect(out.status.conditions?.map((c) => [c.type, c.reason])).toEqual([
      ['Ready', 'AuthenticationFailed'],
      ['Stalled', 'AuthenticationFailed'],
    ]);
    expect(out.status.conditions?.[0]?.message).toBe(
      "failed to configure authentication options: spec.provider 'aws' is not supported by Herald; use 'generic' with spec.secretRef",
    );
    expect(w.listCalls).toBe(0);
  });

  it('a missing pull Secret: AuthenticationFailed naming the field and Secret', async () => {
    const w = world(['v1']);
    const out = await scan(w, repository({ secretRef: { name: 'regcred' } }));
    expect(out.status.conditions?.[0]).toMatchObject({
      reason: 'AuthenticationFailed',
      message: "failed to configure authentication options: spec.secretRef: secret 'apps/regcred' not found",
    });
  });

  it('a malformed pull Secret: AuthenticationFailed naming the key, never its value', async () => {
    const w = world(['v1']);
    w.secrets['apps/regcred'] = { '.dockerconfigjson': '{"auths": "hunter2-secret"' };
    const out = await scan(w, repository({ secretRef: { name: 'regcred' } }));
    expect(out.status.conditions?.[0]?.message).toBe(
      "failed to configure authentication options: secret 'apps/regcred' key '.dockerconfigjson' is not valid JSON",
    );
    expect(JSON.stringify(out)).not.toContain('hunter2');
  });

  it('a bad exclusion pattern fails the scan with the compile error', async () => {
    const w = world(['v1']);
    const out = await scan(w, repository({ exclusionList: ['('] }));
    expect(out.status.conditions?.[0]?.message).toBe('scan failed: failed to compile regex (: error parsing regexp: missing closing ): `(`');
  });

  it('after a restart (no status), the stored scan stands in: no rescan, no event', async () => {
    const w = world(['v1', 'v2']);
    await scan(w, repository());
    later(w, 60_000);
    const fresh = repository();
    const out = await scan(w, fresh);
    expect(w.listCalls).toBe(1);
    expect(out.event).toBeUndefined();
    expect(out.requeue).toEqual({ afterMs: 240_000 });
    expect(out.status.lastScanResult).toMatchObject({ tagCount: 2, scanTime: T0.toISOString() });
    expect(out.status.conditions?.[0]).toMatchObject({ status: 'True', message: `successful scan: found 2 tags with checksum ${tagsRevision(['v2', 'v1'])}` });
  });

  it('after a restart with another image, the stored scan does not count', async () => {
    const w = world(['v1']);
    await scan(w, repository());
    const moved = repository({ image: 'ghcr.io/team/other' });
    const out = await scan(w, moved);
    expect(w.listCalls).toBe(2);
    expect(out.status.canonicalImageName).toBe('ghcr.io/team/other');
  });

  it('a reconcile request rescans at once and is recorded', async () => {
    const w = world(['v1']);
    const repo = repository();
    await scan(w, repo);
    repo.resource.metadata.annotations = { 'reconcile.fluxcd.io/requestedAt': 'now-1' };
    const out = await scan(w, repo);
    expect(w.listCalls).toBe(2);
    expect(out.status.lastHandledReconcileAt).toBe('now-1');
    await scan(w, repo);
    expect(w.listCalls).toBe(2);
  });

  it('suspended: nothing happens', async () => {
    const w = world(['v1']);
    const out = await scan(w, repository({ suspend: true }));
    expect(out).toEqual({ status: {} });
    expect(w.listCalls).toBe(0);
  });
});

function policy(spec: Record<string, unknown>, namespace = 'apps'): ValidImagePolicy {
  const v = validateImagePolicy({
    apiVersion: 'image.toolkit.fluxcd.io/v1',
    kind: 'ImagePolicy',
    metadata: { name: 'app', namespace, generation: 1 },
    spec: { imageRepositoryRef: { name: 'app' }, ...spec },
  });
  if (!v.ok) throw new Error(v.errors.join('; '));
  return v.object;
}

async function policyWorld(tags: string[], repoSpec: Record<string, unknown> = {}) {
  const w = world(tags);
  const repo = repository(repoSpec);
  await scan(w, repo);
  const repos: Record<string, ImageRepository> = { 'apps/app': repo.resource };
  const env: PolicyEnvironment & { digestFail?: string } = {
    store: w.store,
    repository: (ns, name) => repos[`${ns}/${name}`],
    digest: async (_repo, tag) => {
      w.digestCalls++;
      if (env.digestFail) throw new Error(env.digestFail);
      return `sha256:${tag.replace(/\W/g, '')}`;
    },
    now: () => w.now,
  };
  const run = async (p: ValidImagePolicy) => {
    const out = await reconcileImagePolicy(p, env);
    p.resource.status = out.status;
    return out;
  };
  return { w, repo, env, run, repos };
}

describe('ImagePolicy reconcile', () => {
  it('selects, writes latestRef and the Ready message, emits an info event once', async () => {
    const { run } = await policyWorld(['1.0.0', '1.2.0', 'latest']);
    const p = policy({ policy: { semver: { range: '>=1.0.0' } } });
    const out = await run(p);
    expect(out.status.latestRef).toEqual({ name: 'ghcr.io/team/app', tag: '1.2.0' });
    expect(out.status.observedPreviousRef).toBeUndefined();
    expect(out.event).toMatchObject({
      involvedObject: { kind: 'ImagePolicy', name: 'app', namespace: 'apps', apiVersion: 'image.toolkit.fluxcd.io/v1' },
      severity: 'info',
      reason: 'Succeeded',
      message: 'Latest image tag for ghcr.io/team/app resolved to 1.2.0',
      reportingController: 'image-reflector-controller',
    });
    expect(out.requeue).toEqual({ afterMs: 600_000 });
    const again = await run(p);
    expect(again.event).toBeUndefined();
    expect(again.trace).toBe('Latest image tag for ghcr.io/team/app resolved to 1.2.0');
  });

  it('a new tag: observedPreviousRef and "(previously …)" in the message and event', async () => {
    const { w, repo, run } = await policyWorld(['1.0.0']);
    const p = policy({ policy: { semver: { range: '>=1.0.0' } } });
    await run(p);
    w.tags = ['1.0.0', '1.1.0'];
    later(w, 300_000);
    await scan(w, repo);
    const out = await run(p);
    expect(out.status.latestRef?.tag).toBe('1.1.0');
    expect(out.status.observedPreviousRef).toEqual({ name: 'ghcr.io/team/app', tag: '1.0.0' });
    expect(out.event?.message).toBe('Latest image tag for ghcr.io/team/app resolved to 1.1.0 (previously ghcr.io/team/app:1.0.0)');
  });

  it('digest IfNotPresent: fetched once and kept; Always: fetched every time', async () => {
    const { w, run } = await policyWorld(['v1']);
    const ifNotPresent = policy({ policy: { alphabetical: {} }, digestReflectionPolicy: 'IfNotPresent' });
    const first = await run(ifNotPresent);
    expect(first.status.latestRef).toEqual({ name: 'ghcr.io/team/app', tag: 'v1', digest: 'sha256:v1' });
    expect(first.event?.message).toBe('Latest image tag for ghcr.io/team/app resolved to v1 with digest sha256:v1');
    await run(ifNotPresent);
    expect(w.digestCalls).toBe(1);
    const always = policy({ policy: { alphabetical: {} }, digestReflectionPolicy: 'Always', interval: '1m' });
    await run(always);
    const again = await run(always);
    expect(w.digestCalls).toBe(3);
    expect(again.requeue).toEqual({ afterMs: 60_000 });
  });

  it('a digest failure names the ref', async () => {
    const { env, run } = await policyWorld(['v1']);
    env.digestFail = 'HEAD https://ghcr.io/v2/team/app/manifests/v1: unexpected status code 404 Not Found';
    const out = await run(policy({ policy: { alphabetical: {} }, digestReflectionPolicy: 'IfNotPresent' }));
    expect(out.status.conditions?.[0]).toMatchObject({ reason: 'Failure', message: `failed fetching digest of ghcr.io/team/app:v1: ${env.digestFail}` });
  });

  it('a missing ImageRepository: DependencyNotReady with Flux wording', async () => {
    const { run } = await policyWorld(['v1']);
    const out = await run(policy({ imageRepositoryRef: { name: 'gone' }, policy: { alphabetical: {} } }));
    expect(out.status.conditions?.[0]).toMatchObject({
      status: 'False',
      reason: 'DependencyNotReady',
      message: 'failed to get the referred ImageRepository: referenced ImageRepository does not exist: imagerepositories.image.toolkit.fluxcd.io "gone" not found',
    });
    expect(out.event?.severity).toBe('error');
  });

  it('no tags yet: retrying in 30s', async () => {
    const { run } = await policyWorld([]);
    const out = await run(policy({ policy: { alphabetical: {} } }));
    expect(out.status.conditions?.[0]).toMatchObject({ reason: 'DependencyNotReady', message: 'retrying in 30s error: no tags in database' });
    expect(out.requeue).toEqual({ afterMs: 30_000 });
  });

  it('an invalid range stalls with InvalidPolicy', async () => {
    const { run } = await policyWorld(['v1']);
    const p = policy({ policy: { alphabetical: {} } });
    p.resource.spec.policy = { semver: { range: 'not-a-range' } };
    const out = await run(p);
    expect(out.status.conditions?.map((c) => [c.type, c.reason, c.message])).toEqual([
      ['Ready', 'InvalidPolicy', 'invalid policy: improper constraint: "not-a-range"'],
      ['Stalled', 'InvalidPolicy', 'invalid policy: improper constraint: "not-a-range"'],
    ]);
    expect(out.requeue).toBeUndefined();
  });

  it('nothing in range: Failure with the reason, latestRef kept', async () => {
    const { w, repo, run } = await policyWorld(['1.0.0']);
    const p = policy({ policy: { semver: { range: '^1' } } });
    await run(p);
    w.tags = ['2.0.0'];
    later(w, 300_000);
    await scan(w, repo);
    const out = await run(p);
    expect(out.status.conditions?.[0]).toMatchObject({
      reason: 'Failure',
      message: "unable to determine latest version from provided list (1 of 1 tags are semantic versions, none in range '^1')",
    });
    expect(out.status.latestRef?.tag).toBe('1.0.0');
    expect(out.event?.severity).toBe('error');
  });

  it('cross-namespace: denied without accessFrom, allowed with it, blocked by the flag', async () => {
    const { env, run } = await policyWorld(['v1']);
    const other = policy({ imageRepositoryRef: { name: 'app', namespace: 'apps' }, policy: { alphabetical: {} } }, 'web');
    const denied = await run(other);
    expect(denied.status.conditions?.[0]).toMatchObject({
      reason: 'AccessDenied',
      message: "failed to get the referred ImageRepository: access denied: 'ImageRepository/apps/app' does not admit namespace 'web' in spec.accessFrom",
    });
    const repo = env.repository('apps', 'app') as ImageRepository;
    repo.spec.accessFrom = { namespaceSelectors: [{ matchLabels: {} }] };
    other.resource.status = undefined;
    expect((await run(other)).status.latestRef?.tag).toBe('v1');
    env.noCrossNamespaceRefs = true;
    expect((await run(other)).status.conditions?.[0]?.message).toBe(
      "failed to get the referred ImageRepository: cannot access 'ImageRepository/apps/app', cross-namespace references have been blocked",
    );
  });

  it('after a restart (no status), the stored latestRef stands in: no event unless the tag changed', async () => {
    const { w, repo, env, run } = await policyWorld(['1.0.0']);
    env.refs = new MemoryRefStore();
    const spec = { policy: { semver: { range: '>=1.0.0' } } };
    expect((await run(policy(spec))).event?.severity).toBe('info');
    const restarted = await run(policy(spec));
    expect(restarted.event).toBeUndefined();
    expect(restarted.trace).toBe('Latest image tag for ghcr.io/team/app resolved to 1.0.0');
    expect(restarted.status.latestRef).toEqual({ name: 'ghcr.io/team/app', tag: '1.0.0' });
    w.tags = ['1.0.0', '1.1.0'];
    later(w, 300_000);
    await scan(w, repo);
    const changed = await run(policy(spec));
    expect(changed.event?.message).toBe('Latest image tag for ghcr.io/team/app resolved to 1.1.0 (previously ghcr.io/team/app:1.0.0)');
  });

  it('suspended: nothing happens', async () => {
    const { run } = await policyWorld(['v1']);
    const out = await run(policy({ policy: { alphabetical: {} }, suspend: true }));
    expect(out).toEqual({ status: {} });
  });
});
