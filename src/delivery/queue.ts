/**
 * The queue contract shared by the Redis (BullMQ) and in-process implementations, so the
 * receiver and worker do not care which one runs.
 */
import type { QueueState } from '../observability/metrics.js';
import type { DeliveryJob, QueuedJob } from './job.js';

/** Thrown by a processor when another attempt may succeed; carries the provider's Retry-After. */
export class RetryableError extends Error {
  constructor(message: string, readonly retryAfterMs?: number) {
    super(message);
  }
}

/** Thrown by a processor when retrying cannot help: the job becomes a dead letter at once. */
export class PermanentError extends Error {}

/** Thrown by a processor to put the job back for later without counting an attempt. */
export class DeferError extends Error {
  constructor(readonly delayMs: number) {
    super(`deferred for ${delayMs}ms`);
  }
}

export interface AttemptInfo {
  id: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** Whether a failure of this attempt would be the last one. */
  finalAttempt: boolean;
}

export type Processor = (job: DeliveryJob, info: AttemptInfo) => Promise<void>;

export interface DeliveryQueue {
  readonly kind: 'redis' | 'memory';
  /**
   * Stores every job or none, and resolves only once they are stored. A job whose id is
   * already known is not added again. Rejects when the queue cannot take work.
   */
  add(jobs: QueuedJob[]): Promise<void>;
  /** Starts processing with the given function. */
  start(processor: Processor): void;
  counts(): Promise<Record<QueueState, number>>;
  /** Whether the queue can take work right now. */
  ready(): boolean;
  /** Stops taking new jobs, lets in-flight ones finish (or hands them back), and disconnects. */
  close(): Promise<void>;
}
