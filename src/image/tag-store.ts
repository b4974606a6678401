/**
 * Where ImageRepository scans keep their tags, keyed by `namespace/name` of the
 * ImageRepository (Flux's FluxStorage keying). A scan record also carries what the scan was
 * made with (canonical image name, exclusion list, time), so that after a restart — when an
 * ImageRepository read from the manifests directory has no status — the reconciler restores
 * `lastScanResult` from it and waits for the rest of the interval instead of rescanning at
 * once and announcing the same tags again.
 *
 * Bounds: a record holds at most `maxTags` tags (the registry client's bound); the in-memory
 * store holds at most `maxRepositories` records (the oldest written is dropped first); Redis
 * records expire `ttlMs` after their last write, so those of deleted ImageRepositories go.
 */
import type { Redis } from 'ioredis';

export interface StoredScan {
  /** Descending byte order, after the exclusion list. */
  tags: string[];
  /** RFC 3339. */
  scanTime: string;
  canonicalImageName: string;
  exclusionList: string[];
}

export interface TagStore {
  get(key: string): Promise<StoredScan | undefined>;
  put(key: string, scan: StoredScan): Promise<void>;
  delete(key: string): Promise<void>;
}

export const DEFAULT_MAX_TAGS = 50_000;

export class TagStoreError extends Error {
  override readonly name = 'TagStoreError';
}

function checkSize(key: string, scan: StoredScan, maxTags: number): void {
  if (scan.tags.length > maxTags) {
    throw new TagStoreError(`refusing to store ${scan.tags.length} tags for ${key}: the bound is ${maxTags}`);
  }
}

export class MemoryTagStore implements TagStore {
  private readonly records = new Map<string, StoredScan>();

  constructor(
    private readonly maxRepositories = 10_000,
    private readonly maxTags = DEFAULT_MAX_TAGS,
  ) {}

  async get(key: string): Promise<StoredScan | undefined> {
    const scan = this.records.get(key);
    return scan && { ...scan, tags: [...scan.tags], exclusionList: [...scan.exclusionList] };
  }

  async put(key: string, scan: StoredScan): Promise<void> {
    checkSize(key, scan, this.maxTags);
    this.records.delete(key);
    this.records.set(key, { ...scan, tags: [...scan.tags], exclusionList: [...scan.exclusionList] });
    while (this.records.size > this.maxRepositories) {
      const oldest = this.records.keys().next().value as string;
      this.records.delete(oldest);
    }
  }

  async delete(key: string): Promise<void> {
    this.records.delete(key);
  }

  get size(): number {
    return this.records.size;
  }
}

export interface RedisTagStoreOptions {
  /** Key prefix; records live at `<prefix>:image-tags:<namespace>/<name>`. */
  prefix: string;
  maxTags?: number;
  /** Expiry after the last write. Default 30 days. */
  ttlMs?: number;
}

export class RedisTagStore implements TagStore {
  private readonly maxTags: number;
  private readonly ttlMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisTagStoreOptions,
  ) {
    this.maxTags = options.maxTags ?? DEFAULT_MAX_TAGS;
    this.ttlMs = options.ttlMs ?? 30 * 24 * 3600_000;
  }

  private keyOf(key: string): string {
    return `${this.options.prefix}:image-tags:${key}`;
  }

  async get(key: string): Promise<StoredScan | undefined> {
    const text = await this.redis.get(this.keyOf(key));
    if (text === null) return undefined;
    try {
      const scan = JSON.parse(text) as StoredScan;
      if (!Array.isArray(scan.tags) || typeof scan.scanTime !== 'string') return undefined;
      return scan;
    } catch {
      // A record another version wrote, or a damaged one: as if there were none (a rescan follows).
      return undefined;
    }
  }

  async put(key: string, scan: StoredScan): Promise<void> {
    checkSize(key, scan, this.maxTags);
    await this.redis.set(this.keyOf(key), JSON.stringify(scan), 'PX', this.ttlMs);
  }

  async delete(key: string): Promise<void> {
    await this.redis.del(this.keyOf(key));
  }
}
