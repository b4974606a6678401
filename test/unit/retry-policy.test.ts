import { describe, expect, it } from 'vitest';
import { retryDelay, type RetryPolicy } from '../../src/delivery/retry-policy.js';

const policy: RetryPolicy = { attempts: 5, baseDelayMs: 1000, maxDelayMs: 10_000, maxRetryAfterMs: 60_000 };

describe('retryDelay', () => {
  it.each([
    [1, 0, 500],
    [1, 1, 1000],
    [2, 0, 1000],
    [3, 1, 4000],
    [5, 1, 10_000],
    [9, 0.5, 7500],
  ])('after %i failures with random %f → %i ms', (attempts, random, expected) => {
    expect(retryDelay(policy, attempts, undefined, () => random)).toBe(expected);
  });

  it('never retries before Retry-After', () => {
    expect(retryDelay(policy, 1, 30_000, () => 1)).toBe(30_000);
  });

  it('caps a huge Retry-After', () => {
    expect(retryDelay(policy, 1, 10 * 3600_000, () => 1)).toBe(60_000);
  });

  it('keeps the backoff when Retry-After is shorter', () => {
    expect(retryDelay(policy, 4, 10, () => 1)).toBe(8000);
  });
});
