/**
 * The in-process queue used when no Redis is configured: the same retry, dead-letter and
 * de-duplication semantics as the Redis queue, for one replica, and nothing survives a
 * restart.
 *
 * Everything it holds is bounded: the jobs holding an event (pending and dead letters) by
 * count and approximate bytes (`add` refuses beyond, and the receiver answers 503), completed
 * jobs by count, each cut to what identifies it. Per-Provider concurrency is enforced here:
 * a job whose Provider has no free slot is parked in that Provider's line until one frees,
 * and never re-run to find out, so a Provider that holds its slots costs nothing while it
 * does. Providers with jobs ready take turns, so one Provider's backlog does not hold up
 * another's jobs. A Provider whose circuit is open (see circuit-breaker.ts) has its line parked
 * the same way, on one timer, until its next probe.
 *
 * Deliveries for one (Provider, involved object) pair are not overtaken on retry: a job that
 * failed holds its pair while it waits for its retry, the pair's later jobs are parked behind
 * it, and once it is delivered (or a dead letter) they go back in line in arrival order (see
 * `orderPair`).
 */
import type { QueueState } from '../observability/metrics.js';
import { approximateBytes, orderPair, withoutPayload, type DeliveryJob, type QueuedJob } from './job.js';
import {
  MAX_PAGE_BYTES,
  DeferError,
  PermanentError,
  ProviderPausedError,
  QueueFullError,
  RetryableError,
  keptError,
  type DeliveryFilter,
  type DeliveryPage,
  type DeliveryQueue,
  type DeliveryRecord,
  type Processor,
  type ReplayResult,
  passesFilter,
  recordBytes,
} from './queue.js';
import { retryDelay, type RetryPolicy } from './retry-policy.js';
import { errorMessage } from '../common/errors.js';

interface Entry {
  id: string;
  data: DeliveryJob;
  state: QueueState;
  attemptsMade: number;
  lastError?: string;
  finishedAt?: number;
  timer?: NodeJS.Timeout;
  /** Epoch milliseconds when a delayed entry is due. */
  dueAt?: number;
  /** What the entry counts against `maxHeldBytes` while it holds its event (0 once completed). */
  bytes: number;
  /** Arrival order, so that jobs parked together go back in line as they came. */
  seq: number;
}

/** A (Provider, involved object) pair whose deliveries are being kept in order. */
interface HeldPair {
  /** The job the others wait behind: it failed and waits for its retry. */
  holder: Entry;
  /** Jobs that arrived while the pair was held, in arrival order. */
  parked: Entry[];
}

/** Entries one listing call looks at, at most. */
const LIST_SCAN_LIMIT = 10_000;

export interface MemoryQueueOptions {
  policy: RetryPolicy;
  concurrency: number;
  /** Jobs of one Provider running at once; the others wait in line for a slot. Unbounded when unset. */
  perProviderConcurrency?: number;
  /** Jobs holding their event (waiting, active, delayed, dead letters) beyond which `add` refuses. */
  maxHeldJobs?: number;
  /** Approximate bytes of those jobs' events beyond which `add` refuses. */
  maxHeldBytes?: number;
  /** Completed job ids remembered for de-duplication, oldest forgotten first. */
  keepCompleted?: number;
}

export const DEFAULT_MAX_HELD_JOBS = 50_000;
export const DEFAULT_MAX_HELD_BYTES = 256 * 1024 * 1024;
const DEFAULT_KEEP_COMPLETED = 10_000;
/** What a 503 for a full queue asks the sender to wait. */
const FULL_RETRY_AFTER_SECONDS = 10;

/** A first-in first-out line with O(1) removal from the front (Array#shift is O(n)). */
class Line<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /**
   * Puts `item` before the first of the first `within` items that `before` says it goes
   * before (or after those `within`): O(within).
   */
  insertNearFront(item: T, within: number, before: (other: T) => boolean): void {
    let at = this.head;
    while (at < this.items.length && at - this.head < within && !before(this.items[at] as T)) at += 1;
    if (at === this.head && this.head > 0) this.items[--this.head] = item;
    else this.items.splice(at, 0, item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head] as T;
    this.items[this.head] = undefined as T;
    this.head += 1;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

export class MemoryQueue implements DeliveryQueue {
  readonly kind = 'memory' as const;
  private readonly entries = new Map<string, Entry>();
  /** Jobs ready to run, per Provider, in arrival order. */
  private readonly lines = new Map<string, Line<Entry>>();
  /** Providers with ready jobs and a free slot, in the order they get their turn (each at most once). */
  private readonly turns = new Line<string>();
  private readonly inTurns = new Set<string>();
  private readonly runningPerProvider = new Map<string, number>();
  /** Providers whose jobs wait (their circuit is open) until the timer fires or one of their deliveries succeeds. */
  private readonly parked = new Map<string, NodeJS.Timeout>();
  private readonly completedOrder = new Line<string>();
  /** Pairs with a delivery waiting for a retry, or a backlog parked behind one. */
  private readonly heldPairs = new Map<string, HeldPair>();
  private processor?: Processor;
  private active = 0;
  private heldJobs = 0;
  private heldBytes = 0;
  private seq = 0;
  private pumpScheduled = false;
  private closed = false;
  private idle?: () => void;

  constructor(private readonly opts: MemoryQueueOptions) {}

  async add(jobs: QueuedJob[]): Promise<void> {
    if (this.closed) throw new Error('the delivery queue is shutting down');
    const seen = new Set<string>();
    const fresh = jobs.filter((job) => !this.entries.has(job.id) && !seen.has(job.id) && seen.add(job.id));
    const bytes = fresh.map((job) => approximateBytes(job.data));
    const addedBytes = bytes.reduce((a, b) => a + b, 0);
    const maxJobs = this.opts.maxHeldJobs ?? DEFAULT_MAX_HELD_JOBS;
    const maxBytes = this.opts.maxHeldBytes ?? DEFAULT_MAX_HELD_BYTES;
    // All or nothing: the sender's retry must find none of this event's jobs stored. An event
    // larger than the byte bound on its own is taken when nothing else is held (or it never would be).
    const tooManyBytes = this.heldBytes > 0 && this.heldBytes + addedBytes > maxBytes;
    if (fresh.length > 0 && (this.heldJobs + fresh.length > maxJobs || tooManyBytes)) {
      throw new QueueFullError(
        `the in-process queue is full (${this.heldJobs} of ${maxJobs} jobs, ${mib(this.heldBytes)} of ${mib(maxBytes)} MiB held)`,
        FULL_RETRY_AFTER_SECONDS,
      );
    }
    fresh.forEach((job, i) => {
      const entry: Entry = { id: job.id, data: job.data, state: 'waiting', attemptsMade: 0, bytes: bytes[i] as number, seq: this.seq++ };
      this.entries.set(job.id, entry);
      this.hold(entry);
      this.enterOrder(entry);
    });
  }

  start(processor: Processor): void {
    this.processor = processor;
    this.schedulePump();
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
      if (position <= filter.cursor || entry.state !== filter.state || !passesFilter(entry.data, filter)) continue;
      const delivery = this.record(entry);
      deliveries.push(delivery);
      bytes += recordBytes(delivery);
      if (deliveries.length === filter.limit) return { deliveries, nextCursor: position < this.entries.size ? position : undefined };
    }
    return { deliveries };
  }

  async get(id: string): Promise<DeliveryRecord | undefined> {
    const entry = this.entries.get(id);
    return entry && this.record(entry);
  }

  async replay(id: string): Promise<boolean> {
    const entry = this.entries.get(id);
    if (!entry || entry.state !== 'failed') return false;
    this.requeue(entry);
    return true;
  }

  async retryNow(id: string): Promise<'delayed' | 'failed' | undefined> {
    const entry = this.entries.get(id);
    if (entry?.state === 'failed') {
      this.requeue(entry);
      return 'failed';
    }
    if (entry?.state !== 'delayed' || this.closed) return undefined;
    clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.dueAt = undefined;
    this.makeReady(entry);
    return 'delayed';
  }

  async purge(id: string): Promise<boolean> {
    const entry = this.entries.get(id);
    if (entry?.state !== 'failed') return false;
    this.entries.delete(id);
    this.release(entry);
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
    for (const entry of dead) {
      this.entries.delete(entry.id);
      this.release(entry);
    }
    return dead.length;
  }

  private record(entry: Entry): DeliveryRecord {
    const { id, state, data, attemptsMade, lastError, finishedAt } = entry;
    const nextAttemptAt = state === 'delayed' ? entry.dueAt : undefined;
    return { id, state, data, attemptsMade, maxAttempts: this.opts.policy.attempts, nextAttemptAt, lastError, finishedAt };
  }

  private matching(state: QueueState, provider?: string): Entry[] {
    return [...this.entries.values()].filter((e) => e.state === state && (!provider || e.data.provider === provider));
  }

  /** A dead letter goes back in line (it still holds its event, so it is already counted). */
  private requeue(entry: Entry): void {
    entry.attemptsMade = 0;
    entry.finishedAt = undefined;
    this.enterOrder(entry);
  }

  /** A job to run: at once, unless its pair is held by an earlier one that failed; then parked behind it. */
  private enterOrder(entry: Entry): void {
    const held = this.heldPairs.get(orderPair(entry.data));
    if (!held) {
      this.makeReady(entry);
      return;
    }
    entry.state = 'waiting';
    held.parked.push(entry);
  }

  /** The entry failed and will be retried: its pair's later jobs wait behind it. */
  private holdPair(entry: Entry): void {
    const pair = orderPair(entry.data);
    if (!this.heldPairs.has(pair)) this.heldPairs.set(pair, { holder: entry, parked: [] });
  }

  /** The entry was delivered or became a dead letter: if it held its pair, the jobs parked behind it go back in line. */
  private releasePair(entry: Entry): void {
    const pair = orderPair(entry.data);
    const held = this.heldPairs.get(pair);
    if (held?.holder !== entry) return;
    this.heldPairs.delete(pair);
    for (const parked of held.parked) this.makeReady(parked);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const entry of this.entries.values()) clearTimeout(entry.timer);
    for (const timer of this.parked.values()) clearTimeout(timer);
    if (this.active > 0) await new Promise<void>((resolve) => (this.idle = resolve));
  }

  private hold(entry: Entry): void {
    this.heldJobs += 1;
    this.heldBytes += entry.bytes;
  }

  private release(entry: Entry): void {
    this.heldJobs -= 1;
    this.heldBytes -= entry.bytes;
    entry.bytes = 0;
  }

  private limit(): number {
    return this.opts.perProviderConcurrency ?? Infinity;
  }

  private makeReady(entry: Entry): void {
    entry.state = 'waiting';
    const provider = entry.data.provider;
    let line = this.lines.get(provider);
    if (!line) this.lines.set(provider, (line = new Line()));
    line.push(entry);
    this.offerTurn(provider);
  }

  /** Gives a Provider a turn if it has a job ready and a free slot. */
  private offerTurn(provider: string): void {
    if (this.inTurns.has(provider) || !this.lines.has(provider) || this.parked.has(provider)) return;
    if ((this.runningPerProvider.get(provider) ?? 0) >= this.limit()) return;
    this.inTurns.add(provider);
    this.turns.push(provider);
    this.schedulePump();
  }

  /**
   * Starts jobs on the next turn of the event loop, never in a chain of microtasks: however
   * many jobs fail at once (a Provider not ready fails them without any I/O), requests and
   * timers are served in between.
   */
  private schedulePump(): void {
    if (this.pumpScheduled || !this.processor) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    const processor = this.processor;
    if (!processor) return;
    while (!this.closed && this.active < this.opts.concurrency && this.turns.length > 0) {
      const provider = this.turns.shift() as string;
      this.inTurns.delete(provider);
      if (this.parked.has(provider)) continue; // parked after it got its turn
      const line = this.lines.get(provider) as Line<Entry>;
      const entry = line.shift() as Entry;
      if (line.length === 0) this.lines.delete(provider);
      void this.run(entry, processor);
      this.offerTurn(provider); // to the back of the turns: Providers take turns
    }
  }

  private async run(entry: Entry, processor: Processor): Promise<void> {
    const provider = entry.data.provider;
    this.active += 1;
    this.runningPerProvider.set(provider, (this.runningPerProvider.get(provider) ?? 0) + 1);
    entry.state = 'active';
    const attempt = entry.attemptsMade + 1;
    const retryDelayMs = (retryAfterMs?: number) => retryDelay(this.opts.policy, attempt, retryAfterMs);
    try {
      await processor(entry.data, { id: entry.id, attempt, finalAttempt: attempt >= this.opts.policy.attempts, retryDelayMs });
      entry.attemptsMade = attempt;
      this.complete(entry);
      this.unpark(provider); // reachable again: its waiting jobs go at once
    } catch (err) {
      this.fail(entry, attempt, err);
    } finally {
      this.active -= 1;
      const running = (this.runningPerProvider.get(provider) ?? 1) - 1;
      if (running > 0) this.runningPerProvider.set(provider, running);
      else this.runningPerProvider.delete(provider);
      if (this.active === 0) this.idle?.();
      this.offerTurn(provider);
      this.schedulePump();
    }
  }

  private complete(entry: Entry): void {
    this.releasePair(entry);
    entry.state = 'completed';
    entry.finishedAt = Date.now();
    entry.lastError = undefined;
    // The payload is no longer needed: keep what identifies the delivery; the id stays for de-duplication.
    entry.data = withoutPayload(entry.data);
    this.release(entry);
    this.completedOrder.push(entry.id);
    const keep = this.opts.keepCompleted ?? DEFAULT_KEEP_COMPLETED;
    while (this.completedOrder.length > keep) this.entries.delete(this.completedOrder.shift() as string);
  }

  private fail(entry: Entry, attempt: number, err: unknown): void {
    if (err instanceof ProviderPausedError) {
      this.park(entry, err.delayMs);
      return;
    }
    if (err instanceof DeferError) {
      this.delay(entry, err.delayMs);
      return;
    }
    entry.attemptsMade = attempt;
    entry.lastError = keptError(errorMessage(err));
    if (err instanceof PermanentError || attempt >= this.opts.policy.attempts) {
      this.releasePair(entry);
      entry.state = 'failed';
      entry.finishedAt = Date.now();
      return;
    }
    this.holdPair(entry);
    const retryAfterMs = err instanceof RetryableError ? err.retryAfterMs : undefined;
    const decided = err instanceof RetryableError ? err.delayMs : undefined;
    this.delay(entry, decided ?? retryDelay(this.opts.policy, attempt, retryAfterMs));
  }

  /**
   * Puts `entry` back at the head of its Provider's line (among the jobs parked with it, in
   * arrival order: they were the ones running) and gives that Provider no turn for `ms`: one
   * timer per Provider, however many jobs wait, and none of them is re-run meanwhile.
   */
  private park(entry: Entry, ms: number): void {
    const provider = entry.data.provider;
    entry.state = 'waiting';
    let line = this.lines.get(provider);
    if (!line) this.lines.set(provider, (line = new Line()));
    line.insertNearFront(entry, Math.min(this.limit(), this.opts.concurrency), (other) => other.seq > entry.seq);
    if (this.parked.has(provider) || this.closed) return;
    this.parked.set(
      provider,
      setTimeout(() => {
        this.parked.delete(provider);
        this.offerTurn(provider);
      }, ms),
    );
  }

  private unpark(provider: string): void {
    const timer = this.parked.get(provider);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.parked.delete(provider);
  }

  private delay(entry: Entry, ms: number): void {
    entry.state = 'delayed';
    entry.dueAt = Date.now() + ms;
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      entry.dueAt = undefined;
      this.makeReady(entry);
    }, ms);
  }
}

function mib(bytes: number): number {
  return Math.round(bytes / 2 ** 20);
}
