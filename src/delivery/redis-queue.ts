/**
 * The durable queue: BullMQ on Redis. Jobs are stored before the receiver answers 202,
 * survive restarts, are shared by every replica (a job is locked by one worker at a time), and
 * failed jobs are kept as dead letters.
 */
import { DelayedError, Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { QUEUE_STATES, type QueueState } from '../observability/metrics.js';
import { orderPair, withoutPayload, type DeliveryJob, type QueuedJob } from './job.js';
import { createRedisConnection, type RedisClient, type RedisConnectionConfig } from './redis-connection.js';
import {
  MAX_PAGE_BYTES,
  DeferError,
  PermanentError,
  ProviderPausedError,
  RetryableError,
  keptError,
  type DeliveryFilter,
  type DeliveryPage,
  type DeliveryQueue,
  type DeliveryRecord,
  type Processor,
  type ReplayResult,
  objectOf,
  recordBytes,
} from './queue.js';
import { RedisOrder } from './redis-order.js';
import { retryDelay, type RetryPolicy } from './retry-policy.js';
import { errorMessage } from '../common/errors.js';
import { withTimeout } from '../common/time.js';

export const QUEUE_NAME = 'deliveries';

/**
 * Completed jobs are kept only as long as a sender may still retry a POST that was answered
 * 503 after part of its work was stored (Flux's senders give up within about a minute): their
 * ids stop that retry from notifying twice. Bounded by count too, so a busy Herald does not
 * fill Redis with finished work, and each is cut to what identifies it once delivered
 * (`withoutPayload`; a completed job's hash is then about 3 KB with BullMQ's own fields, so
 * the most kept take about 150 MB).
 */
const KEEP_COMPLETED_SECONDS = 3600;
const KEEP_COMPLETED_MAX = 50_000;

/** Ids one listing call looks at, at most; ids read per round trip; whole jobs read at once. */
const LIST_SCAN_LIMIT = 10_000;
const ID_BATCH = 500;
const JOB_READ_BATCH = 10;

/**
 * BullMQ takes a job of a lower priority number first. Every job is stored with one, so that a
 * job that failed or was deferred can be moved behind fresh work: a Provider that refuses a
 * backlog then delays only its own retries, never a healthy Provider's new deliveries (which
 * would otherwise wait behind every retry promoted before them). Among equals, first in first out.
 */
const FRESH_PRIORITY = 1;
const RETRY_PRIORITY = 2;

/**
 * Jobs of a Provider whose circuit is open are taken from Redis (one script each) only to be
 * delayed again, two scripts each time. So they come back at most this many a second per
 * Provider and replica, in turns from the circuit's next probe on, each turn moved by up to
 * PAUSED_SPREAD_MS at random (replicas keep their own turns): a paused backlog costs Redis a
 * fixed rate however large it is, and a recovered Provider gets it back at that rate.
 */
const PAUSED_RETURNS_PER_SECOND = 50;
const PAUSED_SPREAD_MS = 1_000;
/** A turn further away than this is not kept in order: the job comes back at random within it instead. */
const MAX_PAUSED_DELAY_MS = 10 * 60_000;

/**
 * How long a job whose pair is held (an earlier one waits for its retry, see redis-order.ts)
 * stays in the queue before it looks again by itself, plus up to the spread at random. It is
 * woken as soon as its turn comes; this only bounds how long a lost wake-up (a replica killed
 * between the release and the wake-up) or a holder whose job vanished can keep it waiting, and
 * keeps a held pair's backlog from costing Redis more than a look per job every half minute.
 */
const ORDER_WAIT_MS = 30_000;
const ORDER_WAIT_SPREAD_MS = 5_000;
/** Holders found gone (done, or deleted) dropped in one look before the job just waits. */
const ORDER_CLEANUPS = 3;

export interface RedisQueueOptions {
  /** Where Redis is (a URL, Sentinel or Cluster; see redis-connection.ts): the worker opens its own connection there. */
  url: string | RedisConnectionConfig;
  /** The fail-fast connection jobs are added through (see `producerConnection`); shared with the duplicate filter. */
  producer: RedisClient;
  /** Key prefix; in Redis Cluster it must be hash-tagged, e.g. `{herald}`. */
  prefix: string;
  policy: RetryPolicy;
  concurrency: number;
  logger: Logger;
  /** How long `add` may wait for Redis before the receiver answers 503. */
  addTimeoutMs?: number;
  /**
   * A job's lock duration and the stalled-job check period (BullMQ defaults: 30s each): a job
   * whose worker died is moved back to waiting within about twice this.
   */
  stalledIntervalMs?: number;
}

/**
 * The producer connection fails fast while Redis is away (no offline queue), so that a POST
 * gets a 503 at once instead of a 202 for a command that is only buffered in memory.
 */
export function producerConnection(url: string, logger: Logger): Redis;
export function producerConnection(target: string | RedisConnectionConfig, logger: Logger): RedisClient;
export function producerConnection(target: string | RedisConnectionConfig, logger: Logger): RedisClient {
  return createRedisConnection(target, 'producer', logger);
}

/** The worker connection blocks on Redis and retries forever, as BullMQ requires. */
function workerConnection(target: string | RedisConnectionConfig, logger: Logger): RedisClient {
  return createRedisConnection(target, 'worker', logger);
}

/** The job waits behind the holder of its pair (see redis-order.ts). */
class OrderWait extends DeferError {}

export class RedisQueue implements DeliveryQueue {
  readonly kind = 'redis' as const;
  private readonly producer: RedisClient;
  private readonly queue: Queue<DeliveryJob>;
  private worker?: Worker<DeliveryJob>;
  /** Per paused Provider: when the last job sent back for it comes back. */
  private readonly pausedTurns = new Map<string, number>();
  /** The worker's own connection: given to BullMQ as a client, so BullMQ leaves ending it to us. */
  private workerRedis?: RedisClient;
  /** Deliveries this process is running, and who waits for them all to end (shutdown). */
  private running = 0;
  private whenIdle?: () => void;
  private readonly order: RedisOrder;

  constructor(private readonly opts: RedisQueueOptions) {
    this.producer = opts.producer;
    this.queue = new Queue<DeliveryJob>(QUEUE_NAME, { connection: this.producer, prefix: opts.prefix });
    this.queue.on('error', () => undefined); // reported by the connection's own listener
    this.order = new RedisOrder(this.producer, opts.prefix);
  }

  async add(jobs: QueuedJob[]): Promise<void> {
    if (this.producer.status !== 'ready') throw new Error(`redis is not reachable (${this.producer.status})`);
    const adding = this.queue.addBulk(
      jobs.map(({ id, data }) => ({
        name: jobName(data),
        data,
        opts: {
          jobId: id,
          attempts: this.opts.policy.attempts,
          backoff: { type: 'herald' },
          removeOnComplete: { age: KEEP_COMPLETED_SECONDS, count: KEEP_COMPLETED_MAX },
          removeOnFail: false,
          priority: FRESH_PRIORITY,
          // The last error is the job's failedReason; a stack per attempt would only grow it.
          stackTraceLimit: 0,
        },
      })),
    );
    await withTimeout(adding, this.opts.addTimeoutMs ?? 5_000, 'storing the jobs in redis');
  }

  start(processor: Processor): void {
    const policy = this.opts.policy;
    this.workerRedis = workerConnection(this.opts.url, this.opts.logger);
    this.worker = new Worker<DeliveryJob>(QUEUE_NAME, (job, token) => this.process(job, token, processor), {
      connection: this.workerRedis,
      prefix: this.opts.prefix,
      concurrency: this.opts.concurrency,
      lockDuration: this.opts.stalledIntervalMs ?? 30_000,
      stalledInterval: this.opts.stalledIntervalMs ?? 30_000,
      settings: {
        backoffStrategy: (attemptsMade, _type, err) =>
          err instanceof RetryableError
            ? (err.delayMs ?? retryDelay(policy, attemptsMade, err.retryAfterMs))
            : retryDelay(policy, attemptsMade),
      },
    });
    this.worker.on('error', () => undefined); // connection errors are logged once per distinct error above
  }

  private async process(job: Job<DeliveryJob>, token: string | undefined, processor: Processor): Promise<void> {
    const id = job.id ?? '';
    const pair = orderPair(job.data);
    // Delivered already: its data was cut, then its worker died before marking it completed.
    if (job.data.delivered) return this.leaveOrder(pair, id);
    const attempt = job.attemptsMade + 1;
    const finalAttempt = attempt >= this.opts.policy.attempts;
    this.running += 1;
    try {
      await this.waitTurn(pair, id, job.data.acceptedAt);
      const retryDelayMs = (retryAfterMs?: number) => retryDelay(this.opts.policy, attempt, retryAfterMs);
      await processor(job.data, { id, attempt, finalAttempt, retryDelayMs });
    } catch (err) {
      if (err instanceof DeferError) {
        const delayMs = err instanceof ProviderPausedError ? this.pausedDelay(job.data.provider, err.delayMs) : err.delayMs;
        await this.behindFreshWork(job);
        await job.moveToDelayed(Date.now() + delayMs, token);
        // Released while this job was being put aside: its wake-up found it not delayed yet.
        if (err instanceof OrderWait && !(await this.order.held(pair).catch(() => true))) await job.promote().catch(() => undefined);
        throw new DelayedError();
      }
      const message = keptError(errorMessage(err));
      // A dead letter lets its pair go on; a job to be retried holds it (not fatal if Redis is
      // away: a holder found gone is dropped, see redis-order.ts).
      const dead = err instanceof PermanentError || finalAttempt;
      await (dead ? this.leaveOrder(pair, id) : this.order.hold(pair, id).catch(() => undefined));
      if (err instanceof PermanentError) throw new UnrecoverableError(message);
      if (err instanceof Error) err.message = message;
      if (!finalAttempt) await this.behindFreshWork(job);
      throw err;
    } finally {
      this.running -= 1;
      if (this.running === 0) this.whenIdle?.();
    }
    await this.leaveOrder(pair, id);
    // Completed: keep what identifies the delivery, not the event (which may be megabytes).
    // Not fatal if Redis is away: the whole job then stays until removeOnComplete drops it.
    await job.updateData(withoutPayload(job.data)).catch(() => undefined);
  }

  /** How long a job of a paused Provider (not to be tried for `waitMs`) stays in Redis: its turn, see PAUSED_RETURNS_PER_SECOND. */
  private pausedDelay(provider: string, waitMs: number, now = Date.now()): number {
    const turn = Math.max(this.pausedTurns.get(provider) ?? 0, now + waitMs) + 1000 / PAUSED_RETURNS_PER_SECOND;
    if (turn - now > MAX_PAUSED_DELAY_MS) return waitMs + Math.round(Math.random() * MAX_PAUSED_DELAY_MS);
    if (!this.pausedTurns.has(provider) && this.pausedTurns.size >= 1_000) {
      for (const [key, at] of this.pausedTurns) if (at < now) this.pausedTurns.delete(key);
    }
    this.pausedTurns.set(provider, turn);
    return Math.round(turn - now + Math.random() * PAUSED_SPREAD_MS);
  }

  /**
   * Returns when the job may be sent; throws DeferError (no attempt spent) while another job of
   * its (Provider, involved object) pair holds it, waiting for a retry.
   */
  private async waitTurn(pair: string, id: string, acceptedAt: number): Promise<void> {
    for (let cleanup = 0; cleanup < ORDER_CLEANUPS; cleanup++) {
      const turn = await this.order.enter(pair, id, acceptedAt);
      if (turn.go) return;
      const state = await this.queue.getJobState(turn.behind);
      // Pending (waiting, delayed, active…): wait. Done or gone: it no longer holds anything.
      if (state !== 'completed' && state !== 'failed' && state !== 'unknown') break;
      await this.leaveOrder(pair, turn.behind);
    }
    throw new OrderWait(ORDER_WAIT_MS + Math.round(Math.random() * ORDER_WAIT_SPREAD_MS));
  }

  /**
   * The job no longer holds nor waits in its pair's order; when it held the pair, the jobs that
   * waited behind it are woken. Not fatal if Redis is away: a holder found gone is dropped later.
   */
  private async leaveOrder(pair: string, id: string): Promise<void> {
    let woken: string[];
    try {
      woken = await this.order.release(pair, id);
    } catch {
      return;
    }
    for (const waitingId of woken) {
      // A waiting job is delayed (deferred) or about to be; one not delayed yet goes on anyway once it looks again.
      await Job.fromId<DeliveryJob>(this.queue, waitingId)
        .then(async (waiting) => (waiting && (await waiting.isDelayed()) ? waiting.promote() : undefined))
        .catch(() => undefined);
    }
  }

  private async behindFreshWork(job: Job<DeliveryJob>): Promise<void> {
    if (job.priority === RETRY_PRIORITY) return;
    await job.changePriority({ priority: RETRY_PRIORITY }).catch(() => undefined);
  }

  ready(): boolean {
    return this.producer.status === 'ready';
  }

  async counts(): Promise<Record<QueueState, number>> {
    const raw = await withTimeout(this.queue.getJobCounts(...QUEUE_STATES, 'prioritized', 'paused'), 2_000, 'counting jobs');
    const counts = Object.fromEntries(QUEUE_STATES.map((s) => [s, raw[s] ?? 0])) as Record<QueueState, number>;
    counts.waiting += (raw.prioritized ?? 0) + (raw.paused ?? 0);
    return counts;
  }

  async list(filter: DeliveryFilter): Promise<DeliveryPage> {
    // The cursor is a position in the state's oldest-first order. Only ids (and, with a
    // Provider, job names) are read while looking; then the page's jobs are read a few at a
    // time, until the page is full or heavy enough. One call looks at a bounded number of
    // ids, so a page of a rare Provider may come back short with a cursor.
    const wanted: Array<{ id: string; at: number }> = [];
    const end = filter.cursor + LIST_SCAN_LIMIT;
    let position = filter.cursor;
    let more = true;
    while (wanted.length < filter.limit && position < end) {
      const want = Math.min(end, position + ID_BATCH) - position;
      const ids = await this.rangeIds(filter.state, position, position + want - 1);
      const filtered = filter.provider || filter.alert || filter.object;
      const described = filtered ? await this.describeAll(ids, filter.alert !== undefined || filter.object !== undefined) : [];
      let taken = 0;
      for (const [i, id] of ids.entries()) {
        if (wanted.length === filter.limit) break;
        taken += 1;
        const of = described[i];
        const passes =
          !filtered ||
          ((!filter.provider || of?.provider === filter.provider) && (!filter.alert || of?.alert === filter.alert) && (!filter.object || of?.object === filter.object));
        if (passes) wanted.push({ id, at: position + i });
      }
      position += taken;
      if (taken === ids.length && ids.length < want) {
        more = false;
        break;
      }
    }
    const deliveries: DeliveryRecord[] = [];
    let bytes = 0;
    for (let i = 0; i < wanted.length; i += JOB_READ_BATCH) {
      const batch = wanted.slice(i, i + JOB_READ_BATCH);
      const jobs = await Promise.all(batch.map(({ id }) => Job.fromId<DeliveryJob>(this.queue, id)));
      const dueTimes = filter.state === 'delayed' ? await this.dueTimes(batch.map(({ id }) => id)) : [];
      for (const [j, job] of jobs.entries()) {
        if (deliveries.length > 0 && bytes >= MAX_PAGE_BYTES) return { deliveries, nextCursor: batch[j]?.at };
        if (!job?.data) continue; // gone since its id was read
        const delivery = this.toRecord(job, filter.state, dueTimes[j]);
        deliveries.push(delivery);
        bytes += recordBytes(delivery);
      }
    }
    return more ? { deliveries, nextCursor: position } : { deliveries };
  }

  async get(id: string): Promise<DeliveryRecord | undefined> {
    const job = await this.queue.getJob(id);
    if (!job) return undefined;
    const state = fromBullState(await job.getState());
    const [dueAt] = state === 'delayed' ? await this.dueTimes([id]) : [];
    return this.toRecord(job, state, dueAt);
  }

  /**
   * When each delayed job is due, read from BullMQ's delayed set, whose score is the due time
   * in milliseconds times 4096 plus a tie-breaker (BullMQ's getDelayedScore): the job itself
   * only keeps the delay, not when it started. Undefined for a job no longer delayed.
   */
  private async dueTimes(ids: string[]): Promise<Array<number | undefined>> {
    const client = await this.queue.client;
    const scores = await Promise.all(ids.map((id) => client.zscore(this.queue.toKey('delayed'), id)));
    return scores.map((score) => (score === null ? undefined : Math.floor(Number(score) / 0x1000)));
  }

  private toRecord(job: Job<DeliveryJob>, state: QueueState, dueAt?: number): DeliveryRecord {
    return {
      id: job.id ?? '',
      state,
      data: job.data,
      attemptsMade: job.attemptsMade,
      maxAttempts: job.opts.attempts ?? this.opts.policy.attempts,
      ...(state === 'delayed' && dueAt !== undefined ? { nextAttemptAt: dueAt } : {}),
      lastError: job.failedReason || undefined,
      finishedAt: job.finishedOn,
    };
  }

  async replay(id: string): Promise<boolean> {
    const job = await this.queue.getJob(id);
    if (!job || !(await job.isFailed())) return false;
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    return true;
  }

  async retryNow(id: string): Promise<'delayed' | 'failed' | undefined> {
    const state = await this.queue.getJobState(id);
    try {
      if (state === 'failed') return (await this.replay(id)) ? 'failed' : undefined;
      if (state !== 'delayed') return undefined;
      // A job object with only its id: promoting needs no data. BullMQ refuses (throws) when
      // the job is no longer delayed: it was taken up meanwhile.
      await new Job(this.queue, '', {} as DeliveryJob, {}, id).promote();
      return 'delayed';
    } catch (err) {
      if (/is not in the delayed state|Missing key for job|is not in the failed state/.test(errorMessage(err))) return undefined;
      throw err;
    }
  }

  async purge(id: string): Promise<boolean> {
    // Only while it is still a dead letter (BullMQ has no conditional remove; the window is one round trip).
    if ((await this.queue.getJobState(id)) !== 'failed') return false;
    return (await this.queue.remove(id)) === 1;
  }

  async replayDeadLetters(provider?: string): Promise<ReplayResult> {
    const result: ReplayResult = { replayed: 0, skipped: 0, byProviderType: {} };
    try {
      await this.eachDeadLetter(provider, async (id, providerType) => {
        try {
          // A job object with only its id: replaying needs no data, so none is read.
          await new Job(this.queue, '', {} as DeliveryJob, {}, id).retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
          result.replayed += 1;
          result.byProviderType[providerType] = (result.byProviderType[providerType] ?? 0) + 1;
        } catch (err) {
          // Replayed or purged by someone else since it was listed: not an error, but counted.
          if (!LEFT_DEAD_LETTERS.test((err as Error).message)) throw err;
          result.skipped += 1;
        }
      });
    } catch (err) {
      result.error = errorMessage(err);
    }
    return result;
  }

  async purgeDeadLetters(provider?: string): Promise<number> {
    let purged = 0;
    await this.eachDeadLetter(provider, async (id) => {
      // Only while it is still a dead letter: one replayed meanwhile is waiting for delivery.
      // (BullMQ has no conditional remove; the window is one round trip.)
      if ((await this.queue.getJobState(id)) === 'failed') purged += await this.queue.remove(id);
    });
    return purged;
  }

  /**
   * Calls `act` on each dead letter (of one Provider) there was when it started, oldest first,
   * reading ids and names a page at a time and never a job's data. `act` takes the job out of
   * the dead letters (or finds it gone): positions after it move up by one. Dead letters that
   * arrive meanwhile come after the ones counted at the start and are left alone.
   */
  private async eachDeadLetter(provider: string | undefined, act: (id: string, providerType: string) => Promise<void>): Promise<void> {
    let remaining = await this.queue.getFailedCount();
    let position = 0;
    while (remaining > 0) {
      const ids = await this.queue.getRanges(['failed'], position, position + Math.min(ID_BATCH, remaining) - 1, true);
      if (ids.length === 0) return;
      const names = await this.namesOf(ids);
      for (const [i, id] of ids.entries()) {
        remaining -= 1;
        const { providerType, provider: of } = await this.describe(id, names[i] ?? null);
        if (provider && of !== provider) position += 1;
        else await act(id, providerType);
      }
    }
  }

  /**
   * Ids at positions start..end (inclusive) of a state, oldest first. Waiting jobs live in two
   * BullMQ lists: `prioritized` (every job is stored with a priority, see FRESH_PRIORITY) and
   * `wait` (jobs stored without one, by an older Herald); the position runs through the first,
   * then the second. BullMQ pages each list on its own, so the split is done here.
   */
  private async rangeIds(state: QueueState, start: number, end: number): Promise<string[]> {
    if (state !== 'waiting') return this.queue.getRanges([state], start, end, true);
    const prioritized = await this.queue.getPrioritizedCount();
    const ids = start < prioritized ? await this.queue.getRanges(['prioritized'], start, Math.min(end, prioritized - 1), true) : [];
    if (end < prioritized) return ids;
    const from = Math.max(start, prioritized) - prioritized;
    return [...ids, ...(await this.queue.getRanges(['wait'], from, end - prioritized, true))];
  }

  /** The job names of `ids` (null for a job gone meanwhile), in one round trip. */
  private async namesOf(ids: string[]): Promise<Array<string | null>> {
    const client = await this.queue.client;
    return Promise.all(ids.map((id) => client.hget(this.queue.toKey(id), 'name')));
  }

  private async describeAll(ids: string[], withAlertAndObject: boolean): Promise<JobDescription[]> {
    const names = await this.namesOf(ids);
    return Promise.all(ids.map((id, i) => this.describe(id, names[i] ?? null, withAlertAndObject)));
  }

  /**
   * Provider type, Provider, Alert and involved object from the job name (see `jobName`); jobs
   * stored before names carried what is asked for are read whole.
   */
  private async describe(id: string, name: string | null, withAlertAndObject = false): Promise<JobDescription> {
    const [providerType = '', provider, alert, ...object] = (name ?? '').split(' ');
    const described = { providerType, provider, alert, object: object.length > 0 ? object.join(' ') : undefined };
    if (name === null || (provider && (!withAlertAndObject || alert))) return described;
    const job = await Job.fromId<DeliveryJob>(this.queue, id);
    if (!job?.data) return described;
    return { providerType: job.data.providerType, provider: job.data.provider, alert: job.data.alert, object: objectOf(job.data) };
  }

  async close(): Promise<void> {
    // Worker.close waits for in-flight jobs; whatever is not finished stays locked in Redis
    // and is picked up again by any replica once its lock expires.
    if (this.workerRedis?.status === 'ready') {
      await this.worker?.close();
    } else if (this.worker) {
      // With Redis unreachable, BullMQ's graceful close waits for its blocking connection to
      // quit, which it never does: SIGTERM then waited the whole --shutdown-timeout and exited
      // 1 with nothing in flight. No job can be fetched meanwhile: let the deliveries running
      // finish, then close without waiting for Redis (a job whose completion could not be
      // recorded is taken up again once its lock expires).
      if (this.running > 0) await new Promise<void>((resolve) => (this.whenIdle = resolve));
      await this.worker.close(true);
    }
    // Ended without waiting for an 'end' event, which a connection retrying an unreachable
    // Redis never emits. Nothing is left to send on it once the worker is closed.
    this.workerRedis?.disconnect();
    if (this.producer.status !== 'ready') {
      // Never connected (e.g. no sentinel answers): end the connection while the queue still
      // listens. BullMQ rethrows a connect error it does not know (Sentinel's) once the queue
      // is closed and has no listener left, which would crash the process on shutdown.
      // (Bounded: a connection ended between two reconnect attempts may never settle.)
      this.producer.disconnect();
      await withTimeout(this.queue.waitUntilReady(), 1_000, 'closing').catch(() => undefined);
    }
    await this.queue.close();
  }
}

/** BullMQ's answers when a job to replay is gone, or no longer (or not yet again) a dead letter. */
const LEFT_DEAD_LETTERS = /^(Missing key for job \S+|Job \S+ is not in the failed state)\. /;

/**
 * A job's name carries its provider type, Provider, Alert and involved object, so listing and
 * replay can filter without reading the (possibly large) data. The object comes last: an
 * object's name is the one part that may hold a space.
 */
function jobName(data: DeliveryJob): string {
  return `${data.providerType} ${data.provider} ${data.alert} ${objectOf(data)}`;
}

interface JobDescription {
  providerType: string;
  provider?: string;
  alert?: string;
  object?: string;
}

function fromBullState(state: string): QueueState {
  if (state === 'completed' || state === 'failed' || state === 'active' || state === 'delayed') return state;
  return 'waiting';
}
