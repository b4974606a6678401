/**
 * The in-process queue used when no Redis is configured: the same retry, dead-letter and
 * de-duplication semantics as the Redis queue, for one replica, and nothing survives a
 * restart.
 */
import type { QueueState } from '../observability/metrics.js';
import type { DeliveryJob, QueuedJob } from './job.js';
import {
  MAX_PAGE_BYTES,
  DeferError,
  PermanentError,
  RetryableError,
  type DeliveryFilter,
  type DeliveryPage,
  type DeliveryQueue,
  type DeliveryRecord,
  type Processor,
  type ReplayResult,
  recordBytes,
} from './queue.js';
import { retryDelay, type RetryPolicy } from './retry-policy.js';

interface Entry {
  id: string;
  data: DeliveryJob;
  state: QueueState;
  attemptsMade: number;
  lastError?: string;
  finishedAt?: number;
  timer?: NodeJS.Timeout;
}

/** Entries one listing call looks at, at most. */
const LIST_SCAN_LIMIT = 10_000;

export interface MemoryQueueOptions {
  policy: RetryPolicy;
  concurrency: number;
  /** Completed job ids remembered for de-duplication, oldest forgotten first. */
  keepCompleted?: number;
}

export class MemoryQueue implements DeliveryQueue {
  readonly kind = 'memory' as const;
  private readonly entries = new Map<string, Entry>();
  private readonly waiting: Entry[] = [];
  private readonly completedOrder: string[] = [];
  private processor?: Processor;
  private active = 0;
  private closed = false;
  private idle?: () => void;

  constructor(private readonly opts: MemoryQueueOptions) {}

  async add(jobs: QueuedJob[]): Promise<void> {
    if (this.closed) throw new Error('the delivery queue is shutting down');
    for (const job of jobs) {
      if (this.entries.has(job.id)) continue;
      const entry: Entry = { id: job.id, data: job.data, state: 'waiting', attemptsMade: 0 };
      this.entries.set(job.id, entry);
      this.waiting.push(entry);
    }
    this.pump();
  }

  start(processor: Processor): void {
    this.processor = processor;
    this.pump();
  }

  ready(): boolean {
    return !this.closed;
  }

  async counts(): Promise<Record<QueueState, number>> {
    const counts: Record<QueueState, number> = { waiting: 0, active: 0, delayed: 0, failed: 0, completed: 0 };
    for (const entry of this.entries.values()) counts[entry.state] += 1;
    return counts;
  }

  async list(filter: DeliveryFilter): Promise<DeliveryPage> {
    // The cursor is a position in the queue's insertion order; one call looks at a bounded
    // number of entries, so a page of a rare Provider may come back short with a cursor.
    const deliveries: DeliveryRecord[] = [];
    const end = filter.cursor + LIST_SCAN_LIMIT;
    let bytes = 0;
    let position = 0;
    for (const entry of this.entries.values()) {
      if (position >= end || (deliveries.length > 0 && bytes >= MAX_PAGE_BYTES)) return { deliveries, nextCursor: position };
      position += 1;
      if (position <= filter.cursor || entry.state !== filter.state || (filter.provider && entry.data.provider !== filter.provider)) continue;
      const delivery = record(entry);
      deliveries.push(delivery);
      bytes += recordBytes(delivery);
      if (deliveries.length === filter.limit) return { deliveries, nextCursor: position < this.entries.size ? position : undefined };
    }
    return { deliveries };
  }

  async get(id: string): Promise<DeliveryRecord | undefined> {
    const entry = this.entries.get(id);
    return entry && record(entry);
  }

  async replay(id: string): Promise<boolean> {
    const entry = this.entries.get(id);
    if (!entry || entry.state !== 'failed') return false;
    this.requeue(entry);
    return true;
  }

  async replayDeadLetters(provider?: string): Promise<ReplayResult> {
    const dead = this.matching('failed', provider);
    const byProviderType: Record<string, number> = {};
    for (const entry of dead) {
      byProviderType[entry.data.providerType] = (byProviderType[entry.data.providerType] ?? 0) + 1;
      this.requeue(entry);
    }
    return { replayed: dead.length, skipped: 0, byProviderType };
  }

  async purgeDeadLetters(provider?: string): Promise<number> {
    const dead = this.matching('failed', provider);
    for (const entry of dead) this.entries.delete(entry.id);
    return dead.length;
  }

  private matching(state: QueueState, provider?: string): Entry[] {
    return [...this.entries.values()].filter((e) => e.state === state && (!provider || e.data.provider === provider));
  }

  private requeue(entry: Entry): void {
    entry.attemptsMade = 0;
    entry.finishedAt = undefined;
    entry.state = 'waiting';
    this.waiting.push(entry);
    this.pump();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const entry of this.entries.values()) clearTimeout(entry.timer);
    if (this.active > 0) await new Promise<void>((resolve) => (this.idle = resolve));
  }

  private pump(): void {
    const processor = this.processor;
    if (!processor) return;
    while (!this.closed && this.active < this.opts.concurrency && this.waiting.length > 0) {
      const entry = this.waiting.shift() as Entry;
      void this.run(entry, processor);
    }
  }

  private async run(entry: Entry, processor: Processor): Promise<void> {
    this.active += 1;
    entry.state = 'active';
    const attempt = entry.attemptsMade + 1;
    try {
      await processor(entry.data, { id: entry.id, attempt, finalAttempt: attempt >= this.opts.policy.attempts });
      entry.attemptsMade = attempt;
      this.complete(entry);
    } catch (err) {
      this.fail(entry, attempt, err);
    } finally {
      this.active -= 1;
      if (this.active === 0) this.idle?.();
      this.pump();
    }
  }

  private complete(entry: Entry): void {
    entry.state = 'completed';
    entry.finishedAt = Date.now();
    entry.lastError = undefined;
    // The payload is no longer needed; the id stays for de-duplication.
    this.completedOrder.push(entry.id);
    const keep = this.opts.keepCompleted ?? 10_000;
    while (this.completedOrder.length > keep) this.entries.delete(this.completedOrder.shift() as string);
  }

  private fail(entry: Entry, attempt: number, err: unknown): void {
    if (err instanceof DeferError) {
      this.delay(entry, err.delayMs);
      return;
    }
    entry.attemptsMade = attempt;
    entry.lastError = err instanceof Error ? err.message : String(err);
    if (err instanceof PermanentError || attempt >= this.opts.policy.attempts) {
      entry.state = 'failed';
      entry.finishedAt = Date.now();
      return;
    }
    const retryAfterMs = err instanceof RetryableError ? err.retryAfterMs : undefined;
    this.delay(entry, retryDelay(this.opts.policy, attempt, retryAfterMs));
  }

  private delay(entry: Entry, ms: number): void {
    entry.state = 'delayed';
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      entry.state = 'waiting';
      this.waiting.push(entry);
      this.pump();
    }, ms);
  }
}

function record(entry: Entry): DeliveryRecord {
  const { id, state, data, attemptsMade, lastError, finishedAt } = entry;
  return { id, state, data, attemptsMade, lastError, finishedAt };
}
