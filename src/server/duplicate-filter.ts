/**
 * Flux's duplicate-event rate limit: one event per key passes per fixed window that starts
 * at its first sighting; repeats inside the window are refused. In Redis mode the window is
 * shared by every replica.
 */
import type { Cluster, Redis } from 'ioredis';

export interface DuplicateFilter {
  /** True the first time a key is seen in its window; false for a duplicate. Rejects if the store is unreachable. */
  firstSighting(key: string): Promise<boolean>;
  /** Forgets a key, so a sender's retry is not taken for a duplicate after Herald failed to store its work. */
  forget(key: string): Promise<void>;
  close(): void;
}

export class MemoryDuplicateFilter implements DuplicateFilter {
  private readonly expiries = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly windowMs: number, now: () => number = Date.now) {
    this.now = now;
    // Expired keys are also dropped lazily; the sweep only bounds memory under churn.
    this.sweeper = setInterval(() => this.sweep(), Math.min(Math.max(windowMs, 1_000), 60_000));
    this.sweeper.unref();
  }

  private readonly now: () => number;

  async firstSighting(key: string): Promise<boolean> {
    const now = this.now();
    const expiry = this.expiries.get(key);
    if (expiry !== undefined && expiry > now) return false;
    this.expiries.set(key, now + this.windowMs);
    return true;
  }

  async forget(key: string): Promise<void> {
    this.expiries.delete(key);
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, expiry] of this.expiries) if (expiry <= now) this.expiries.delete(key);
  }
}

export class RedisDuplicateFilter implements DuplicateFilter {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly windowMs: number,
    private readonly prefix: string,
    /** How long a command may wait for Redis: a stalled server must give a 503, not a request that never ends. */
    private readonly timeoutMs = 5_000,
  ) {}

  async firstSighting(key: string): Promise<boolean> {
    // SET NX PX is atomic: of two replicas seeing the same event, exactly one wins.
    const set = await this.bounded(this.redis.set(`${this.prefix}:ratelimit:${key}`, '1', 'PX', this.windowMs, 'NX'), 'checking for a duplicate');
    return set === 'OK';
  }

  async forget(key: string): Promise<void> {
    await this.bounded(this.redis.del(`${this.prefix}:ratelimit:${key}`), 'forgetting a duplicate key');
  }

  private bounded<T>(promise: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} in redis took longer than ${this.timeoutMs}ms`)), this.timeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  close(): void {
    // The connection belongs to the caller.
  }
}
