/**
 * Redis faults Herald must report honestly (issue 8), each on a redis-server of the test's own:
 *
 * - Redis restarted without persistence loses the pending jobs: Herald says so in an error log
 *   line, `herald_redis_data_loss_total` and the readiness message;
 * - Redis at `maxmemory` refuses writes: `/readyz` answers 503 with the reason, and ready again
 *   once Redis has room;
 * - the admin API over 5,000 large dead letters: a page reads only its jobs (measured as the
 *   bytes Redis sent), a cursor walks a Provider's dead letters, and bulk replays running while
 *   dead letters keep arriving and others are purged report what they did, never a 500.
 */
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { DeliveryJob } from '../../src/delivery/job.js';
import { PermanentError } from '../../src/delivery/queue.js';
import { RedisQueue, producerConnection } from '../../src/delivery/redis-queue.js';
import { Metrics } from '../../src/observability/metrics.js';
import { buildAdminServer } from '../../src/server/admin.js';
import { kustomizationAlert, webhookProvider } from '../e2e/manifests.js';
import { kustomizationEvent } from '../support/events.js';
import { metricValue, startHerald, type HeraldProcess } from '../support/herald.js';
import { startRedisServer, stopAllRedisServers, type RedisServer } from '../support/redis-server.js';
import { startSink } from '../support/sink.js';
import { sleep, until } from '../support/wait.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});
afterAll(() => stopAllRedisServers());

async function ownRedis(args: string[] = []): Promise<RedisServer> {
  const redis = await startRedisServer({ args });
  cleanups.push(() => redis.cleanup());
  return redis;
}

async function readiness(herald: HeraldProcess): Promise<{ status: number; body: { checks: Array<{ name: string; ok: boolean; message: string }> } }> {
  const res = await fetch(`${herald.healthUrl}/readyz`, { signal: AbortSignal.timeout(3_000) });
  return { status: res.status, body: (await res.json()) as never };
}

async function heraldOn(redis: RedisServer, sinkStatus: number, extraArgs: string[] = []): Promise<HeraldProcess> {
  const sink = await startSink(() => ({ status: sinkStatus }));
  cleanups.push(() => sink.close());
  const herald = await startHerald({
    redisUrl: `redis://127.0.0.1:${redis.port}`,
    manifests: { 'p.yaml': webhookProvider({ address: `${sink.url}/hook` }), 'a.yaml': kustomizationAlert() },
    extraArgs,
  });
  cleanups.push(async () => (await herald.stop('SIGTERM', 10_000), await herald.cleanup()));
  return herald;
}

describe('Redis restarted without persistence', () => {
  it('is reported as data loss: error log line, metric and readiness message', async () => {
    const redis = await ownRedis();
    // Deliveries fail and wait a long time before their next attempt: pending jobs in Redis.
    const herald = await heraldOn(redis, 500, ['--retry-base-delay', '10m', '--retry-max-delay', '10m']);
    for (let i = 0; i < 20; i++) expect((await herald.postEvent(kustomizationEvent({ message: `pending ${i}` }))).status).toBe(202);
    await until(async () => metricValue(await herald.metrics(), 'herald_queue_jobs', { state: 'delayed' }) === 20, { timeoutMs: 15_000, what: '20 pending jobs' });
    expect(metricValue(await herald.metrics(), 'herald_redis_data_loss_total')).toBe(0);

    await redis.stop('SIGKILL');
    await redis.restart();
    const line = await until(() => herald.output.find((l) => l.includes("redis lost Herald's data")), { timeoutMs: 20_000, what: 'data loss logged' });
    expect(JSON.parse(line).level).toBe('error');
    expect(metricValue(await herald.metrics(), 'herald_redis_data_loss_total')).toBe(1);
    const ready = await readiness(herald);
    const check = ready.body.checks.find((c) => c.name === 'redis');
    expect(check?.message).toMatch(/lost Herald's data 1 time/);
    process.stdout.write(`data loss: "${check?.message}" (readyz ${ready.status})\n`);
    // Herald keeps working on the empty Redis, and does not report the same loss again.
    expect((await herald.postEvent(kustomizationEvent({ message: 'after the loss' }))).status).toBe(202);
    await sleep(6_000);
    expect(metricValue(await herald.metrics(), 'herald_redis_data_loss_total')).toBe(1);
  }, 60_000);
});

describe('Redis at maxmemory', () => {
  it('turns /readyz to 503 with the reason, and back once Redis has room', async () => {
    const redis = await ownRedis(['--maxmemory-policy', 'noeviction']);
    const herald = await heraldOn(redis, 200);
    expect((await readiness(herald)).status).toBe(200);

    // Something else filled Redis up, and its maxmemory is below what it holds: every write is
    // refused with OOM (noeviction, what BullMQ requires).
    const filler = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
    cleanups.push(async () => filler.disconnect());
    for (let i = 0; i < 32; i++) await filler.set(`filler:${i}`, 'x'.repeat(256 * 1024));
    const used = Number(/used_memory:(\d+)/.exec(await filler.info('memory'))?.[1]);
    await filler.config('SET', 'maxmemory', String(used - 2 * 1024 * 1024));
    expect((await herald.postEvent(kustomizationEvent({ message: 'while full' }))).status).toBe(503);
    const notReady = await until(async () => ((r) => (r.status === 503 ? r : undefined))(await readiness(herald)), { timeoutMs: 15_000, what: 'not ready at maxmemory' });
    const check = notReady.body.checks.find((c) => c.name === 'redis');
    expect(check?.ok).toBe(false);
    expect(check?.message).toMatch(/refuses writes: OOM/);
    process.stdout.write(`maxmemory: readyz 503, "${check?.message}"\n`);

    await filler.config('SET', 'maxmemory', '0');
    await until(async () => (await readiness(herald)).status === 200, { timeoutMs: 15_000, what: 'ready again' });
    // The first store's scripts were in a MULTI that Redis discarded: they are loaded again, not lost for good.
    expect((await herald.postEvent(kustomizationEvent({ message: 'room again' }))).status).toBe(202);
  }, 60_000);
});

describe('the admin API over 5,000 large dead letters', () => {
  const logger = pino({ level: 'silent' });
  const payload = 'p'.repeat(16 * 1024);
  const job = (n: number, provider: string): DeliveryJob => ({
    alert: 'ns/a',
    provider,
    providerType: 'generic',
    event: kustomizationEvent({ message: `${n} ${payload}` }),
    acceptedAt: Date.now(),
  });

  async function bytesSent(redis: Redis, during: () => Promise<unknown>): Promise<number> {
    const read = async () => Number(/total_net_output_bytes:(\d+)/.exec(await redis.info('stats'))?.[1]);
    const before = await read();
    await during();
    return (await read()) - before;
  }

  it('stops a page of 2 MiB dead letters at about 16 MiB, reading the jobs a few at a time', async () => {
    const server = await ownRedis();
    const url = `redis://127.0.0.1:${server.port}`;
    const producer = producerConnection(url, logger);
    const queue = new RedisQueue({ url, producer, prefix: 'herald', policy: { attempts: 1, baseDelayMs: 10, maxDelayMs: 10, maxRetryAfterMs: 10 }, concurrency: 8, logger });
    const probe = new Redis(server.port, '127.0.0.1');
    cleanups.push(async () => (await queue.close(), producer.disconnect(), probe.disconnect()));
    await until(() => queue.ready(), { timeoutMs: 10_000, what: 'queue ready' });
    queue.start(async () => {
      throw new PermanentError('provider answered 400');
    });
    const big = 'b'.repeat(2 * 1024 * 1024);
    await queue.add(Array.from({ length: 30 }, (_, i) => ({ id: `big${i}`, data: { ...job(i, 'ns/big'), event: kustomizationEvent({ message: `${i} ${big}` }) } })));
    await until(async () => (await queue.counts()).failed === 30, { timeoutMs: 30_000, what: '30 dead letters' });
    const admin = buildAdminServer({ queue, metrics: new Metrics({ processMetrics: false }), logger, listenHost: '127.0.0.1' });
    cleanups.push(() => admin.close());
    let sizes: number[] = [];
    const read = await bytesSent(probe, async () => {
      let cursor: string | undefined = '0';
      for (let i = 0; i < 10 && cursor !== undefined; i++) {
        const page = (await admin.inject({ method: 'GET', url: `/deliveries?limit=500&cursor=${cursor}` })).json() as { deliveries: unknown[]; nextCursor?: string };
        sizes = [...sizes, page.deliveries.length];
        cursor = page.nextCursor;
      }
    });
    process.stdout.write(`30 dead letters of 2 MiB, limit=500: pages of ${sizes.join(', ')}; ${Math.round(read / 2 ** 20)} MiB read from Redis\n`);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(30);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(9);
    // Each page reads at most one batch of jobs past its cut.
    expect(read).toBeLessThan((30 + 10 * sizes.length) * 2.2 * 2 ** 20);
  }, 90_000);

  it('pages without reading every job, and bulk replays under churn report what they did', async () => {
    const server = await ownRedis();
    const url = `redis://127.0.0.1:${server.port}`;
    const producer = producerConnection(url, logger);
    const queue = new RedisQueue({ url, producer, prefix: 'herald', policy: { attempts: 1, baseDelayMs: 10, maxDelayMs: 10, maxRetryAfterMs: 10 }, concurrency: 64, logger });
    const probe = new Redis(server.port, '127.0.0.1');
    cleanups.push(async () => (await queue.close(), producer.disconnect(), probe.disconnect()));
    await until(() => queue.ready(), { timeoutMs: 10_000, what: 'queue ready' });
    queue.start(async () => {
      throw new PermanentError('provider answered 400');
    });

    // 5,000 dead letters of 16 KiB; one in 500 belongs to a rare Provider.
    const total = 5_000;
    for (let start = 0; start < total; start += 250) {
      await queue.add(
        Array.from({ length: 250 }, (_, i) => ({ id: `j${start + i}`, data: job(start + i, (start + i) % 500 === 7 ? 'ns/rare' : 'ns/big') })),
      );
    }
    await until(async () => (await queue.counts()).failed === total, { timeoutMs: 60_000, what: `${total} dead letters` });

    const metrics = new Metrics({ processMetrics: false });
    const admin = buildAdminServer({ queue, metrics, logger, listenHost: '127.0.0.1' });
    cleanups.push(() => admin.close());
    const get = async (path: string) => {
      const res = await admin.inject({ method: 'GET', url: path });
      expect(res.statusCode).toBe(200);
      return res.json() as { deliveries: Array<{ id: string; data: { provider: string } }>; nextCursor?: string };
    };

    let page: Awaited<ReturnType<typeof get>> | undefined;
    const onePage = await bytesSent(probe, async () => (page = await get('/deliveries?state=failed&limit=1')));
    expect(page?.deliveries).toHaveLength(1);
    // The cursor is opaque (it also says where in a batch a page stopped): it leads on to the next one.
    const firstListed = page?.deliveries[0]?.id;
    expect(page?.nextCursor).toBeDefined();
    expect((await get(`/deliveries?state=failed&limit=1&cursor=${page?.nextCursor}`)).deliveries[0]?.id).not.toBe(firstListed);
    const oneOfProvider = await bytesSent(probe, async () => (page = await get('/deliveries?state=failed&limit=1&provider=ns/rare')));
    expect(page?.deliveries.map((d) => d.data.provider)).toEqual(['ns/rare']);

    // Walking the rare Provider's dead letters with a cursor finds each of them once.
    const rare = new Set<string>();
    const walk = await bytesSent(probe, async () => {
      let cursor: string | undefined = '0';
      for (let i = 0; i < 50 && cursor !== undefined; i++) {
        const p = await get(`/deliveries?state=failed&limit=3&provider=ns/rare&cursor=${cursor}`);
        for (const d of p.deliveries) rare.add(d.id);
        cursor = p.nextCursor;
      }
    });
    expect(rare.size).toBe(10);
    process.stdout.write(
      `listing ${total} dead letters of 16 KiB (${Math.round((total * payload.length) / 2 ** 20)} MiB): limit=1 read ${Math.round(onePage / 1024)} KiB, ` +
        `limit=1 of one Provider ${Math.round(oneOfProvider / 1024)} KiB, every page of that Provider ${Math.round(walk / 1024)} KiB from Redis\n`,
    );
    expect(onePage).toBeLessThan(256 * 1024);
    expect(oneOfProvider).toBeLessThan(1024 * 1024);
    expect(walk).toBeLessThan(8 * 1024 * 1024);

    // Bulk replays while new dead letters keep arriving (and replayed ones fail again), two at
    // once, and a purge of the rare Provider alongside: each answers with its counts.
    let arriving = true;
    const arrivals = (async () => {
      for (let n = 0; arriving && n < 200; n++) {
        await queue.add(Array.from({ length: 10 }, (_, i) => ({ id: `late-${n}-${i}`, data: job(n, 'ns/big') })));
        await sleep(20);
      }
    })();
    const post = (path: string, method: 'POST' | 'DELETE' = 'POST') => admin.inject({ method, url: path, headers: { 'content-type': 'application/json' } });
    const [first, second, purge] = await Promise.all([post('/dead-letters/replay'), post('/dead-letters/replay'), post('/dead-letters?provider=ns/rare', 'DELETE')]);
    arriving = false;
    await arrivals;
    const results = [first, second].map((r) => ({ status: r.statusCode, ...(r.json() as { replayed: number; skipped: number }) }));
    process.stdout.write(`bulk replay under churn: ${JSON.stringify(results)}, purge ${purge.body}\n`);
    for (const r of results) {
      expect(r.status).toBe(200);
      // Each looks at no more than the dead letters there were when it started.
      expect(r.replayed + r.skipped).toBeLessThanOrEqual(total + 2_000);
    }
    // Racing over the same dead letters, one replays what the other finds gone.
    expect(results[0]!.replayed + results[1]!.replayed).toBeGreaterThanOrEqual(total - 10);
    expect(purge.statusCode).toBe(200);
    const text = await metrics.render();
    expect(metricValue(text, 'herald_replays_total')).toBe(results[0]!.replayed + results[1]!.replayed);
    expect(metricValue(text, 'herald_replays_skipped_total')).toBe(results[0]!.skipped + results[1]!.skipped);
  }, 180_000);
});
