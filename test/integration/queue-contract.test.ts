/**
 * The delivery queue contract, run against both implementations: the in-process MemoryQueue,
 * and the RedisQueue on real Redis (a unique key prefix per test, deleted after) with two
 * instances sharing it, as two replicas would. What one promises, the other must too: add
 * (de-duplicated), retry, dead letters, replay, purge, listing with a cursor, counts, and the
 * order of deliveries per (Provider, involved object).
 */
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeliveryJob, QueuedJob } from '../../src/delivery/job.js';
import { MemoryQueue } from '../../src/delivery/memory-queue.js';
import { PermanentError, RetryableError, type DeliveryQueue, type Processor } from '../../src/delivery/queue.js';
import { RedisQueue, producerConnection } from '../../src/delivery/redis-queue.js';
import type { RetryPolicy } from '../../src/delivery/retry-policy.js';
import { kustomizationEvent } from '../support/events.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { until } from '../support/wait.js';

const logger = pino({ level: 'silent' });
const policy: RetryPolicy = { attempts: 3, baseDelayMs: 50, maxDelayMs: 200, maxRetryAfterMs: 5_000 };

/** One queue under test: every instance (replica) shares the same jobs; `queue` is the first. */
interface Harness {
  queue: DeliveryQueue;
  replicas: DeliveryQueue[];
  start(processor: Processor): void;
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
});

function memoryHarness(): Harness {
  const queue = new MemoryQueue({ policy, concurrency: 4 });
  closers.push(() => queue.close());
  return { queue, replicas: [queue], start: (p) => queue.start(p) };
}

async function redisHarness(): Promise<Harness> {
  const prefix = uniquePrefix('queue-contract');
  closers.push(() => deletePrefix(prefix));
  const replicas: RedisQueue[] = [];
  for (let i = 0; i < 2; i++) {
    const producer: Redis = producerConnection(REDIS_URL, logger);
    const queue = new RedisQueue({ url: REDIS_URL, producer, prefix, policy, concurrency: 4, logger, addTimeoutMs: 2_000 });
    closers.push(async () => (await queue.close(), producer.disconnect()));
    await until(() => queue.ready(), { what: 'redis queue ready' });
    replicas.push(queue);
  }
  return { queue: replicas[0] as RedisQueue, replicas, start: (p) => replicas.forEach((q) => q.start(p)) };
}

const job = (message: string, opts: { provider?: string; object?: string } = {}): DeliveryJob => {
  const event = kustomizationEvent({ message });
  return {
    alert: 'ns/a',
    provider: opts.provider ?? 'ns/p',
    providerType: 'generic',
    event: { ...event, involvedObject: { ...event.involvedObject, name: opts.object ?? `obj-${message}` } },
    acceptedAt: Date.now(),
  };
};
const queued = (id: string, data: DeliveryJob): QueuedJob => ({ id, data });

describe.each([
  ['MemoryQueue', async () => memoryHarness()],
  ['RedisQueue (two replicas on one Redis)', redisHarness],
] as const)('delivery queue contract: %s', (_name, harness) => {
  it('add: delivers each job once, even when added twice', async () => {
    const h = await harness();
    const seen: string[] = [];
    h.start(async (j) => void seen.push(j.event.message));
    await h.queue.add([queued('a', job('a')), queued('b', job('b'))]);
    await h.queue.add([queued('a', job('a'))]);
    await until(async () => (await h.queue.counts()).completed === 2, { what: 'two completed' });
    await h.queue.add([queued('a', job('a'))]); // completed ids are remembered too
    expect(seen.sort()).toEqual(['a', 'b']);
    expect(await h.queue.get('a')).toMatchObject({ id: 'a', state: 'completed', attemptsMade: 1 });
  });

  it('retry: a retryable failure is tried again, and the delivery completes', async () => {
    const h = await harness();
    let calls = 0;
    h.start(async () => {
      calls += 1;
      if (calls === 1) throw new RetryableError('503 from the provider');
    });
    await h.queue.add([queued('r', job('r'))]);
    await until(async () => (await h.queue.get('r'))?.state === 'completed', { what: 'completed after a retry' });
    expect(calls).toBe(2);
    expect(await h.queue.get('r')).toMatchObject({ attemptsMade: 2 });
  });

  it('dead letter: after the last attempt, or at once for a permanent error, with the last error kept', async () => {
    const h = await harness();
    const attempts = new Map<string, number>();
    h.start(async (j) => {
      attempts.set(j.event.message, (attempts.get(j.event.message) ?? 0) + 1);
      if (j.event.message === 'permanent') throw new PermanentError('400 bad request');
      throw new RetryableError('500 from the provider');
    });
    await h.queue.add([queued('t', job('transient')), queued('p', job('permanent'))]);
    await until(async () => (await h.queue.counts()).failed === 2, { what: 'two dead letters' });
    expect(await h.queue.get('t')).toMatchObject({ state: 'failed', attemptsMade: policy.attempts, lastError: '500 from the provider' });
    expect(await h.queue.get('p')).toMatchObject({ state: 'failed', attemptsMade: 1, lastError: '400 bad request' });
    expect(Object.fromEntries(attempts)).toEqual({ transient: policy.attempts, permanent: 1 });
  });

  it('replay: a dead letter gets a fresh set of attempts; anything else is not replayed', async () => {
    const h = await harness();
    let healthy = false;
    h.start(async () => {
      if (!healthy) throw new PermanentError('410 gone');
    });
    await h.queue.add([queued('d', job('d'))]);
    await until(async () => (await h.queue.get('d'))?.state === 'failed', { what: 'dead letter' });
    healthy = true;
    expect(await h.queue.replay('d')).toBe(true);
    await until(async () => (await h.queue.get('d'))?.state === 'completed', { what: 'replayed and delivered' });
    expect(await h.queue.replay('d')).toBe(false);
    expect(await h.queue.replay('no-such-job')).toBe(false);

    healthy = false;
    await h.queue.add([queued('x', job('x')), queued('y', job('y', { provider: 'ns/other' }))]);
    await until(async () => (await h.queue.counts()).failed === 2, { what: 'two dead letters' });
    healthy = true;
    const replayed = await h.queue.replayDeadLetters('ns/p');
    expect(replayed).toMatchObject({ replayed: 1, skipped: 0, byProviderType: { generic: 1 } });
    await until(async () => (await h.queue.get('x'))?.state === 'completed', { what: 'bulk replay of one Provider' });
    expect((await h.queue.get('y'))?.state).toBe('failed');
  });

  it('purge: deletes the dead letters of one Provider, or all', async () => {
    const h = await harness();
    h.start(async () => {
      throw new PermanentError('403 forbidden');
    });
    await h.queue.add([queued('p1', job('p1')), queued('p2', job('p2')), queued('p3', job('p3', { provider: 'ns/other' }))]);
    await until(async () => (await h.queue.counts()).failed === 3, { what: 'three dead letters' });
    expect(await h.queue.purgeDeadLetters('ns/other')).toBe(1);
    expect(await h.queue.get('p3')).toBeUndefined();
    expect(await h.queue.purgeDeadLetters()).toBe(2);
    expect((await h.queue.counts()).failed).toBe(0);
  });

  it('list: pages through every dead letter once with the cursor, filtered by Provider', async () => {
    const h = await harness();
    h.start(async () => {
      throw new PermanentError('404 not found');
    });
    const ids = ['l1', 'l2', 'l3', 'l4', 'l5'];
    await h.queue.add([...ids.map((id) => queued(id, job(id))), queued('o1', job('o1', { provider: 'ns/other' }))]);
    await until(async () => (await h.queue.counts()).failed === 6, { what: 'six dead letters' });
    const listed: string[] = [];
    let cursor: number | undefined = 0;
    for (let page = 0; cursor !== undefined && page < 10; page++) {
      const result = await h.queue.list({ state: 'failed', provider: 'ns/p', cursor, limit: 2 });
      expect(result.deliveries.length).toBeLessThanOrEqual(2);
      listed.push(...result.deliveries.map((d) => d.id));
      cursor = result.nextCursor;
    }
    expect(cursor).toBeUndefined();
    expect(listed.sort()).toEqual(ids);
    const all = await h.queue.list({ state: 'failed', cursor: 0, limit: 100 });
    expect(all.deliveries.map((d) => d.id).sort()).toEqual([...ids, 'o1'].sort());
    expect(all.nextCursor).toBeUndefined();
  });

  it('retry now: a delayed delivery is due at once with its attempts kept, a dead letter is replayed, nothing else moves', async () => {
    const h = await harness();
    let healthy = false;
    let decided: { delayMs: number; at: number } | undefined;
    h.start(async (j, info) => {
      if (healthy) return;
      if (j.event.message === 'dead') throw new PermanentError('410 gone');
      // The queue's own delay for a Retry-After of a minute, asked for so the processor can say when.
      const delayMs = info.retryDelayMs?.(60_000) ?? 0;
      decided = { delayMs, at: Date.now() };
      throw new RetryableError('503 busy', 60_000, delayMs);
    });
    await h.queue.add([queued('later', job('later')), queued('dead', job('dead'))]);
    const delayed = await until(async () => {
      const record = await h.queue.get('later');
      return record?.state === 'delayed' ? record : undefined;
    }, { what: 'delayed for its retry' });
    expect(delayed).toMatchObject({ attemptsMade: 1, maxAttempts: policy.attempts, lastError: '503 busy' });
    // Retry-After is capped by the policy (5 s here); the queue kept to the delay it gave.
    expect(decided?.delayMs).toBe(policy.maxRetryAfterMs);
    expect(Math.abs((delayed.nextAttemptAt ?? 0) - ((decided?.at ?? 0) + (decided?.delayMs ?? 0)))).toBeLessThan(500);
    const listed = await h.queue.list({ state: 'delayed', cursor: 0, limit: 10 });
    expect(listed.deliveries.map((d) => [d.id, d.nextAttemptAt])).toEqual([['later', delayed.nextAttemptAt]]);
    await until(async () => (await h.queue.get('dead'))?.state === 'failed', { what: 'dead letter' });

    healthy = true;
    const asked = Date.now();
    expect(await h.queue.retryNow('later')).toBe('delayed');
    const done = await until(async () => {
      const record = await h.queue.get('later');
      return record?.state === 'completed' ? record : undefined;
    }, { what: 'delivered after retry now' });
    // Long before the 5 s it was due in, and the failed attempt still counts.
    expect(Date.now() - asked).toBeLessThan(4_000);
    expect(done).toMatchObject({ attemptsMade: 2 });
    expect(done.nextAttemptAt).toBeUndefined();

    expect(await h.queue.retryNow('dead')).toBe('failed');
    await until(async () => (await h.queue.get('dead'))?.state === 'completed', { what: 'dead letter replayed by retry now' });
    expect(await h.queue.retryNow('later')).toBeUndefined();
    expect(await h.queue.retryNow('no-such-job')).toBeUndefined();
  });

  it('purge one: deletes a dead letter, and nothing that is not one', async () => {
    const h = await harness();
    h.start(async (j) => {
      if (j.event.message === 'bad') throw new PermanentError('400');
    });
    await h.queue.add([queued('bad', job('bad')), queued('good', job('good'))]);
    await until(async () => (await h.queue.counts()).failed === 1 && (await h.queue.counts()).completed === 1, { what: 'one dead, one delivered' });
    expect(await h.queue.purge('good')).toBe(false);
    expect(await h.queue.purge('bad')).toBe(true);
    expect(await h.queue.get('bad')).toBeUndefined();
    expect(await h.queue.purge('bad')).toBe(false);
    expect(await h.queue.get('good')).toMatchObject({ state: 'completed' });
    expect((await h.queue.counts()).failed).toBe(0);
  });

  it('list: filters by Alert and by involved object, alone or with the Provider', async () => {
    const h = await harness();
    h.start(async () => {
      throw new PermanentError('404 not found');
    });
    const withAlert = (data: DeliveryJob, alert: string): DeliveryJob => ({ ...data, alert });
    await h.queue.add([
      queued('a1', withAlert(job('a1', { object: 'apps' }), 'ns/first')),
      queued('a2', withAlert(job('a2', { object: 'infra config' }), 'ns/first')),
      queued('a3', withAlert(job('a3', { object: 'apps', provider: 'ns/other' }), 'ns/second')),
    ]);
    await until(async () => (await h.queue.counts()).failed === 3, { what: 'three dead letters' });
    const ids = async (filter: { provider?: string; alert?: string; object?: string }) =>
      (await h.queue.list({ state: 'failed', cursor: 0, limit: 100, ...filter })).deliveries.map((d) => d.id).sort();
    expect(await ids({ alert: 'ns/first' })).toEqual(['a1', 'a2']);
    expect(await ids({ object: 'Kustomization/flux-system/apps' })).toEqual(['a1', 'a3']);
    expect(await ids({ object: 'Kustomization/flux-system/infra config' })).toEqual(['a2']);
    expect(await ids({ object: 'Kustomization/flux-system/apps', provider: 'ns/p' })).toEqual(['a1']);
    expect(await ids({ alert: 'ns/second', object: 'Kustomization/flux-system/infra config' })).toEqual([]);
    expect(await ids({ alert: 'ns/none' })).toEqual([]);
  });

  it('counts: waiting, delayed, failed and completed as the jobs move', async () => {
    const h = await harness();
    await h.queue.add([queued('w', job('w'))]);
    expect(await h.queue.counts()).toMatchObject({ waiting: 1, active: 0, delayed: 0, failed: 0, completed: 0 });
    h.start(async (j) => {
      if (j.event.message === 'later') throw new RetryableError('busy', 4_000);
      if (j.event.message === 'dead') throw new PermanentError('gone');
    });
    await h.queue.add([queued('later', job('later')), queued('dead', job('dead'))]);
    await until(
      async () => {
        const c = await h.queue.counts();
        return c.completed === 1 && c.delayed === 1 && c.failed === 1 && c.waiting === 0 && c.active === 0;
      },
      { what: 'one completed, one delayed, one dead letter' },
    );
  });

  describe('order per (Provider, involved object)', () => {
    it('a later notification waits behind an earlier one that waits for a retry (500, then success)', async () => {
      const h = await harness();
      const delivered: string[] = [];
      const attempts: string[] = [];
      let firstFailed = false;
      h.start(async (j) => {
        attempts.push(j.event.message);
        if (j.event.message === 'trigger' && !firstFailed) {
          firstFailed = true;
          // The provider answered 500 and asks for a second: without the order rule, 'resolve' is sent meanwhile.
          throw new RetryableError('500 from the provider', 1_000);
        }
        delivered.push(j.event.message);
      });
      await h.queue.add([queued('trigger', job('trigger', { object: 'apps' }))]);
      await until(() => firstFailed, { what: 'the first notification failed once' });
      await h.queue.add([queued('resolve', job('resolve', { object: 'apps' })), queued('elsewhere', job('elsewhere', { object: 'other' }))]);
      await until(() => delivered.length === 3, { timeoutMs: 15_000, what: 'all three delivered' });
      // Another object's notification is not held up; the same object's waits for the retry.
      expect(delivered.indexOf('elsewhere')).toBe(0);
      expect(delivered.slice(1)).toEqual(['trigger', 'resolve']);
      expect(attempts.filter((m) => m === 'trigger')).toHaveLength(2);
      // Waiting behind the retry spent none of its attempts.
      const resolve = await until(async () => ((await h.queue.get('resolve'))?.state === 'completed' ? h.queue.get('resolve') : undefined), { what: 'resolve completed' });
      expect(resolve?.attemptsMade).toBe(1);
    });

    it('the notifications that waited behind a retry are all sent after it', async () => {
      const h = await harness();
      const delivered: string[] = [];
      let failedOnce = false;
      h.start(async (j) => {
        if (j.event.message === 's0' && !failedOnce) {
          failedOnce = true;
          throw new RetryableError('502', 800);
        }
        await new Promise((r) => setTimeout(r, 20));
        delivered.push(j.event.message);
      });
      await h.queue.add([queued('s0', job('s0', { object: 'repo' }))]);
      await until(() => failedOnce, { what: 'the first failed once' });
      const later = ['s1', 's2', 's3', 's4'];
      for (const [i, id] of later.entries()) {
        await h.queue.add([queued(id, { ...job(id, { object: 'repo' }), acceptedAt: Date.now() + i })]);
      }
      await until(() => delivered.length === 5, { timeoutMs: 20_000, what: 'all five delivered' });
      expect(delivered[0]).toBe('s0');
      expect(delivered.slice(1).sort()).toEqual(later);
    });

    it('a dead letter does not hold its pair: the next notification goes on', async () => {
      const h = await harness();
      const delivered: string[] = [];
      let failed = false;
      h.start(async (j) => {
        if (j.event.message === 'bad') {
          failed = true;
          throw new PermanentError('400');
        }
        delivered.push(j.event.message);
      });
      await h.queue.add([queued('bad', job('bad', { object: 'apps' }))]);
      await until(() => failed, { what: 'the first failed for good' });
      await h.queue.add([queued('good', job('good', { object: 'apps' }))]);
      await until(() => delivered.includes('good'), { what: 'the next one delivered' });
      await until(async () => (await h.queue.get('bad'))?.state === 'failed', { what: 'the first kept as a dead letter' });
    });
  });
});
