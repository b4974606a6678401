/**
 * The durable queue: BullMQ on Redis. Jobs are stored before the receiver answers 202,
 * survive restarts, are shared by every replica (a job is locked by one worker at a time), and
 * failed jobs are kept as dead letters.
 */
import { DelayedError, Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { QUEUE_STATES, type QueueState } from '../observability/metrics.js';
import type { DeliveryJob, QueuedJob } from './job.js';
import { DeferError, PermanentError, RetryableError, type DeliveryQueue, type Processor } from './queue.js';
import { retryDelay, type RetryPolicy } from './retry-policy.js';

export const QUEUE_NAME = 'deliveries';

export interface RedisQueueOptions {
  url: string;
  /** The fail-fast connection jobs are added through (see `producerConnection`); shared with the duplicate filter. */
  producer: Redis;
  /** Key prefix; in Redis Cluster it must be hash-tagged, e.g. `{herald}`. */
  prefix: string;
  policy: RetryPolicy;
  concurrency: number;
  logger: Logger;
  /** How long `add` may wait for Redis before the receiver answers 503. */
  addTimeoutMs?: number;
  /** Completed jobs kept (for de-duplication of a sender's retries), by age. */
  keepCompletedSeconds?: number;
}

/**
 * The producer connection fails fast while Redis is away (no offline queue), so that a POST
 * gets a 503 at once instead of a 202 for a command that is only buffered in memory.
 */
export function producerConnection(url: string, logger: Logger): Redis {
  // Auto-pipelining sends the commands of concurrent requests in one round trip.
  const options: RedisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 1, enableAutoPipelining: true };
  return withLogging(new Redis(url, options), logger, 'producer');
}

/** The worker connection blocks on Redis and retries forever, as BullMQ requires. */
function workerConnection(url: string, logger: Logger): Redis {
  return withLogging(new Redis(url, { maxRetriesPerRequest: null, enableAutoPipelining: true }), logger, 'worker');
}

function withLogging(conn: Redis, logger: Logger, role: string): Redis {
  let lastError = '';
  conn.on('error', (err: Error) => {
    // ioredis repeats the same error on every reconnect attempt; log each distinct one once.
    if (err.message !== lastError) logger.warn({ role, err: err.message }, 'redis connection error');
    lastError = err.message;
  });
  conn.on('ready', () => {
    if (lastError) logger.info({ role }, 'redis connection restored');
    lastError = '';
  });
  return conn;
}

export class RedisQueue implements DeliveryQueue {
  readonly kind = 'redis' as const;
  private readonly producer: Redis;
  private readonly queue: Queue<DeliveryJob>;
  private worker?: Worker<DeliveryJob>;

  constructor(private readonly opts: RedisQueueOptions) {
    this.producer = opts.producer;
    this.queue = new Queue<DeliveryJob>(QUEUE_NAME, { connection: this.producer, prefix: opts.prefix });
    this.queue.on('error', () => undefined); // reported by the connection's own listener
  }

  async add(jobs: QueuedJob[]): Promise<void> {
    if (this.producer.status !== 'ready') throw new Error(`redis is not reachable (${this.producer.status})`);
    const keepCompleted = this.opts.keepCompletedSeconds ?? 24 * 3600;
    const adding = this.queue.addBulk(
      jobs.map(({ id, data }) => ({
        name: data.providerType,
        data,
        opts: {
          jobId: id,
          attempts: this.opts.policy.attempts,
          backoff: { type: 'herald' },
          removeOnComplete: { age: keepCompleted },
          removeOnFail: false,
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
      settings: {
        backoffStrategy: (attemptsMade, _type, err) =>
          retryDelay(policy, attemptsMade, err instanceof RetryableError ? err.retryAfterMs : undefined),
      },
    });
    this.worker.on('error', () => undefined); // connection errors are logged once per distinct error above
  }

  private async process(job: Job<DeliveryJob>, token: string | undefined, processor: Processor): Promise<void> {
    const attempt = job.attemptsMade + 1;
    try {
      await processor(job.data, { id: job.id ?? '', attempt, finalAttempt: attempt >= this.opts.policy.attempts });
    } catch (err) {
      if (err instanceof DeferError) {
        await job.moveToDelayed(Date.now() + err.delayMs, token);
        throw new DelayedError();
      }
      if (err instanceof PermanentError) throw new UnrecoverableError(err.message);
      throw err;
    }
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

  async close(): Promise<void> {
    // Worker.close waits for in-flight jobs; whatever is not finished stays locked in Redis
    // and is picked up again by any replica once its lock expires.
    await this.worker?.close();
    await this.worker?.disconnect();
    await this.queue.close();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms}ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
