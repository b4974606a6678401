/**
 * Fault: the Redis queue's memory and throughput bounds (issue 8). Herald runs in Redis mode on
 * a redis-server of this test's own (so its memory and command counts are Herald's alone):
 *
 * - unique ~3 MiB events to a working provider, Redis capped at 250 MB (`noeviction`): the 120
 *   events hold 360 MB, so keeping them fills it (as it did before); completed jobs keep no
 *   payload, so Redis holds only those still pending and no event is refused;
 * - thousands of jobs for a provider refusing connections (at once, or after a while): a healthy provider's delivery
 *   latency and Redis's command rate stay close to what they are without that backlog.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { alertFor, alertForKustomization, kustomizationAlert, webhookProvider } from '../e2e/manifests.js';
import { helmReleaseEvent, kustomizationEvent } from '../support/events.js';
import { freePort, metricValue, startHerald, type HeraldProcess } from '../support/herald.js';
import { startRedisServer } from '../support/redis-server.js';
import { startSink } from '../support/sink.js';
import { faultFile, messageOf, percentile, postAll, tallyOf } from './fault-support.js';
import { sleep, until } from '../support/wait.js';

const { cleanups, captured } = faultFile('queue-bounds-redis');

async function redisOfOwn(args: string[] = []): Promise<{ url: string; client: Redis }> {
  const server = await startRedisServer({ args });
  cleanups.push(() => server.cleanup());
  const client = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true });
  await client.connect();
  cleanups.push(async () => client.disconnect());
  return { url: `redis://127.0.0.1:${server.port}`, client };
}

async function herald(redisUrl: string, manifests: Record<string, string>, extraArgs: string[] = []): Promise<HeraldProcess> {
  const h = await startHerald({ redisUrl, manifests, extraArgs: ['--log-level', 'error', ...extraArgs] });
  cleanups.push(async () => (await h.stop('SIGTERM', 5_000), await h.cleanup()));
  return h;
}

async function info(client: Redis, field: string): Promise<number> {
  const text = await client.info();
  return Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
}

/** Lua scripts run (BullMQ's operations are scripts; the commands inside them count as ops too). */
async function scriptCalls(client: Redis): Promise<number> {
  const stats = await client.info('commandstats');
  let calls = 0;
  for (const match of stats.matchAll(/^cmdstat_(?:evalsha|eval|evalsha_ro|eval_ro):calls=(\d+)/gm)) calls += Number(match[1]);
  return calls;
}

/** A port that accepts connections and resets each one after `ms`, answering nothing. */
async function resettingEndpoint(ms: number): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.resume();
    const timer = setTimeout(() => socket.resetAndDestroy(), ms);
    socket.on('close', () => (clearTimeout(timer), sockets.delete(socket)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => (sockets.forEach((s) => s.destroy()), server.close(() => resolve()))));
  return (server.address() as AddressInfo).port;
}

const BIG = 'x'.repeat(3 * 1024 * 1024 - 4096);

describe('Redis queue bounds', () => {
  it('keeps no payload of completed jobs: unique 3 MiB events through a 250 MB Redis, none refused', async () => {
    const { url, client } = await redisOfOwn(['--maxmemory', '250mb', '--maxmemory-policy', 'noeviction']);
    let received = 0;
    const server: Server = createServer((req, res) => {
      req.resume();
      req.on('end', () => ((received += 1), res.writeHead(200).end()));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
    const sinkUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const h = await herald(url, { 'p.yaml': webhookProvider({ address: `${sinkUrl}/hook` }), 'a.yaml': kustomizationAlert() });

    const count = 120; // ≈ 360 MiB of events: kept whole, they do not fit
    const baseline = await info(client, 'used_memory');
    let peak = baseline;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await info(client, 'used_memory'));
        await sleep(100);
      }
    })();
    const { statuses } = await postAll(h, (i) => JSON.stringify(kustomizationEvent({ message: `big ${i} ${BIG}` })), count, 2);
    const accepted = statuses.filter((s) => s === 202).length;
    await until(() => received >= accepted, { timeoutMs: 60_000, what: 'every accepted event delivered' }).catch(() => undefined);
    await sleep(500);
    sampling = false;
    await sampler;
    const after = await info(client, 'used_memory');
    const res = await fetch(`${h.adminUrl}/deliveries?state=completed&limit=500`);
    const completed = ((await res.json()) as { deliveries: Array<{ id: string; data: { event: { message: string; involvedObject: { name: string } } } }> }).deliveries;
    const jobBytes = Number(await client.call('MEMORY', 'USAGE', `herald:deliveries:${completed[0]?.id}`));
    captured['admin completed (redis)'] = JSON.stringify(completed).slice(0, 100_000);
    const mb = (n: number) => (n / 2 ** 20).toFixed(1);
    console.log(
      `[queue-bounds-redis] ${count} unique 3 MiB events, Redis maxmemory 250 MB: answers ${JSON.stringify(tallyOf(statuses))}, delivered ${received}; ` +
        `used_memory ${mb(baseline)} MB before, peak ${mb(peak)} MB, ${mb(after)} MB after (${((after - baseline) / Math.max(1, completed.length)).toFixed(0)} bytes per completed job, BullMQ's event log included; ` +
        `one completed job's hash ${jobBytes} bytes); ` +
        `completed listed ${completed.length}, largest ${Math.max(0, ...completed.map((d) => JSON.stringify(d).length))} bytes`,
    );
    expect(tallyOf(statuses)).toEqual({ 202: count });
    expect(received).toBe(count);
    expect(completed.length).toBe(count);
    for (const d of completed) {
      expect(d.data.event.involvedObject.name).toBe('apps');
      expect(JSON.stringify(d).length).toBeLessThan(4096);
    }
    expect(after - baseline).toBeLessThan(10 * 2 ** 20);
  }, 180_000);

  it.each([
    ['refusing connections', 0],
    ['resetting every connection after 400 ms', 400],
  ])("keeps a healthy provider's latency and Redis's command rate close to baseline with a backlog for a provider %s", async (_what, resetAfterMs) => {
    const { url, client } = await redisOfOwn();
    const healthy = await startSink();
    cleanups.push(() => healthy.close());
    const receipt = new Map<string, number>();
    healthy.respondWith((req) => (receipt.set(messageOf(req), req.receivedAt), { status: 200 }));
    const deadPort = resetAfterMs > 0 ? await resettingEndpoint(resetAfterMs) : await freePort();
    const h = await herald(url, {
      'healthy.yaml': webhookProvider({ name: 'healthy', address: `${healthy.url}/hook` }),
      'dead.yaml': webhookProvider({ name: 'dead', address: `http://127.0.0.1:${deadPort}/hook` }),
      'alerts.yaml': [
        alertForKustomization({ name: 'to-healthy', provider: 'healthy', kustomization: 'healthy-app' }),
        // The backlog: HelmReleases `dead-app-0` … `dead-app-49`, to the dead Provider.
        alertFor({ name: 'to-dead', provider: 'dead', kind: 'HelmRelease', source: "'*'" }),
      ].join('---\n'),
    });
    const event = (name: string, message: string) =>
      JSON.stringify(kustomizationEvent({ message, involvedObject: { ...kustomizationEvent().involvedObject, name } }));

    /** Posts `n` healthy events `gapMs` apart; returns their POST→receipt latencies and Redis commands/s meanwhile. */
    async function measure(tag: string, n: number, gapMs: number): Promise<{ latencies: number[]; opsPerSecond: number }> {
      const sentAt = new Map<string, number>();
      const commandsBefore = await info(client, 'total_commands_processed');
      const t0 = Date.now();
      const posts: Array<Promise<number[]>> = [];
      for (let i = 0; i < n; i++) {
        const message = `healthy ${tag} ${i}`;
        sentAt.set(message, Date.now());
        posts.push(postAll(h, () => event('healthy-app', message), 1, 1).then((r) => r.statuses));
        await sleep(gapMs);
      }
      expect((await Promise.all(posts)).flat().every((s) => s === 202)).toBe(true);
      await until(() => [...sentAt.keys()].every((m) => receipt.has(m)), { timeoutMs: 120_000, what: `healthy deliveries (${tag})` });
      const opsPerSecond = ((await info(client, 'total_commands_processed')) - commandsBefore) / ((Date.now() - t0) / 1000);
      return { latencies: [...sentAt].map(([m, t]) => (receipt.get(m) as number) - t), opsPerSecond: Math.round(opsPerSecond) };
    }

    const baseline = await measure('baseline', 100, 30);
    const backlog = 5_000;
    // Spread over 50 objects: per-object ordering alone would hold one object's backlog behind
    // its first failure; across objects only the Provider's circuit keeps the attempts down.
    const { statuses: deadStatuses } = await postAll(h, (i) => JSON.stringify(helmReleaseEvent(`dead-app-${i % 50}`, `dead ${i}`)), backlog, 32);
    expect(tallyOf(deadStatuses)).toEqual({ 202: backlog });
    // While the backlog gets its first pass (each job taken once, in order, ahead of later work),
    // and after it, when its jobs are retried or sent back.
    const lastPost = Date.now();
    const firstPass = await measure('during-first-pass', 100, 30);
    await until(async () => metricValue(await h.metrics(), 'herald_queue_jobs', { state: 'waiting' }) < 100, { timeoutMs: 60_000, what: 'first pass over the backlog' });
    const firstPassMs = Date.now() - lastPost;
    const during = await measure('with-dead-backlog', 100, 30);
    const commandsBefore = await info(client, 'total_commands_processed');
    const scriptsBefore = await scriptCalls(client);
    const attemptsBefore = metricValue(await h.metrics(), 'herald_deliveries_total', { outcome: 'retry' }) + metricValue(await h.metrics(), 'herald_deliveries_total', { outcome: 'failed' });
    await sleep(3_000);
    const idleOps = Math.round(((await info(client, 'total_commands_processed')) - commandsBefore) / 3);
    const idleScripts = Math.round(((await scriptCalls(client)) - scriptsBefore) / 3);
    const metricsAfter = await h.metrics();
    const attemptsAfter = metricValue(metricsAfter, 'herald_deliveries_total', { outcome: 'retry' }) + metricValue(metricsAfter, 'herald_deliveries_total', { outcome: 'failed' });
    const attemptsPerSecond = Math.round((attemptsAfter - attemptsBefore) / 3);
    const openCircuits = metricValue(metricsAfter, 'herald_provider_circuits_open', { provider_type: 'generic' });
    const deferred = metricValue(metricsAfter, 'herald_deliveries_deferred_total', { provider_type: 'generic' });

    const line = (v: number[]) => `p50=${percentile(v, 0.5)}ms p95=${percentile(v, 0.95)}ms max=${Math.max(...v)}ms`;
    const ratio = percentile(during.latencies, 0.5) / Math.max(1, percentile(baseline.latencies, 0.5));
    console.log(
      `[queue-bounds-redis] healthy provider, 100 events 30 ms apart: baseline ${line(baseline.latencies)} (Redis ${baseline.opsPerSecond} ops/s); ` +
        `with ${backlog} jobs for a provider ${_what}: during their first pass ${line(firstPass.latencies)} (Redis ${firstPass.opsPerSecond} ops/s), ` +
        `after it (done ${firstPassMs} ms after the last POST) ${line(during.latencies)} (Redis ${during.opsPerSecond} ops/s); p50 ratio ${ratio.toFixed(2)}; ` +
        `Redis ${idleOps} ops/s over the next 3 s with only the backlog, ${idleScripts} scripts/s (${attemptsPerSecond} failed attempts/s to it, ` +
        `${attemptsAfter} in all; open circuits ${openCircuits}, deliveries deferred by them ${deferred})`,
    );
    // Before, the healthy provider's new jobs waited behind every job of the backlog, retries
    // included: p50 1.7-17 s during the first pass, 0.3 s after it (now tens of ms, then a few).
    // Medians, which this shared machine's noise moves least; the tails only generously.
    const p = (v: number[], q: number) => percentile(v, q);
    expect(p(firstPass.latencies, 0.5)).toBeLessThan(Math.max(500, 10 * p(baseline.latencies, 0.5)));
    expect(p(firstPass.latencies, 0.95)).toBeLessThan(Math.max(3_000, 10 * p(baseline.latencies, 0.95)));
    expect(p(during.latencies, 0.5)).toBeLessThan(Math.max(100, 5 * p(baseline.latencies, 0.5)));
    expect(p(during.latencies, 0.95)).toBeLessThan(Math.max(1_000, 5 * p(baseline.latencies, 0.95)));
    // Redis works for real attempts (one BullMQ script each, which fetches the next job too)
    // and for jobs sent back because the Provider's slots are busy at most once per their turn,
    // which is never more than 30 s away (two scripts each): before, jobs were sent back every
    // 0.5-1.5 s, and a provider resetting connections after 400 ms cost 70 scripts per attempt.
    expect(idleScripts).toBeLessThan(3 * attemptsPerSecond + (3 * backlog) / 30);
    if (resetAfterMs === 0) {
      // A provider refusing connections opens its circuit: it gets a probe per cooldown, not
      // an attempt per job, and its waiting jobs come back from Redis at a fixed pace. Before,
      // each job kept its own backoff: 620-700 attempts/s and 15-21k Redis ops/s for tens of
      // seconds, and the first pass took 17-18 s.
      expect(openCircuits).toBe(1);
      expect(attemptsPerSecond).toBeLessThan(10);
      expect(attemptsAfter).toBeLessThan(200);
      expect(idleOps).toBeLessThan(8_000);
    }
  }, 240_000);
});
