/**
 * The durable queue: BullMQ on Redis. Jobs are stored before the receiver answers 202,
 * survive restarts, are shared by every replica (a job is locked by one worker at a time), and
 * failed jobs are kept as dead letters.
 */
import { randomUUID } from 'node:crypto';
import { DelayedError, Job, Queue, UnrecoverableError, Worker, type JobsOptions } from 'bullmq';
import type { ChainableCommander, Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { QUEUE_STATES, type QueueState } from '../observability/metrics.js';
import { approximateBytes, orderPair, withoutPayload, type DeliveryJob, type QueuedJob } from './job.js';
import { GroupCommit } from './group-commit.js';
import { IntakeConnection, type DefinedScripts } from './intake-connection.js';
import {
  BatchKeys,
  CLAIM_SCRIPT,
  COUNT_SCRIPT,
  Claim,
  DELIVERY_INDEX_SECONDS,
  INTAKE_SCRIPT,
  MAX_BATCH_BYTES,
  MAX_BATCH_DELIVERIES,
  REWRITE_SCRIPT,
  SENT_MARKS_SECONDS,
  SentMarks,
  batchName,
  isBatchData,
  isBatchName,
  type BatchData,
  type FirstAttempt,
  type SingleData,
} from './redis-batch.js';
import { Semaphore } from './semaphore.js';
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
  type DuplicateWindow,
  type Processor,
  type WindowOutcome,
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

/**
 * Completed batches kept (by count; by age as above): a batch holds up to MAX_BATCH_DELIVERIES
 * completed deliveries (usually far fewer), each cut by `withoutPayload`, so at most about
 * 2,000 × 128 completed deliveries are kept. A re-sent event is recognised by the delivery
 * index (see redis-batch.ts), not by this.
 */
const KEEP_COMPLETED_BATCHES = 2_000;
/** A batch whose worker failed (Redis went away during its acknowledgement) is taken up again after this. */
const BATCH_RETRY_MS = 1_000;
const BATCH_ATTEMPTS = 1_000_000;

/**
 * How long a delivery of a batch waits in this process for its Provider's turn (see
 * `perProviderConcurrency`) before it goes back to Redis as its own job, delayed by
 * PROVIDER_DEFER_MS plus up to as much at random: a slow Provider's deliveries then do not keep
 * their batches, and the worker slots those hold, from fresh work. It gives up once the
 * Provider's deliveries in flight have not moved for PROVIDER_WAIT_MS — as short as the
 * processor's own slot wait: with 5 s, a black-holed Provider's backlog held every worker slot
 * and a healthy Provider's deliveries waited seconds behind it (the provider-faults isolation
 * test) — and after PROVIDER_WAIT_MAX_MS however they move. A fixed 250 ms sent a third of a
 * busy but healthy Provider's deliveries back to Redis one job each under load (measured with
 * the bench), which cost far more than the wait.
 */
const PROVIDER_WAIT_MS = 250;
const PROVIDER_WAIT_MAX_MS = 2_000;
const PROVIDER_DEFER_MS = 1_000;

/** Ids one listing call looks at, at most; ids read per round trip. */
const LIST_SCAN_LIMIT = 10_000;
const ID_BATCH = 500;
/**
 * A listing cursor is a job's position in its state times CURSOR_SPAN plus a delivery's place
 * in that job (a batch): larger than any batch (one event to every Alert of 10,000 included).
 */
const CURSOR_SPAN = 1 << 20;
/** Jobs per state whose name `counts` reads (to count a batch's deliveries); beyond, each job counts one. */
const COUNT_SCAN_LIMIT = 10_000;

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
  /**
   * Deliveries of one Provider a batch worker sends at once (the processor's own per-Provider
   * slots' size): the rest of a batch's deliveries to it wait in this process, up to
   * PROVIDER_WAIT_MS, instead of each spending the processor's short slot wait and going back
   * to Redis. Unbounded (only `concurrency`) when unset.
   */
  perProviderConcurrency?: number;
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

type QueueData = SingleData | BatchData;

/** One event's jobs handed to the intake's group commit. */
interface IntakeSubmission {
  jobs: QueuedJob[];
  window?: DuplicateWindow;
  items: number;
  bytes: number;
}

/** What became of one delivery of a batch. */
type Outcome =
  | { kind: 'sent' }
  | { kind: 'stopped' }
  | { kind: 'defer'; delayMs: number }
  | { kind: 'retry'; error: string; retryAfterMs?: number; delayMs?: number }
  | { kind: 'dead'; error: string };

/** A delivery of a batch that goes back to the queue as its own job. */
interface Requeued {
  entry: QueuedJob;
  priority: number;
  delayMs?: number;
  firstAttempt?: FirstAttempt;
}

export class RedisQueue implements DeliveryQueue {
  readonly kind = 'redis' as const;
  private readonly producer: RedisClient;
  private readonly queue: Queue<QueueData>;
  private worker?: Worker<QueueData>;
  private readonly keys: BatchKeys;
  private readonly intake: GroupCommit<IntakeSubmission, number>;
  /** Where the intake's MULTIs go (opened at the first store). */
  private readonly intakeRedis: IntakeConnection;
  /** Deliveries of batches sent at once by this process (`concurrency`), and per Provider (`perProviderConcurrency`). */
  private readonly sending: Semaphore;
  private readonly providerTurns = new Map<string, Semaphore>();
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
    this.queue = new Queue<QueueData>(QUEUE_NAME, { connection: this.producer, prefix: opts.prefix });
    this.queue.on('error', () => undefined); // reported by the connection's own listener
    this.order = new RedisOrder(this.producer, opts.prefix);
    this.keys = new BatchKeys(opts.prefix, (id) => this.queue.toKey(id));
    this.intake = new GroupCommit((jobs) => this.storeBatch(jobs), { maxItems: MAX_BATCH_DELIVERIES, maxBytes: MAX_BATCH_BYTES });
    this.intakeRedis = new IntakeConnection(opts.url, opts.logger, () => this.bullmqClient(), INTAKE_SCRIPT);
    this.sending = new Semaphore(opts.concurrency);
  }

  /** BullMQ options of a delivery stored as its own job (a retry, a deferral, a dead letter). */
  private singleOptions(id: string, priority: number, delayMs?: number): JobsOptions {
    return {
      jobId: id,
      attempts: this.opts.policy.attempts,
      backoff: { type: 'herald' },
      removeOnComplete: { age: KEEP_COMPLETED_SECONDS, count: KEEP_COMPLETED_MAX },
      removeOnFail: false,
      priority,
      ...(delayMs !== undefined && delayMs > 0 ? { delay: delayMs } : {}),
      // The last error is the job's failedReason; a stack per attempt would only grow it.
      stackTraceLimit: 0,
    };
  }

  /**
   * Stores the jobs in the batch being formed (see group-commit.ts): resolves once that batch is
   * stored, rejects (and nothing of the batch is stored) when its store failed. The event's
   * duplicate window, when given, is checked and started in the same write.
   */
  async add(jobs: QueuedJob[], window?: DuplicateWindow): Promise<WindowOutcome | void> {
    if (this.producer.status !== 'ready') throw new Error(`redis is not reachable (${this.producer.status})`);
    if (jobs.length === 0) return;
    let bytes = 0;
    for (const job of jobs) bytes += approximateBytes(job.data);
    const left = await this.intake.submit({ jobs, window, items: jobs.length, bytes });
    if (!window) return;
    return left > 0 ? { duplicateUntil: Date.now() + left } : {};
  }

  /** Batches stored by this process (a store is one MULTI: BullMQ's add and the delivery index). */
  batchesStored = 0;

  /**
   * One MULTI: BullMQ's add of the batch job, then the script that checks and starts the events'
   * duplicate windows, indexes the deliveries and drops those already known. Answers per
   * submission the milliseconds left of the window that refused its event (0: accepted).
   */
  private async storeBatch(submissions: IntakeSubmission[]): Promise<number[]> {
    if (this.producer.status !== 'ready') throw new Error(`redis is not reachable (${this.producer.status})`);
    const batchId = `batch-${randomUUID()}`;
    const jobs = submissions.flatMap((s) => s.jobs);
    const store = async () => {
      const multi = await this.intakeRedis.multi();
      const batch = new Job<QueueData>(this.queue, batchName(jobs.length), { batch: jobs }, this.batchOptions(batchId), batchId);
      // Queued on the MULTI synchronously; settles with it.
      const added = batch.addJob(multi as never, {}).catch(() => undefined);
      const keys = [this.queue.toKey(batchId)];
      for (const { id } of jobs) keys.push(this.keys.index(id), this.queue.toKey(id));
      const windows = submissions.flatMap((s) => [s.window?.key ?? '', s.window?.windowMs ?? 0]);
      const eventOf = submissions.flatMap((s, e) => s.jobs.map(() => e + 1));
      const args = [batchId, DELIVERY_INDEX_SECONDS, jobs.length, this.queue.toKey(''), submissions.length, ...windows, ...eventOf];
      multi.heraldIntake(keys.length, ...keys, ...args);
      const results = await multi.exec();
      await added;
      failOnError(results);
      return (results?.at(-1)?.[1] ?? []) as number[];
    };
    // The intake script writes nothing without the batch job (see BATCH_NOT_STORED): once the
    // scripts are back, storing again is safe.
    const storing = store().catch(async (err: unknown) => ((await this.reloadedScripts(err)) ? store() : Promise.reject(err)));
    const left = await withTimeout(storing, this.opts.addTimeoutMs ?? 5_000, 'storing the jobs in redis');
    this.batchesStored += 1;
    return left;
  }

  private batchOptions(batchId: string): JobsOptions {
    return {
      jobId: batchId,
      attempts: BATCH_ATTEMPTS,
      backoff: { type: 'batch' },
      removeOnComplete: { age: KEEP_COMPLETED_SECONDS, count: KEEP_COMPLETED_BATCHES },
      removeOnFail: false,
      priority: FRESH_PRIORITY,
      stackTraceLimit: 0,
    };
  }

  start(processor: Processor): void {
    const policy = this.opts.policy;
    this.workerRedis = workerConnection(this.opts.url, this.opts.logger);
    this.worker = new Worker<QueueData>(
      QUEUE_NAME,
      (job, token) =>
        isBatchData(job.data) ? this.processBatch(job as Job<BatchData>, processor) : this.process(job as Job<SingleData>, token, processor),
      {
      connection: this.workerRedis,
      prefix: this.opts.prefix,
      concurrency: this.opts.concurrency,
      lockDuration: this.opts.stalledIntervalMs ?? 30_000,
      stalledInterval: this.opts.stalledIntervalMs ?? 30_000,
      settings: {
        backoffStrategy: (attemptsMade, type, err) => {
          if (type === 'batch') return BATCH_RETRY_MS;
          if (err instanceof RetryableError) return err.delayMs ?? retryDelay(policy, attemptsMade, err.retryAfterMs);
          return retryDelay(policy, attemptsMade);
        },
      },
      },
    );
    this.worker.on('error', () => undefined); // connection errors are logged once per distinct error above
  }

  private async process(job: Job<SingleData>, token: string | undefined, processor: Processor): Promise<void> {
    const id = job.id ?? '';
    const pair = orderPair(job.data);
    // Delivered already: its data was cut, then its worker died before marking it completed.
    if (job.data.delivered) return this.leaveOrder(pair, id);
    const first = job.data.firstAttempt;
    if (first && job.attemptsMade === 0) {
      // Its first attempt was made in a batch: recorded now as BullMQ's own (attempt count,
      // backoff, failedReason), without sending again. Dropped from the data first, so that a
      // replay of the dead letter starts afresh.
      const { firstAttempt: _recorded, ...data } = job.data;
      await job.updateData(data);
      if (first.dead) throw new UnrecoverableError(first.error);
      throw new RetryableError(first.error, first.retryAfterMs, first.delayMs);
    }
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

  /**
   * Delivers a batch: claims its deliveries (see CLAIM_SCRIPT), sends them through the
   * processor (a pair's deliveries one after the other, pairs side by side, at most
   * `concurrency` at once in this process), re-queues each one not sent as its own job, then
   * rewrites the batch to what it delivered. BullMQ completes it when this returns; a worker
   * that dies before hands the batch to another once its lock expires, which sends only what
   * was not marked sent.
   */
  private async processBatch(job: Job<BatchData>, processor: Processor): Promise<void> {
    const batchId = job.id ?? '';
    // Each id once: copies of one event stored in one batch are one delivery.
    const ids = new Set<string>();
    const entries = job.data.batch.filter((entry) => !ids.has(entry.id) && ids.add(entry.id));
    const marks = this.keys.sentMarks(batchId);
    const keys: string[] = [];
    for (const entry of entries) keys.push(this.keys.index(entry.id), this.queue.toKey(entry.id), this.order.holdKey(orderPair(entry.data)));
    keys.push(marks);
    const verdicts = (await this.producer.eval(
      CLAIM_SCRIPT,
      keys.length,
      ...keys,
      batchId,
      DELIVERY_INDEX_SECONDS,
      entries.length,
      this.queue.toKey(''),
      SENT_MARKS_SECONDS,
    )) as number[];

    const delivered: QueuedJob[] = [];
    const requeued: Requeued[] = [];
    const sendable: Array<{ entry: QueuedJob; position: number }> = [];
    for (const [position, entry] of entries.entries()) {
      const verdict = verdicts[position];
      if (verdict === Claim.Skip) continue;
      if (verdict === Claim.Sent) delivered.push(entry);
      // Its pair waits for a retry: as its own job it takes its place in the pair's order.
      else if (verdict === Claim.Held) requeued.push({ entry, priority: FRESH_PRIORITY });
      else sendable.push({ entry, position });
    }

    // As with jobs of their own, a pair's fresh deliveries may be in flight together; once one
    // of them waits for a retry, the pair's deliveries not started yet go back as jobs of their
    // own behind it, so that none overtakes it.
    const stopped = new Set<string>();
    const sentMarks = new SentMarks(this.producer, marks);
    await Promise.all(
      sendable.map(async ({ entry, position }) => {
        const pair = orderPair(entry.data);
        const outcome = await this.attempt(entry, processor, () => stopped.has(pair));
        if (outcome.kind === 'sent') {
          delivered.push(entry);
          sentMarks.mark(position);
        } else if (outcome.kind === 'stopped') {
          requeued.push({ entry, priority: FRESH_PRIORITY });
        } else if (outcome.kind === 'dead') {
          // A dead letter does not hold its pair: the pair's next delivery goes on.
          requeued.push({ entry, priority: RETRY_PRIORITY, firstAttempt: { error: outcome.error, dead: true } });
        } else if (outcome.kind === 'retry') {
          const retry: Requeued = { entry, priority: RETRY_PRIORITY, firstAttempt: { error: outcome.error, dead: false, retryAfterMs: outcome.retryAfterMs, delayMs: outcome.delayMs } };
          stopped.add(pair);
          await this.order.hold(pair, entry.id).catch(() => undefined);
          requeued.push(retry);
        } else {
          // Deferred (no attempt spent); like a deferred job of its own, it does not hold its pair.
          requeued.push({ entry, priority: RETRY_PRIORITY, delayMs: outcome.delayMs });
        }
      }),
    );
    try {
      await this.acknowledge(batchId, delivered, requeued);
      sentMarks.stop();
    } catch (err) {
      // Taken up again later: what was sent must not be sent again.
      await sentMarks.flush();
      throw err;
    }
  }

  /** One delivery of a batch through the processor (its first attempt), unless its pair `stopped` meanwhile. */
  private async attempt(entry: QueuedJob, processor: Processor, stopped: () => boolean): Promise<Outcome> {
    const provider = entry.data.provider;
    const turns = this.providerTurns.get(provider) ?? new Semaphore(this.opts.perProviderConcurrency ?? Infinity);
    this.providerTurns.set(provider, turns);
    if (!(await turns.acquire(PROVIDER_WAIT_MS, PROVIDER_WAIT_MAX_MS))) {
      if (turns.idle) this.providerTurns.delete(provider);
      return { kind: 'defer', delayMs: PROVIDER_DEFER_MS + Math.round(Math.random() * PROVIDER_DEFER_MS) };
    }
    try {
      return await this.send(entry, processor, stopped);
    } finally {
      turns.release();
      if (turns.idle) this.providerTurns.delete(provider);
    }
  }

  private async send(entry: QueuedJob, processor: Processor, stopped: () => boolean): Promise<Outcome> {
    const finalAttempt = 1 >= this.opts.policy.attempts;
    await this.sending.acquire();
    this.running += 1;
    try {
      if (stopped()) return { kind: 'stopped' };
      await processor(entry.data, { id: entry.id, attempt: 1, finalAttempt, retryDelayMs: (retryAfterMs) => retryDelay(this.opts.policy, 1, retryAfterMs) });
      return { kind: 'sent' };
    } catch (err) {
      if (err instanceof DeferError) {
        return { kind: 'defer', delayMs: err instanceof ProviderPausedError ? this.pausedDelay(entry.data.provider, err.delayMs) : err.delayMs };
      }
      const error = keptError(errorMessage(err));
      if (err instanceof PermanentError || finalAttempt) return { kind: 'dead', error };
      return { kind: 'retry', error, retryAfterMs: err instanceof RetryableError ? err.retryAfterMs : undefined, delayMs: err instanceof RetryableError ? err.delayMs : undefined };
    } finally {
      this.sending.release();
      this.running -= 1;
      if (this.running === 0) this.whenIdle?.();
    }
  }

  /**
   * One MULTI (one script when every delivery was sent): the deliveries not sent become jobs of
   * their own (an id already known is not added twice), the batch keeps only what it delivered
   * (cut by `withoutPayload`), and its sent-marks go. Throws when Redis does not take it: the
   * batch is then tried again (its marks keep what was sent from being sent twice; the jobs
   * already added are not added twice).
   */
  private async acknowledge(batchId: string, delivered: QueuedJob[], requeued: Requeued[]): Promise<void> {
    const kept: BatchData = { batch: delivered.map(({ id, data }) => ({ id, data: withoutPayload(data) })) };
    const requeuedKeys = requeued.map(({ entry }) => this.queue.toKey(entry.id));
    const rewrite = [REWRITE_SCRIPT, 2 + requeuedKeys.length, this.queue.toKey(batchId), this.keys.sentMarks(batchId), ...requeuedKeys, JSON.stringify(kept), batchName(delivered.length)] as const;
    if (requeued.length === 0) {
      // The usual case: one script, atomic by itself, needs no MULTI around it.
      await this.producer.eval(...rewrite);
      return;
    }
    const multi = (await this.queue.client).multi() as unknown as ChainableCommander;
    const added: Array<Promise<unknown>> = [];
    for (const { entry, priority, delayMs, firstAttempt } of requeued) {
      const data: SingleData = firstAttempt ? { ...entry.data, firstAttempt } : entry.data;
      const single = new Job<QueueData>(this.queue, jobName(entry.data), data, this.singleOptions(entry.id, priority, delayMs), entry.id);
      added.push(single.addJob(multi as never, {}).catch(() => undefined));
    }
    multi.eval(...rewrite);
    const results = await multi.exec();
    await Promise.all(added);
    // Nothing was rewritten without every re-queued job (see REQUEUE_NOT_STORED): the batch is
    // taken up again, with the scripts back.
    if (results?.some(([err]) => err)) await this.reloadedScripts(results.find(([err]) => err)?.[0]);
    failOnError(results);
  }

  /**
   * Whether `err` says Redis lost BullMQ's scripts (NOSCRIPT: restarted or flushed, or their
   * first load on this connection was in a MULTI that Redis discarded, e.g. at maxmemory) and
   * they were loaded again. The client sends a script whole only the first time on a
   * connection, and a NOSCRIPT inside a MULTI does not make it do so again: without this, every
   * later store on the connection failed until it reconnected.
   */
  private async reloadedScripts(err: unknown): Promise<boolean> {
    if (!/NOSCRIPT/.test(errorMessage(err))) return false;
    const client = await this.bullmqClient();
    // The intake connection's add scripts are BullMQ's own: each loaded once.
    const scripts = new Set([...Object.values(client.scriptsSet).map(({ lua }) => lua), ...(await this.intakeRedis.scripts())]);
    await Promise.all([...scripts].map((lua) => client.script('LOAD', lua)));
    return true;
  }

  /** BullMQ's connection, once it has loaded BullMQ's commands (an ioredis connection: its defined commands keep their Lua in `scriptsSet`). */
  private async bullmqClient(): Promise<RedisClient & DefinedScripts> {
    return (await this.queue.client) as unknown as RedisClient & DefinedScripts;
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

  /**
   * Deliveries per state: a batch counts the deliveries its name says (all it holds while it
   * waits, what it delivered once completed), a job of its own counts one. Redis reads the
   * names of at most COUNT_SCAN_LIMIT jobs per state (in one script); beyond, each job counts one.
   */
  async counts(): Promise<Record<QueueState, number>> {
    const lists: Array<[string, 'list' | 'zset', QueueState]> = [
      ['wait', 'list', 'waiting'],
      ['paused', 'list', 'waiting'],
      ['prioritized', 'zset', 'waiting'],
      ['active', 'list', 'active'],
      ['delayed', 'zset', 'delayed'],
      ['completed', 'zset', 'completed'],
      ['failed', 'zset', 'failed'],
    ];
    const counting = this.producer.eval(
      COUNT_SCRIPT,
      lists.length,
      ...lists.map(([key]) => this.queue.toKey(key)),
      this.queue.toKey(''),
      ...lists.map(([, type]) => type),
      COUNT_SCAN_LIMIT,
    ) as Promise<number[]>;
    const answers = await withTimeout(counting, 2_000, 'counting jobs');
    const counts = Object.fromEntries(QUEUE_STATES.map((s) => [s, 0])) as Record<QueueState, number>;
    for (const [i, [, , state]] of lists.entries()) counts[state] += answers[i] ?? 0;
    return counts;
  }

  /**
   * One page of deliveries in a state, oldest first: a batch's deliveries are listed one by one
   * (the cursor says where in a batch a page stopped, see CURSOR_SPAN). Only ids and names are
   * read while looking; a batch is read whole (it is bounded, see MAX_BATCH_BYTES). One call
   * looks at a bounded number of jobs, so a page of a rare Provider may come back short with a cursor.
   */
  async list(filter: DeliveryFilter): Promise<DeliveryPage> {
    const deliveries: DeliveryRecord[] = [];
    let bytes = 0;
    const full = () => deliveries.length >= filter.limit || (deliveries.length > 0 && bytes >= MAX_PAGE_BYTES);
    const take = (record: DeliveryRecord) => {
      deliveries.push(record);
      bytes += recordBytes(record);
    };
    let position = Math.floor(filter.cursor / CURSOR_SPAN);
    let inBatch = filter.cursor % CURSOR_SPAN;
    const end = position + LIST_SCAN_LIMIT;
    while (position < end) {
      const want = Math.min(end, position + ID_BATCH) - position;
      const ids = await this.rangeIds(filter.state, position, position + want - 1);
      const names = await this.namesOf(ids);
      for (const [i, id] of ids.entries()) {
        const name = names[i] ?? null;
        if (isBatchName(name)) {
          const records = await this.batchRecords(id, filter.state);
          for (let k = inBatch; k < records.length; k++) {
            const record = records[k] as DeliveryRecord;
            if (!matchesFilter(filter, { provider: record.data.provider, alert: record.data.alert, object: objectOf(record.data) })) continue;
            if (full()) return { deliveries, nextCursor: position * CURSOR_SPAN + k };
            take(record);
          }
        } else if (name !== null) {
          const described = await this.describe(id, name, filter.alert !== undefined || filter.object !== undefined);
          if (matchesFilter(filter, described)) {
            const job = await Job.fromId<SingleData>(this.queue, id);
            // Gone since its id was read: skipped.
            if (job?.data) {
              if (full()) return { deliveries, nextCursor: position * CURSOR_SPAN };
              const [dueAt] = filter.state === 'delayed' ? await this.dueTimes([id]) : [];
              take(this.toRecord(job, filter.state, dueAt));
            }
          }
        }
        position += 1;
        inBatch = 0;
      }
      if (ids.length < want) return { deliveries };
    }
    return { deliveries, nextCursor: position * CURSOR_SPAN };
  }

  /** A batch's deliveries as records, those another batch or job owns left out (a re-sent event's copies). */
  private async batchRecords(batchId: string, state: QueueState): Promise<DeliveryRecord[]> {
    const batch = await Job.fromId<QueueData>(this.queue, batchId);
    if (!batch || !isBatchData(batch.data)) return [];
    const ids = new Set<string>();
    const entries = batch.data.batch.filter((entry) => !ids.has(entry.id) && ids.add(entry.id));
    if (entries.length === 0) return [];
    // A completed batch was rewritten to what it delivered; a pending one may hold duplicates.
    const owners = state === 'completed' ? [] : await this.producer.mget(...entries.map((entry) => this.keys.index(entry.id)));
    const records: DeliveryRecord[] = [];
    for (const [i, entry] of entries.entries()) {
      const owner = owners[i];
      if (state !== 'completed' && owner !== batchId && owner !== null) continue;
      records.push(this.batchRecord(entry, batch, state));
    }
    return records;
  }

  /** A delivery by its id: a job of its own (a retry, a dead letter), or a delivery inside the batch its index names. */
  async get(id: string): Promise<DeliveryRecord | undefined> {
    // The state first, then the job: a job that moves on between the two reads then shows fields
    // at least as new as its state. The other way round, a failed attempt could show as delayed
    // for its retry with the attempt not counted yet (BullMQ moves it, then the record was read
    // from before).
    const bullState = await this.queue.getJobState(id);
    const job = bullState === 'unknown' ? undefined : await this.queue.getJob(id);
    if (job && !isBatchData(job.data)) {
      const state = fromBullState(bullState);
      const [dueAt] = state === 'delayed' ? await this.dueTimes([id]) : [];
      return this.toRecord(job as Job<SingleData>, state, dueAt);
    }
    const batchId = await this.producer.get(this.keys.index(id));
    if (!batchId) return undefined;
    const batch = await Job.fromId<QueueData>(this.queue, batchId);
    if (!batch || !isBatchData(batch.data)) return undefined;
    const entry = batch.data.batch.find((e) => e.id === id);
    if (!entry) return undefined;
    return this.batchRecord(entry, batch, fromBullState(await batch.getState()));
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

  private toRecord(job: Job<SingleData>, state: QueueState, dueAt?: number): DeliveryRecord {
    const { firstAttempt: _pending, ...data } = job.data;
    return {
      id: job.id ?? '',
      state,
      data,
      attemptsMade: job.attemptsMade,
      maxAttempts: job.opts.attempts ?? this.opts.policy.attempts,
      ...(state === 'delayed' && dueAt !== undefined ? { nextAttemptAt: dueAt } : {}),
      lastError: job.failedReason || undefined,
      finishedAt: job.finishedOn,
    };
  }

  /** A delivery inside a batch: its attempt is the batch's (one once delivered, none while pending). */
  private batchRecord(entry: QueuedJob, batch: Job<QueueData>, state: QueueState): DeliveryRecord {
    return {
      id: entry.id,
      state,
      data: entry.data,
      attemptsMade: state === 'completed' ? 1 : 0,
      maxAttempts: this.opts.policy.attempts,
      lastError: batch.failedReason || undefined,
      finishedAt: batch.finishedOn,
    };
  }

  async replay(id: string): Promise<boolean> {
    // A delivery inside a batch is a dead letter only with its batch (one whose worker stalled
    // twice): replaying it replays the batch, whose delivered deliveries are not sent again.
    const job = (await this.queue.getJob(id)) ?? (await this.batchOf(id));
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

  private async batchOf(deliveryId: string): Promise<Job<QueueData> | undefined> {
    const batchId = await this.producer.get(this.keys.index(deliveryId));
    return batchId ? this.queue.getJob(batchId) : undefined;
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
    this.intakeRedis.close();
    await this.queue.close();
  }
}

/** BullMQ's answers when a job to replay is gone, or no longer (or not yet again) a dead letter. */
const LEFT_DEAD_LETTERS = /^(Missing key for job \S+|Job \S+ is not in the failed state)\. /;

/** A MULTI's answers: throws the first command's error (BullMQ's add answers a negative code for its own refusals). */
function failOnError(results: Array<[Error | null, unknown]> | null): void {
  if (!results) throw new Error('the redis transaction was discarded');
  for (const [err, answer] of results) {
    if (err) throw err;
    if (typeof answer === 'number' && answer < 0) throw new Error(`redis refused the job (BullMQ code ${answer})`);
  }
}

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

/** Whether a delivery with these Provider, Alert and object passes the listing's filters. */
function matchesFilter(filter: DeliveryFilter, of: { provider?: string; alert?: string; object?: string }): boolean {
  return (!filter.provider || of.provider === filter.provider) && (!filter.alert || of.alert === filter.alert) && (!filter.object || of.object === filter.object);
}
