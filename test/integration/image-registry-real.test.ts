/**
 * A scan of a real registry: Debian's docker-registry (distribution 2.8) on loopback, tags
 * pushed over HTTP, then the ImageRepository reconcile lists them through the registry client
 * and the ImagePolicy picks the latest with its digest. Skipped (with the reason printed) only
 * when the binary is missing; CI installs it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reconcileImagePolicy } from '../../src/image/image-policy.js';
import { validateImagePolicy, validateImageRepository } from '../../src/image/manifests.js';
import { createRegistryClient } from '../../src/image/registry.js';
import { fetchDigest, reconcileImageRepository, tagsRevision, type RepositoryEnvironment } from '../../src/image/repository.js';
import { MemoryTagStore } from '../../src/image/tag-store.js';
import { dockerRegistryPath, startDockerRegistry, type DockerRegistry } from '../support/docker-registry.js';

if (!dockerRegistryPath) {
  console.warn('image-registry-real: skipped, docker-registry is not installed (apt-get install docker-registry)');
}

describe.skipIf(!dockerRegistryPath)('a real registry (docker-registry)', () => {
  let registry: DockerRegistry;
  const digests: Record<string, string> = {};
  const client = createRegistryClient({ maxAttempts: 2 });

  beforeAll(async () => {
    registry = await startDockerRegistry();
    for (const tag of ['1.0.0', '1.1.0', '1.2.0-rc.1', 'v2.0.0', 'latest', 'sha256-abc.sig']) {
      digests[tag] = await registry.push('team/app', tag);
    }
  });

  afterAll(async () => {
    await client.close();
    await registry?.stop();
  });

  it('scans the tags, drops signatures, and the policy selects the latest with its digest', async () => {
    const repo = validateImageRepository({
      apiVersion: 'image.toolkit.fluxcd.io/v1beta2',
      kind: 'ImageRepository',
      metadata: { name: 'app', namespace: 'apps', generation: 1 },
      spec: { image: `${registry.host}/team/app`, interval: '5m', timeout: '20s' },
    });
    if (!repo.ok) throw new Error(repo.errors.join('; '));
    const store = new MemoryTagStore();
    const env: RepositoryEnvironment = { store, secret: () => undefined, client: () => client };

    const scanned = await reconcileImageRepository(repo.object, env);
    const expected = ['v2.0.0', 'latest', '1.2.0-rc.1', '1.1.0', '1.0.0'];
    expect(scanned.status.lastScanResult).toMatchObject({ tagCount: 5, latestTags: expected, revision: tagsRevision(expected) });
    expect(scanned.status.canonicalImageName).toBe(`${registry.host}/team/app`);
    expect(scanned.event).toMatchObject({ severity: 'info', reason: 'Succeeded' });
    repo.object.resource.status = scanned.status;

    const policy = validateImagePolicy({
      apiVersion: 'image.toolkit.fluxcd.io/v1',
      kind: 'ImagePolicy',
      metadata: { name: 'app', namespace: 'apps' },
      spec: { imageRepositoryRef: { name: 'app' }, policy: { semver: { range: '>=1.0.0' } }, digestReflectionPolicy: 'IfNotPresent' },
    });
    if (!policy.ok) throw new Error(policy.errors.join('; '));
    const selected = await reconcileImagePolicy(policy.object, {
      store,
      repository: () => repo.object.resource,
      digest: (_r, tag) => fetchDigest(repo.object, tag, env),
    });
    expect(selected.status.latestRef).toEqual({ name: `${registry.host}/team/app`, tag: 'v2.0.0', digest: digests['v2.0.0'] });
    expect(selected.event?.message).toBe(`Latest image tag for ${registry.host}/team/app resolved to v2.0.0 with digest ${digests['v2.0.0']}`);
  });

  it('an unknown repository fails the scan with the registry error', async () => {
    const repo = validateImageRepository({
      apiVersion: 'image.toolkit.fluxcd.io/v1',
      kind: 'ImageRepository',
      metadata: { name: 'none', namespace: 'apps' },
      spec: { image: `${registry.host}/team/none`, interval: '5m' },
    });
    if (!repo.ok) throw new Error(repo.errors.join('; '));
    const out = await reconcileImageRepository(repo.object, { store: new MemoryTagStore(), secret: () => undefined, client: () => client });
    expect(out.status.conditions?.[0]).toMatchObject({ reason: 'ReadOperationFailed' });
    expect(out.status.conditions?.[0]?.message).toContain('NAME_UNKNOWN');
    expect(out.status.conditions?.[0]?.message).toContain('404 Not Found');
  });
});
