/**
 * The tag stores: Redis (real, under a unique key prefix) and in-memory, their bounds, and a
 * restart that neither rescans nor announces the same tags again because the scan was kept.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { validateImageRepository } from '../../src/image/manifests.js';
import { createRegistryClient } from '../../src/image/registry.js';
import { reconcileImageRepository } from '../../src/image/repository.js';
import { RedisRefStore } from '../../src/image/ref-store.js';
import { MemoryTagStore, RedisTagStore, TagStoreError, type StoredScan } from '../../src/image/tag-store.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { startStandin } from '../support/registry-standin.js';

const prefix = uniquePrefix('image-tags');
const connections: Redis[] = [];

function connect(): Redis {
  const r = new Redis(REDIS_URL);
  connections.push(r);
  return r;
}

afterAll(async () => {
  await deletePrefix(prefix);
  for (const c of connections) c.disconnect();
});

const scan: StoredScan = { tags: ['v2', 'v1'], scanTime: '2026-01-01T00:00:00.000Z', canonicalImageName: 'ghcr.io/a/b', exclusionList: ['^.*\\.sig$'] };

describe('RedisTagStore', () => {
  it('stores, reads back and deletes a scan under the prefix, with an expiry', async () => {
    const redis = connect();
    const store = new RedisTagStore(redis, { prefix, ttlMs: 60_000 });
    await store.put('apps/app', scan);
    expect(await store.get('apps/app')).toEqual(scan);
    const ttl = await redis.pttl(`${prefix}:image-tags:apps/app`);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await store.delete('apps/app');
    expect(await store.get('apps/app')).toBeUndefined();
  });

  it('refuses more tags than its bound', async () => {
    const store = new RedisTagStore(connect(), { prefix, maxTags: 3 });
    await expect(store.put('apps/big', { ...scan, tags: ['a', 'b', 'c', 'd'] })).rejects.toThrow(TagStoreError);
    await expect(store.put('apps/big', { ...scan, tags: ['a', 'b', 'c', 'd'] })).rejects.toThrow('refusing to store 4 tags for apps/big: the bound is 3');
  });

  it('a damaged record reads as none (a rescan follows)', async () => {
    const redis = connect();
    await redis.set(`${prefix}:image-tags:apps/damaged`, '{not json');
    expect(await new RedisTagStore(redis, { prefix }).get('apps/damaged')).toBeUndefined();
  });

  it('after a restart, the scan kept in Redis stands in for the lost status: no rescan, no event', async () => {
    const standin = await startStandin({ repositories: { 'team/app': ['1.0.0', '1.1.0'] } });
    const client = createRegistryClient();
    try {
      const manifest = {
        apiVersion: 'image.toolkit.fluxcd.io/v1',
        kind: 'ImageRepository',
        metadata: { name: 'app', namespace: 'apps' },
        spec: { image: `${standin.host}/team/app`, interval: '10m', insecure: true },
      };
      const env = (redis: Redis) => ({ store: new RedisTagStore(redis, { prefix }), secret: () => undefined, client: () => client });
      const first = validateImageRepository(manifest);
      if (!first.ok) throw new Error(first.errors.join('; '));
      const before = await reconcileImageRepository(first.object, env(connect()));
      expect(before.event?.severity).toBe('info');
      const listed = standin.requests.filter((r) => r.url.includes('tags/list')).length;

      // A new process: a new connection, and the object as read from the manifests again.
      const again = validateImageRepository(manifest);
      if (!again.ok) throw new Error(again.errors.join('; '));
      const after = await reconcileImageRepository(again.object, env(connect()));
      expect(standin.requests.filter((r) => r.url.includes('tags/list'))).toHaveLength(listed);
      expect(after.event).toBeUndefined();
      expect(after.trace).toMatch(/^no change in repository configuration since last scan, next scan in 9m5\d/);
      expect(after.status.lastScanResult).toEqual(before.status.lastScanResult);
    } finally {
      await client.close();
      await standin.close();
    }
  });
});

describe('RedisRefStore', () => {
  it('keeps a policy ref under the prefix with an expiry; a damaged one reads as none', async () => {
    const redis = connect();
    const refs = new RedisRefStore(redis, { prefix, ttlMs: 60_000 });
    await refs.put('apps/app', { name: 'ghcr.io/a/b', tag: 'v1', digest: 'sha256:00' });
    expect(await refs.get('apps/app')).toEqual({ name: 'ghcr.io/a/b', tag: 'v1', digest: 'sha256:00' });
    expect(await redis.pttl(`${prefix}:image-policy-ref:apps/app`)).toBeGreaterThan(50_000);
    await redis.set(`${prefix}:image-policy-ref:apps/bad`, '[1,2');
    expect(await refs.get('apps/bad')).toBeUndefined();
    await refs.delete('apps/app');
    expect(await refs.get('apps/app')).toBeUndefined();
  });
});

describe('MemoryTagStore', () => {
  it('drops the oldest repository beyond its bound', async () => {
    const store = new MemoryTagStore(2);
    await store.put('a/1', scan);
    await store.put('a/2', scan);
    await store.put('a/1', scan);
    await store.put('a/3', scan);
    expect(store.size).toBe(2);
    expect(await store.get('a/2')).toBeUndefined();
    expect(await store.get('a/1')).toEqual(scan);
  });

  it('refuses more tags than its bound and hands out copies', async () => {
    const store = new MemoryTagStore(10, 1);
    await expect(store.put('a/1', scan)).rejects.toThrow('refusing to store 2 tags for a/1: the bound is 1');
    const roomy = new MemoryTagStore();
    await roomy.put('a/1', scan);
    (await roomy.get('a/1'))?.tags.push('mutated');
    expect((await roomy.get('a/1'))?.tags).toEqual(['v2', 'v1']);
  });
});
