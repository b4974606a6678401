/**
 * Flux's duplicate-event rate limit: one event per key passes per fixed window; repeats inside
 * the window are refused. In Redis mode the window is shared by every replica.
 *
 * Unlike Flux, the window starts once the event's work is stored, not when it arrives: a key
 * recorded for an event whose jobs could not be stored would turn the sender's retry into a
 * 429 and lose the event. In Redis mode the window is checked and started in the same atomic
 * write that stores the event's jobs (see `storeWindow`), so two copies never both pass. In
 * memory mode, and for an event no Alert takes, it is checked before and started after: two
 * copies arriving at the same instant may both pass; identical copies still store one set of
 * jobs (job ids derive from the event), so at worst a notification is sent twice, never lost.
 */
import type { Cluster, Redis } from 'ioredis';
import type { DuplicateWindow } from '../delivery/queue.js';
import { withTimeout } from '../common/time.js';

export interface DuplicateFilter {
  /** The window's length (`--rate-limit-interval`). */
  readonly windowMs: number;
  /**
   * When the key's window ends (epoch ms), or undefined when it is not within one: a key with a
   * window end is a duplicate. Rejects if the store is unreachable.
   */
  windowEnd(key: string): Promise<number | undefined>;
  /** Starts the key's window (once: a key already in its window keeps its start). */
  remember(key: string): Promise<void>;
  /**
   * The key's window as the delivery queue's store knows it, when the window lives there
   * (Redis): the queue then checks and starts it in the same write that stores the event's
   * jobs (one round trip, and two copies of an event can no longer both pass).
   */
  storeWindow?(key: string): DuplicateWindow;
  close(): void;
}

/** Keys the in-process window remembers at most (about 150 bytes each). */
export const DEFAULT_MAX_DUPLICATE_KEYS = 100_000;

export class MemoryDuplicateFilter implements DuplicateFilter {
  /**
   * Key → end of its window. Insertion order is the order windows started, and every window
   * is as long, so the first key is always the first to expire: the sweep stops at the first
   * live key, and at the cap the key dropped is the one whose window ends soonest (a copy of
   * it arriving before that would pass: at worst one notification more, never one lost).
   */
  private readonly expiries = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(
    readonly windowMs: number,
    now: () => number = Date.now,
    private readonly maxKeys = DEFAULT_MAX_DUPLICATE_KEYS,
  ) {
    this.now = now;
    // Expired keys are also dropped lazily; the sweep only bounds memory under churn.
    this.sweeper = setInterval(() => this.sweep(), Math.min(Math.max(windowMs, 1_000), 60_000));
    this.sweeper.unref();
  }

  get size(): number {
    return this.expiries.size;
  }

  async windowEnd(key: string): Promise<number | undefined> {
    const expiry = this.expiries.get(key);
    return expiry !== undefined && expiry > this.now() ? expiry : undefined;
  }

  async remember(key: string): Promise<void> {
    if ((await this.windowEnd(key)) !== undefined) return;
    // A new window goes to the end of the order, where it belongs.
    this.expiries.delete(key);
    this.expiries.set(key, this.now() + this.windowMs);
    for (const oldest of this.expiries.keys()) {
      if (this.expiries.size <= this.maxKeys) break;
      this.expiries.delete(oldest);
    }
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, expiry] of this.expiries) {
      if (expiry > now) return;
      this.expiries.delete(key);
    }
  }
}

export class RedisDuplicateFilter implements DuplicateFilter {
  constructor(
    private readonly redis: Redis | Cluster,
    readonly windowMs: number,
    private readonly prefix: string,
    /** How long a command may wait for Redis: a stalled server must give a 503, not a request that never ends. */
    private readonly timeoutMs = 5_000,
  ) {}

  async windowEnd(key: string): Promise<number | undefined> {
    // PTTL answers -2 for a missing key (and -1 for one without expiry, which Herald never writes).
    const ttl = await this.bounded(this.redis.pttl(this.redisKey(key)), 'checking for a duplicate');
    return ttl > 0 ? Date.now() + ttl : undefined;
  }

  async remember(key: string): Promise<void> {
    // NX: of two replicas recording the same event, the first one's window stands.
    await this.bounded(this.redis.set(this.redisKey(key), '1', 'PX', this.windowMs, 'NX'), 'recording the event key');
  }

  storeWindow(key: string): DuplicateWindow {
    return { key: this.redisKey(key), windowMs: this.windowMs };
  }

  private redisKey(key: string): string {
    return `${this.prefix}:ratelimit:${key}`;
  }

  private bounded<T>(promise: Promise<T>, what: string): Promise<T> {
    return withTimeout(promise, this.timeoutMs, `${what} in redis`);
  }

  close(): void {
    // The connection belongs to the caller.
  }
}
