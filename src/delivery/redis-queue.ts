/**
 * The durable queue: BullMQ on Redis. Jobs are stored before the receiver answers 202,
 * survive restarts, are shared by every replica (a job is locked by one worker at a time), and
 * failed jobs are kept as dead letters.
 */
import { DelayedError, Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { QUEUE_STATES, type QueueState } from '../observability/metrics.js';
import { withoutPayload, type DeliveryJob, type QueuedJob } from './job.js';
import { createRedisConnection, type RedisClient, type RedisConnectionConfig } from './redis-connection.js';
import {
  DeferError,
  PermanentError,
  RetryableError,
  keptError,
  type DeliveryFilter,
  type DeliveryQueue,
  type DeliveryRecord,
  type Processor,
} from './queue.js';
import { retryDelay, type RetryPolicy } from './retry-policy.js';

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
 * BullMQ takes a job of a lower priority number first. Every job is stored with one, so that a
 * job that failed or was deferred can be moved behind fresh work: a Provider that refuses a
 * backlog then delays only its own retries, never a healthy Provider's new deliveries (which
 * would otherwise wait behind every retry promoted before them). Among equals, first in first out.
 */
const FRESH_PRIORITY = 1;
const RETRY_PRIORITY = 2;

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

export class RedisQueue implements DeliveryQueue {
  readonly kind = 'redis' as const;
  private readonly producer: RedisClient;
  private readonly queue: Queue<DeliveryJob>;
  private worker?: Worker<DeliveryJob>;

  constructor(private readonly opts: RedisQueueOptions) {
    this.producer = opts.producer;
    this.queue = new Queue<DeliveryJob>(QUEUE_NAME, { connection: this.producer, prefix: opts.prefix });
    this.queue.on('error', () => undefined); // reported by the connection's own listener
  }

  async add(jobs: QueuedJob[]): Promise<void> {
    if (this.producer.status !== 'ready') throw new Error(`redis is not reachable (${this.producer.status})`);
    const adding = this.queue.addBulk(
      jobs.map(({ id, data }) => ({
        name: data.providerType,
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
    this.worker = new Worker<DeliveryJob>(QUEUE_NAME, (job, token) => this.process(job, token, processor), {
      connection: workerConnection(this.opts.url, this.opts.logger),
      prefix: this.opts.prefix,
      concurrency: this.opts.concurrency,
      lockDuration: this.opts.stalledIntervalMs ?? 30_000,
      stalledInterval: this.opts.stalledIntervalMs ?? 30_000,
      settings: {
        backoffStrategy: (attemptsMade, _type, err) =>
          retryDelay(policy, attemptsMade, err instanceof RetryableError ? err.retryAfterMs : undefined),
      },
    });
    this.worker.on('error', () => undefined); // connection errors are logged once per distinct error above
  }

  private async process(job: Job<DeliveryJob>, token: string | undefined, processor: Processor): Promise<void> {
    // Delivered already: its data was cut, then its worker died before marking it completed.
    if (job.data.delivered) return;
    const attempt = job.attemptsMade + 1;
    const finalAttempt = attempt >= this.opts.policy.attempts;
    try {
      await processor(job.data, { id: job.id ?? '', attempt, finalAttempt });
    } catch (err) {
      if (err instanceof DeferError) {
        await this.behindFreshWork(job);
        await job.moveToDelayed(Date.now() + err.delayMs, token);
        throw new DelayedError();
      }
      const message = keptError(err instanceof Error ? err.message : String(err));
      if (err instanceof PermanentError) throw new UnrecoverableError(message);
      if (err instanceof Error) err.message = message;
      if (!finalAttempt) await this.behindFreshWork(job);
      throw err;
    }
    // Completed: keep what identifies the delivery, not the event (which may be megabytes).
    // Not fatal if Redis is away: the whole job then stays until removeOnComplete drops it.
    await job.updateData(withoutPayload(job.data)).catch(() => undefined);
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

  async list(filter: DeliveryFilter): Promise<DeliveryRecord[]> {
    if (!filter.provider) {
      const jobs = await this.queue.getJobs(bullStates(filter.state), filter.offset, filter.offset + filter.limit - 1);
      return jobs.slice(0, filter.limit).map((job) => toRecord(job, filter.state));
    }
    const matching = await this.scan(filter.state, filter.provider);
    return matching.slice(filter.offset, filter.offset + filter.limit).map((job) => toRecord(job, filter.state));
  }

  async get(id: string): Promise<DeliveryRecord | undefined> {
    const job = await this.queue.getJob(id);
    if (!job) return undefined;
    const state = await job.getState();
    return toRecord(job, fromBullState(state));
  }

  async replay(id: string): Promise<boolean> {
    const job = await this.queue.getJob(id);
    if (!job || !(await job.isFailed())) return false;
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    return true;
  }

  async replayDeadLetters(provider?: string): Promise<DeliveryRecord[]> {
    const dead = await this.scan('failed', provider);
    for (const job of dead) await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    return dead.map((job) => toRecord(job, 'failed'));
  }

  async purgeDeadLetters(provider?: string): Promise<number> {
    const dead = await this.scan('failed', provider);
    for (const job of dead) await job.remove();
    return dead.length;
  }

  /** Every job in a state, optionally of one Provider, read in pages so a large backlog does not load at once. */
  private async scan(state: QueueState, provider?: string): Promise<Job<DeliveryJob>[]> {
    const page = 500;
    const found: Job<DeliveryJob>[] = [];
    for (let start = 0; ; start += page) {
      // Each BullMQ state is paged on its own: the page is short only once every state is exhausted.
      const jobs = (await this.queue.getJobs(bullStates(state), start, start + page - 1)) as Job<DeliveryJob>[];
      found.push(...jobs.filter((job) => job && (!provider || job.data.provider === provider)));
      if (jobs.length < page) return found;
    }
  }

  async close(): Promise<void> {
    // Worker.close waits for in-flight jobs; whatever is not finished stays locked in Redis
    // and is picked up again by any replica once its lock expires.
    await this.worker?.close();
    await this.worker?.disconnect();
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

/** BullMQ's states for one of ours: waiting jobs are in `prioritized` (see FRESH_PRIORITY), or `wait` if stored without a priority. */
function bullStates(state: QueueState): Array<'wait' | 'prioritized' | Exclude<QueueState, 'waiting'>> {
  return state === 'waiting' ? ['prioritized', 'wait'] : [state];
}

function fromBullState(state: string): QueueState {
  if (state === 'completed' || state === 'failed' || state === 'active' || state === 'delayed') return state;
  return 'waiting';
}

function toRecord(job: Job<DeliveryJob>, state: QueueState): DeliveryRecord {
  return {
    id: job.id ?? '',
    state,
    data: job.data,
    attemptsMade: job.attemptsMade,
    lastError: job.failedReason || undefined,
    finishedAt: job.finishedOn,
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms}ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
