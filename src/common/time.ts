/**
 * Leaf helpers any layer may import (this folder imports nothing of Herald's).
 */

/**
 * RFC 3339 in UTC with whole seconds (`2026-01-02T03:04:05Z`): Go's `time.RFC3339` of a UTC
 * time, and Kubernetes' metav1.Time. Milliseconds are cut, not rounded, as Go truncates.
 */
export function rfc3339Seconds(millis: number): string {
  return new Date(millis).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Rejects with `<what> took longer than <ms>ms` when `promise` has not settled by then; the timer is always cleared. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms}ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
