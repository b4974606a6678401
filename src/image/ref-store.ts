/**
 * Where ImagePolicies keep the `latestRef` they last resolved, keyed by `namespace/name` of
 * the ImagePolicy: after a restart, an ImagePolicy read from the manifests directory has no
 * status, and without this every policy would announce its (unchanged) tag again. With it the
 * reconcile starts from the stored ref, as from a status, and an event follows only a change.
 *
 * Bounds: the in-memory store holds at most `maxPolicies` refs (the oldest written is dropped
 * first); Redis refs expire `ttlMs` after their last write.
 */
import type { Redis } from 'ioredis';
import type { ImageRef } from './types.js';

export interface RefStore {
  get(key: string): Promise<ImageRef | undefined>;
  put(key: string, ref: ImageRef): Promise<void>;
  delete(key: string): Promise<void>;
}

export class MemoryRefStore implements RefStore {
  private readonly refs = new Map<string, ImageRef>();

  constructor(private readonly maxPolicies = 10_000) {}

  async get(key: string): Promise<ImageRef | undefined> {
    const ref = this.refs.get(key);
    return ref && { ...ref };
  }

  async put(key: string, ref: ImageRef): Promise<void> {
    this.refs.delete(key);
    this.refs.set(key, { ...ref });
    while (this.refs.size > this.maxPolicies) this.refs.delete(this.refs.keys().next().value as string);
  }

  async delete(key: string): Promise<void> {
    this.refs.delete(key);
  }
}

export class RedisRefStore implements RefStore {
  private readonly ttlMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly options: { prefix: string; ttlMs?: number },
  ) {
    this.ttlMs = options.ttlMs ?? 30 * 24 * 3600_000;
  }

  private keyOf(key: string): string {
    return `${this.options.prefix}:image-policy-ref:${key}`;
  }

  async get(key: string): Promise<ImageRef | undefined> {
    const text = await this.redis.get(this.keyOf(key));
    if (text === null) return undefined;
    try {
      const ref = JSON.parse(text) as ImageRef;
      return typeof ref.name === 'string' && typeof ref.tag === 'string' ? ref : undefined;
    } catch {
      return undefined;
    }
  }

  async put(key: string, ref: ImageRef): Promise<void> {
    await this.redis.set(this.keyOf(key), JSON.stringify(ref), 'PX', this.ttlMs);
  }

  async delete(key: string): Promise<void> {
    await this.redis.del(this.keyOf(key));
  }
}
