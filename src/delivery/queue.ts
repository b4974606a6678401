/**
 * The queue contract shared by the Redis (BullMQ) and in-process implementations, so the
 * receiver and worker do not care which one runs.
 */
import type { QueueState } from '../observability/metrics.js';
import type { DeliveryJob, QueuedJob } from './job.js';

/** Thrown by a processor when another attempt may succeed; carries the provider's Retry-After. */
export class RetryableError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    /**
     * The delay before the next attempt, when the processor already asked the queue for it
     * (`AttemptInfo.retryDelayMs`, so that it could say when): the queue then keeps to it.
     */
    readonly delayMs?: number,
  ) {
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

/**
 * Thrown by a processor when no job of the job's Provider is to be tried for `delayMs` (its
 * circuit is open): no attempt is counted, and the queue may hold back the Provider's other
 * jobs as well (the in-process queue parks its line; the Redis queue spreads the jobs it
 * takes over the time after that).
 */
export class ProviderPausedError extends DeferError {}

/**
 * Thrown by `add` when the queue holds as much as it may: the receiver answers 503 with
 * `Retry-After`, and nothing of the event is stored.
 */
export class QueueFullError extends Error {
  constructor(message: string, readonly retryAfterSeconds: number) {
    super(message);
  }
}

/** The most of a delivery's last error that is kept (a provider's answer may be long). */
export const MAX_KEPT_ERROR_CHARS = 1024;

/** `message` cut to what a delivery record keeps. */
export function keptError(message: string): string {
  if (message.length <= MAX_KEPT_ERROR_CHARS) return message;
  // Copied, not sliced: V8 keeps a slice of a long string as a view that holds the whole string.
  return `${Buffer.from(message.slice(0, MAX_KEPT_ERROR_CHARS), 'utf8').toString('utf8')}… (cut)`;
}

export interface AttemptInfo {
  id: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** Whether a failure of this attempt would be the last one. */
  finalAttempt: boolean;
  /**
   * The queue's delay before the next attempt should this one fail with a `RetryableError`
   * carrying `retryAfterMs` (its retry policy, jitter included). A processor that throws a
   * `RetryableError` with this value as `delayMs` gets exactly that delay.
   */
  retryDelayMs?: (retryAfterMs?: number) => number;
}

export type Processor = (job: DeliveryJob, info: AttemptInfo) => Promise<void>;

/** One delivery as the admin API shows it. */
export interface DeliveryRecord {
  id: string;
  state: QueueState;
  data: DeliveryJob;
  attemptsMade: number;
  /** Attempts a delivery gets before it becomes a dead letter (a replay starts a fresh set). */
  maxAttempts: number;
  /** Epoch milliseconds when a delayed delivery is due (its next attempt); absent in every other state. */
  nextAttemptAt?: number;
  /** The last attempt's error, already token-masked. */
  lastError?: string;
  /** Epoch milliseconds when it completed or became a dead letter. */
  finishedAt?: number;
}

export interface DeliveryFilter {
  state: QueueState;
  /** `namespace/name` of a Provider. */
  provider?: string;
  /** `namespace/name` of an Alert. */
  alert?: string;
  /** The event's involved object as `Kind/namespace/name` (`Kind//name` for a cluster-scoped one). */
  object?: string;
  /** Where to go on from: 0, or the `nextCursor` of the previous page. */
  cursor: number;
  limit: number;
}

/** The involved object of a delivery as the `object` filter names it. */
export function objectOf(job: DeliveryJob): string {
  const { kind, namespace = '', name } = job.event.involvedObject;
  return `${kind}/${namespace}/${name}`;
}

/** Whether a delivery passes the filter's Provider, Alert and object (its state is checked by the caller). */
export function passesFilter(job: DeliveryJob, filter: Pick<DeliveryFilter, 'provider' | 'alert' | 'object'>): boolean {
  return (
    (!filter.provider || job.provider === filter.provider) &&
    (!filter.alert || job.alert === filter.alert) &&
    (!filter.object || objectOf(job) === filter.object)
  );
}

/**
 * A page stops growing once its deliveries add up to this many bytes of JSON (it always holds
 * at least one): 500 dead letters of 3 MiB events would otherwise be a 1.5 GB answer.
 */
export const MAX_PAGE_BYTES = 16 * 1024 * 1024;

/** Roughly what a delivery weighs in an answer. */
export function recordBytes(record: DeliveryRecord): number {
  return JSON.stringify(record.data).length + (record.lastError?.length ?? 0);
}

/** One page of a listing: only the page's jobs are read. */
export interface DeliveryPage {
  deliveries: DeliveryRecord[];
  /** Pass it as `cursor` for the next page; absent on the last one. */
  nextCursor?: number;
}

/** What a bulk replay did; jobs that left the dead letters while it ran (replayed, purged) are skipped, not errors. */
export interface ReplayResult {
  replayed: number;
  skipped: number;
  /** Replayed jobs by provider type, for metrics. */
  byProviderType: Record<string, number>;
  /** Set when the replay stopped part-way (e.g. Redis went away): what is counted above is done. */
  error?: string;
}

/**
 * An event's duplicate window where it lives in the queue's own store (Redis, see
 * server/duplicate-filter.ts): a queue that can checks and starts it in the same write that
 * stores the event's jobs.
 */
export interface DuplicateWindow {
  /** The store's key of the window. */
  key: string;
  windowMs: number;
}

/** What `add` did with the DuplicateWindow it was given. */
export interface WindowOutcome {
  /** Set when the event is a duplicate inside its window (epoch ms of the window's end): none of its jobs is stored or sent. */
  duplicateUntil?: number;
}

export interface DeliveryQueue {
  readonly kind: 'redis' | 'memory';
  /**
   * Stores every job or none, and resolves only once they are stored. A job whose id is
   * already known is not added again. Rejects when the queue cannot take work. Given the
   * event's duplicate window, a queue that keeps it in the same store (Redis) checks and starts
   * it in that write and answers a WindowOutcome; one that does not answers nothing, and the
   * window is the caller's.
   */
  add(jobs: QueuedJob[], window?: DuplicateWindow): Promise<WindowOutcome | void>;
  /** Starts processing with the given function. */
  start(processor: Processor): void;
  counts(): Promise<Record<QueueState, number>>;
  /** Whether the queue can take work right now. */
  ready(): boolean;
  /** Stops taking new jobs, lets in-flight ones finish (or hands them back), and disconnects. */
  close(): Promise<void>;

  // Dead letters and replay: what operators use to see and recover failed deliveries.
  list(filter: DeliveryFilter): Promise<DeliveryPage>;
  get(id: string): Promise<DeliveryRecord | undefined>;
  /** Puts one dead letter back in the queue with a fresh set of attempts; false if `id` is not a dead letter. */
  replay(id: string): Promise<boolean>;
  /**
   * Makes a delivery due now: a delayed one (waiting for its retry) keeps its attempts and goes
   * back in line; a dead letter is replayed as by `replay`. Returns the state it was in, or
   * undefined when it is in neither (unknown, waiting, active, completed).
   */
  retryNow(id: string): Promise<'delayed' | 'failed' | undefined>;
  /** Deletes one dead letter; false if `id` is not a dead letter. */
  purge(id: string): Promise<boolean>;
  /** Replays every dead letter there was when it started (of one Provider when given), one page at a time. */
  replayDeadLetters(provider?: string): Promise<ReplayResult>;
  /** Deletes every dead letter (of one Provider when given); returns how many. */
  purgeDeadLetters(provider?: string): Promise<number>;
}
