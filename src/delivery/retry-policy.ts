/** How failed deliveries are retried: the same policy for the Redis and the in-process queue. */

export interface RetryPolicy {
  /** Total attempts, the first included; after the last the job is a dead letter. */
  attempts: number;
  /** Delay before the second attempt; doubles each time. */
  baseDelayMs: number;
  /** Ceiling of the exponential delay. */
  maxDelayMs: number;
  /** Ceiling of a provider's Retry-After, so a hostile header cannot park a job for days. */
  maxRetryAfterMs: number;
}

/** Retry-After is honoured up to an hour; a longer one is cut to this. */
export const MAX_RETRY_AFTER_MS = 60 * 60_000;

/**
 * Delay before the next attempt after `attemptsMade` failures: exponential with "equal
 * jitter" (half fixed, half random) so that replicas retrying a recovering provider spread
 * out, never shorter than the provider's Retry-After.
 */
export function retryDelay(policy: RetryPolicy, attemptsMade: number, retryAfterMs?: number, random = Math.random): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attemptsMade - 1));
  const jittered = Math.round(exponential / 2 + (random() * exponential) / 2);
  if (retryAfterMs === undefined) return jittered;
  return Math.max(Math.min(retryAfterMs, policy.maxRetryAfterMs), jittered);
}
