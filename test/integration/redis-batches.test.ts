/**
 * Group commit and batched delivery in the Redis queue (see src/delivery/redis-batch.ts), on
 * real Redis: a redis-server of this file's own where Redis's command counts or memory limit
 * are part of what is checked, the shared test Redis (own prefix) otherwise.
 */
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeliveryJob, QueuedJob } from '../../src/delivery/job.js';
import { PermanentError, RetryableError, type AttemptInfo, type Processor } from '../../src/delivery/queue.js';
import { RedisQueue, producerConnection } from '../../src/delivery/redis-queue.js';
import type { RetryPolicy } from '../../src/delivery/retry-policy.js';
import { kustomizationEvent } from '../support/events.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { startRedisServer } from '../support/redis-server.js';
import { until } from '../support/wait.js';

const logger = pino({ level: 'silent' });
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

const job = (message: string, object = `obj-${message}`): DeliveryJob => {
  const event = kustomizationEvent({ message });
  return {
    alert: 'ns/a',
    provider: 'ns/p',
    providerType: 'generic',
    event: { ...event, involvedObject: { ...event.involvedObject, name: object } },
    acceptedAt: Date.now(),
  };
};
const queued = (id: string, object?: string): QueuedJob => ({ id, data: job(id, object) });

async function open(url: string, prefix: string, policy: RetryPolicy, stalledIntervalMs?: number) {
  const producer = producerConnection(url, logger);
  const queue = new RedisQueue({ url, producer, prefix, policy, concurrency: 8, logger, addTimeoutMs: 2_000, stalledIntervalMs });
  cleanups.push(async () => (await queue.close(), producer.disconnect()));
  await until(() => queue.ready(), { what: 'redis queue ready' });
  return { queue, producer };
}

async function ownRedis(): Promise<{ url: string; client: Redis }> {
  const server = await startRedisServer();
  cleanups.push(() => server.cleanup());
  const client = new Redis({ port: server.port, host: '127.0.0.1' });
  cleanups.push(async () => client.disconnect());
  return { url: `redis://127.0.0.1:${server.port}`, client };
}

async function commandCalls(client: Redis, command: string): Promise<number> {
  const stats = await client.info('commandstats');
  return Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(stats)?.[1] ?? 0);
}

describe('Redis queue: group commit at intake', () => {
  it('stores a burst of concurrent events in fewer Redis writes than events, each add resolved once stored', async () => {
    const { url, client } = await ownRedis();
    const { queue } = await open(url, 'herald', { attempts: 3, baseDelayMs: 50, maxDelayMs: 200, maxRetryAfterMs: 5_000 });
    const writesBefore = await commandCalls(client, 'exec');
    const events = 200;
    await Promise.all(Array.from({ length: events }, (_, i) => queue.add([queued(`e${i}`)])));
    const writes = (await commandCalls(client, 'exec')) - writesBefore;
    const batches = await client.zcard('herald:deliveries:prioritized');
    console.log(`[redis-batches] ${events} concurrent adds: ${writes} MULTI/EXEC writes, ${batches} batch jobs`);
    // The first add goes alone (nothing in flight); the rest group behind it, at most 128 a batch.
    expect(writes).toBe(batches);
    expect(writes).toBeGreaterThanOrEqual(2);
    expect(writes).toBeLessThanOrEqual(events / 10);
    expect((await queue.counts()).waiting).toBe(events);
    // Each delivery is visible on its own, inside its batch.
    expect(await queue.get('e7')).toMatchObject({ id: 'e7', state: 'waiting', attemptsMade: 0, data: { event: { message: 'e7' } } });
    const page = await queue.list({ state: 'waiting', cursor: 0, limit: 150 });
    expect(page.deliveries).toHaveLength(150);
    const rest = await queue.list({ state: 'waiting', cursor: page.nextCursor ?? -1, limit: 150 });
    expect(rest.nextCursor).toBeUndefined();
    expect(new Set([...page.deliveries, ...rest.deliveries].map((d) => d.id)).size).toBe(events);
  });

  it('rejects every add of a batch whose store failed, and stores none of them; the retries are stored', async () => {
    const { url, client } = await ownRedis();
    const { queue } = await open(url, 'herald', { attempts: 3, baseDelayMs: 50, maxDelayMs: 200, maxRetryAfterMs: 5_000 });
    await queue.add([queued('warm-up')]);
    // Every write refused (OOM) from now on: one in flight and the batch formed behind it fail alike.
    await client.config('SET', 'maxmemory-policy', 'noeviction');
    await client.config('SET', 'maxmemory', '1');
    const transactionsBefore = await commandCalls(client, 'multi');
    const outcomes = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => queue.add([queued(`f${i}`)])));
    // Grouped as stored ones are: fewer transactions than adds, each add told of its own batch's failure.
    expect((await commandCalls(client, 'multi')) - transactionsBefore).toBeLessThan(10);
    expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
    expect(String((outcomes[0] as PromiseRejectedResult).reason)).toMatch(/EXECABORT|OOM/);
    await client.config('SET', 'maxmemory', '0');
    expect(await client.keys('herald:delivery:f*')).toEqual([]);
    expect((await queue.counts()).waiting).toBe(1);
    for (let i = 0; i < 40; i++) expect(await queue.get(`f${i}`)).toBeUndefined();
    await Promise.all(Array.from({ length: 40 }, (_, i) => queue.add([queued(`f${i}`)])));
    expect((await queue.counts()).waiting).toBe(41);
  });
});

describe('Redis queue: scripts lost by Redis', () => {
  it('stores and acknowledges again once its scripts are loaded again (SCRIPT FLUSH, or a first load in a discarded MULTI)', async () => {
    const { url, client } = await ownRedis();
    const { queue } = await open(url, 'herald', { attempts: 3, baseDelayMs: 50, maxDelayMs: 200, maxRetryAfterMs: 5_000 });
    await queue.add([queued('warm-up')]);
    // Inside a MULTI the client sends a script whole only the first time on a connection: a
    // NOSCRIPT there is not retried by the client, so every later store failed until a reconnect.
    await client.script('FLUSH');
    await queue.add([queued('after-flush')]);
    expect(await queue.get('after-flush')).toMatchObject({ state: 'waiting' });
    let refused = true;
    const sent: string[] = [];
    queue.start(async (j) => {
      if (j.event.message === 'flaky' && refused) {
        refused = false;
        // The batch's acknowledgement re-queues this one as its own job: with the scripts gone again.
        await client.script('FLUSH');
        throw new RetryableError('503 busy');
      }
      sent.push(j.event.message);
    });
    await queue.add([queued('flaky')]);
    await until(() => sent.includes('flaky') && sent.includes('after-flush') && sent.includes('warm-up'), { timeoutMs: 15_000, what: 'every delivery sent' });
    // Its batch was taken up again after the failed acknowledgement (nothing of it was written):
    // the refused delivery was tried again from the batch, and sent once.
    await until(async () => (await queue.get('flaky'))?.state === 'completed', { what: 'completed' });
    expect(sent.filter((m) => m === 'flaky')).toHaveLength(1);
  });
});

describe('Redis queue: the duplicate window in the same write', () => {
  it('checks and starts each event window with its jobs: of two copies stored together one passes, the other stores nothing', async () => {
    const { url, client } = await ownRedis();
    const { queue } = await open(url, 'herald', { attempts: 3, baseDelayMs: 50, maxDelayMs: 200, maxRetryAfterMs: 5_000 });
    const window = { key: 'herald:ratelimit:some-key', windowMs: 60_000 };
    // Same window key, different events (e.g. a new timestamp): different delivery ids.
    const [first, second, other] = await Promise.all([
      queue.add([queued('w1')], window),
      queue.add([queued('w2')], window),
      queue.add([queued('w3')], { key: 'herald:ratelimit:other-key', windowMs: 60_000 }),
    ]);
    expect(first).toEqual({});
    expect(second).toMatchObject({ duplicateUntil: expect.any(Number) });
    expect((second as { duplicateUntil: number }).duplicateUntil).toBeGreaterThan(Date.now() + 50_000);
    expect(other).toEqual({});
    const ttl = await client.pttl(window.key);
    expect(ttl).toBeGreaterThan(50_000);
    expect((await queue.counts()).waiting).toBe(2);
    expect(await queue.get('w2')).toBeUndefined();
    const sent: string[] = [];
    queue.start(async (j) => void sent.push(j.event.message));
    await until(async () => (await queue.counts()).completed === 2, { what: 'two completed' });
    await new Promise((r) => setTimeout(r, 300));
    expect(sent.sort()).toEqual(['w1', 'w3']);
    // Without a window the queue answers nothing: the window is the caller's.
    expect(await queue.add([queued('w4')])).toBeUndefined();
  });
});

describe('Redis queue: batched delivery', () => {
  it('a batch with mixed outcomes: sent, retried as its own delayed job with the right attempt, dead letter with its error', async () => {
    const prefix = uniquePrefix('batch-mixed');
    cleanups.push(() => deletePrefix(prefix));
    const policy = { attempts: 3, baseDelayMs: 1_500, maxDelayMs: 1_500, maxRetryAfterMs: 5_000 };
    const { queue } = await open(REDIS_URL, prefix, policy);
    const calls: Array<[string, AttemptInfo]> = [];
    let flakyUp = false;
    const processor: Processor = async (j, info) => {
      calls.push([j.event.message, info]);
      if (j.event.message === 'flaky' && !flakyUp) throw new RetryableError('503 Service Unavailable');
      if (j.event.message === 'bad') throw new PermanentError('400 Bad Request: no such channel');
    };
    // One add: one batch of three.
    await queue.add([queued('ok'), queued('flaky'), queued('bad')]);
    queue.start(processor);
    await until(async () => (await queue.get('bad'))?.state === 'failed' && (await queue.get('flaky'))?.state === 'delayed', { what: 'dead letter and delayed retry' });
    expect(await queue.get('ok')).toMatchObject({ state: 'completed', attemptsMade: 1 });
    expect(await queue.get('bad')).toMatchObject({ state: 'failed', attemptsMade: 1, lastError: '400 Bad Request: no such channel' });
    expect(await queue.get('flaky')).toMatchObject({ state: 'delayed', attemptsMade: 1, lastError: '503 Service Unavailable' });
    expect(await queue.counts()).toMatchObject({ completed: 1, failed: 1, delayed: 1, waiting: 0, active: 0 });
    const dead = await queue.list({ state: 'failed', cursor: 0, limit: 10 });
    expect(dead.deliveries.map((d) => d.id)).toEqual(['bad']);
    flakyUp = true;
    await until(async () => (await queue.get('flaky'))?.state === 'completed', { timeoutMs: 10_000, what: 'retry delivered' });
    expect(await queue.get('flaky')).toMatchObject({ attemptsMade: 2 });
    // Each sent once per attempt: the recorded first attempts were not sent again.
    expect(calls.map(([m, i]) => `${m}#${i.attempt}${i.finalAttempt ? '!' : ''}`).sort()).toEqual(['bad#1', 'flaky#1', 'flaky#2', 'ok#1']);
    // A replayed dead letter starts afresh.
    expect(await queue.replay('bad')).toBe(true);
    await until(() => calls.filter(([m]) => m === 'bad').length === 2, { what: 'replayed' });
    expect(calls.filter(([m]) => m === 'bad').map(([, i]) => i.attempt)).toEqual([1, 1]);
  });

  it('a batch whose worker dies before the acknowledgement is delivered by another, without sending again what was sent', async () => {
    const prefix = uniquePrefix('batch-crash');
    cleanups.push(() => deletePrefix(prefix));
    const policy = { attempts: 3, baseDelayMs: 50, maxDelayMs: 200, maxRetryAfterMs: 5_000 };
    const first = await open(REDIS_URL, prefix, policy, 1_000);
    const sent: string[] = [];
    let unblock: () => void = () => undefined;
    const stuck = new Promise<void>((resolve) => (unblock = resolve));
    first.queue.start(async (j) => {
      if (j.event.message === 'slow') return stuck.then(() => Promise.reject(new Error('the process is gone')));
      sent.push(`first:${j.event.message}`);
    });
    await first.queue.add([queued('quick'), queued('slow'), queued('other')]);
    await until(() => sent.length === 2, { what: 'two of three sent by the first worker' });
    await new Promise((r) => setTimeout(r, 100)); // its sent-marks are written (MARK_DELAY_MS after the sends)
    // The first worker "dies": its connections are gone, its lock is not renewed.
    (first.queue as unknown as { workerRedis: Redis }).workerRedis.disconnect();
    first.producer.disconnect();

    const second = await open(REDIS_URL, prefix, policy, 1_000);
    second.queue.start(async (j) => void sent.push(`second:${j.event.message}`));
    await until(() => sent.includes('second:slow'), { timeoutMs: 15_000, what: 'the stalled batch taken up by the second worker' });
    await until(async () => (await second.queue.counts()).completed === 3, { what: 'all three completed' });
    unblock();
    expect(sent.sort()).toEqual(['first:other', 'first:quick', 'second:slow']);
    for (const id of ['quick', 'slow', 'other']) expect(await second.queue.get(id)).toMatchObject({ state: 'completed' });
  });

  it('an event stored twice (a sender retrying) is delivered once, and its copy is not counted', async () => {
    const prefix = uniquePrefix('batch-dup');
    cleanups.push(() => deletePrefix(prefix));
    const { queue } = await open(REDIS_URL, prefix, { attempts: 3, baseDelayMs: 50, maxDelayMs: 200, maxRetryAfterMs: 5_000 });
    await Promise.all([queue.add([queued('d1'), queued('d2')]), queue.add([queued('d1')]), queue.add([queued('d1')])]);
    expect((await queue.counts()).waiting).toBe(2);
    const sent: string[] = [];
    queue.start(async (j) => void sent.push(j.event.message));
    await until(async () => (await queue.counts()).completed === 2, { what: 'two completed' });
    await new Promise((r) => setTimeout(r, 300));
    expect(sent.sort()).toEqual(['d1', 'd2']);
    expect((await queue.list({ state: 'completed', cursor: 0, limit: 10 })).deliveries.map((d) => d.id).sort()).toEqual(['d1', 'd2']);
  });
});
