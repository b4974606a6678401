/**
 * Per-webhook-path token buckets: a burst of `burst` requests, refilled at `perSecond`. Only
 * paths of known Receivers get a bucket, and at most `maxPaths` are tracked (the oldest
 * bucket is dropped first), so the limiter's memory is bounded whatever callers send.
 */
export interface RateLimitOptions {
  burst: number;
  perSecond: number;
  maxPaths: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export class PathRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly options: RateLimitOptions,
    private readonly now: () => number = () => Date.now(),
  ) {}

  take(path: string): RateDecision {
    const { burst, perSecond, maxPaths } = this.options;
    const now = this.now();
    let bucket = this.buckets.get(path);
    if (bucket) {
      bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * perSecond);
      bucket.updatedAt = now;
      this.buckets.delete(path); // re-inserted below: the Map's order is least recently used first
    } else {
      bucket = { tokens: burst, updatedAt: now };
      if (this.buckets.size >= maxPaths) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
    }
    this.buckets.set(path, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / perSecond)) };
  }

  get trackedPaths(): number {
    return this.buckets.size;
  }
}
