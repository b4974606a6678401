import { afterEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import type { DeliveryJob } from '../../src/delivery/job.js';
import { DeferError, PermanentError, RetryableError, type AttemptInfo, type Processor } from '../../src/delivery/queue.js';
import { RedisQueue, producerConnection } from '../../src/delivery/redis-queue.js';
import { RedisDuplicateFilter } from '../../src/server/duplicate-filter.js';
import { kustomizationEvent } from '../support/events.js';
import { freePort } from '../support/herald.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { until } from '../support/wait.js';

const logger = pino({ level: 'silent' });
const policy = { attempts: 3, baseDelayMs: 50, maxDelayMs: 200, maxRetryAfterMs: 5000 };
const job = (n: number): DeliveryJob => ({
  alert: 'ns/a',
  provider: 'ns/p',
  providerType: 'generic',
  event: kustomizationEvent({ message: `m${n}` }),
  acceptedAt: Date.now(),
});

const opened: Array<{ queue: RedisQueue; producer: Redis; prefix: string }> = [];

async function open(prefix: string, url = REDIS_URL, concurrency = 4) {
  const producer = producerConnection(url, logger);
  const queue = new RedisQueue({ url, producer, prefix, policy, concurrency, logger, addTimeoutMs: 2000 });
  opened.push({ queue, producer, prefix });
  if (url === REDIS_URL) await until(() => queue.ready());
  return { queue, producer };
}

afterEach(async () => {
  for (const { queue, producer, prefix } of opened.splice(0)) {
    await queue.close();
    producer.disconnect();
    await deletePrefix(prefix);
  }
});

describe('RedisQueue (real Redis)', () => {
  it('stores jobs, processes each id once, and de-duplicates a re-add', async () => {
    const { queue } = await open(uniquePrefix('dedup'));
    const seen: string[] = [];
    await queue.add([{ id: 'a', data: job(1) }, { id: 'b', data: job(2) }]);
    await queue.add([{ id: 'a', data: job(1) }]);
    expect((await queue.counts()).waiting).toBe(2);
    queue.start(async (j) => void seen.push(j.event.message));
    await until(async () => (await queue.counts()).completed === 2);
    await queue.add([{ id: 'a', data: job(1) }]);
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.sort()).toEqual(['m1', 'm2']);
  });

  it('retries with backoff, honours Retry-After, keeps dead letters, skips retries for permanent errors', async () => {
    const { queue } = await open(uniquePrefix('retry'));
    const calls = new Map<string, AttemptInfo[]>();
    const times: number[] = [];
    const processor: Processor = async (j, info) => {
      calls.set(j.event.message, [...(calls.get(j.event.message) ?? []), info]);
      if (j.event.message === 'm1' && info.attempt < 3) throw new RetryableError('503');
      if (j.event.message === 'm2') throw new RetryableError(`still down (attempt ${info.attempt})`);
      if (j.event.message === 'm3') throw new PermanentError('400 bad request');
      if (j.event.message === 'm4') {
        times.push(Date.now());
        if (times.length === 1) throw new RetryableError('429', 700);
      }
    };
    queue.start(processor);
    await queue.add([1, 2, 3, 4].map((n) => ({ id: `j${n}`, data: job(n) })));
    await until(async () => {
      const c = await queue.counts();
      return c.completed === 2 && c.failed === 2;
    });
    expect(calls.get('m1')?.map((i) => i.attempt)).toEqual([1, 2, 3]);
    expect(calls.get('m2')?.map((i) => i.finalAttempt)).toEqual([false, false, true]);
    expect(calls.get('m3')).toHaveLength(1);
    expect((times[1] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(650);
  });

  it('a deferred job does not use up an attempt', async () => {
    const { queue } = await open(uniquePrefix('defer'));
    const attempts: number[] = [];
    queue.start(async (_j, info) => {
      attempts.push(info.attempt);
      if (attempts.length < 3) throw new DeferError(20);
    });
    await queue.add([{ id: 'x', data: job(1) }]);
    await until(async () => (await queue.counts()).completed === 1);
    expect(attempts).toEqual([1, 1, 1]);
  });

  it('two workers on one queue deliver every job exactly once', async () => {
    const prefix = uniquePrefix('replicas');
    const a = await open(prefix);
    const b = await open(prefix);
    const seen: string[] = [];
    const processor: Processor = async (j) => {
      await new Promise((r) => setTimeout(r, 2));
      seen.push(j.event.message);
    };
    a.queue.start(processor);
    b.queue.start(processor);
    await a.queue.add(Array.from({ length: 100 }, (_, n) => ({ id: `j${n}`, data: job(n) })));
    await until(async () => (await a.queue.counts()).completed === 100);
    expect(seen).toHaveLength(100);
    expect(new Set(seen).size).toBe(100);
  });

  it('refuses work at once when Redis is unreachable', async () => {
    const deadPort = await freePort();
    const { queue } = await open(uniquePrefix('down'), `redis://127.0.0.1:${deadPort}`);
    expect(queue.ready()).toBe(false);
    const started = Date.now();
    await expect(queue.add([{ id: 'x', data: job(1) }])).rejects.toThrow(/redis is not reachable/);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('RedisDuplicateFilter (real Redis)', () => {
  it('is shared by every connection and expires with the window', async () => {
    const prefix = uniquePrefix('ratelimit');
    const { producer: one } = await open(prefix);
    const { producer: two } = await open(prefix);
    const a = new RedisDuplicateFilter(one, 300, prefix);
    const b = new RedisDuplicateFilter(two, 300, prefix);
    expect((await a.windowEnd('k')) !== undefined).toBe(false);
    await a.remember('k');
    expect((await b.windowEnd('k')) !== undefined).toBe(true);
    await b.remember('k'); // NX: the first replica's window stands
    await new Promise((r) => setTimeout(r, 350));
    expect((await b.windowEnd('k')) !== undefined).toBe(false);
  });
});
