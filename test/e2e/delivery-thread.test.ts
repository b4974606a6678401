/**
 * Deliveries on the delivery thread (Redis mode's default): Herald as a process, a local sink as
 * the provider. Deliveries arrive, the thread's metrics and logs reach /metrics and stdout, a
 * Secret changed in the manifests directory applies to the next delivery, SIGTERM lets the
 * deliveries in flight finish, and `--no-delivery-thread` delivers on the main thread.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { kustomizationEvent } from '../support/events.js';
import { metricValue, startHerald, type HeraldProcess, type StartOptions } from '../support/herald.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { startSink, type Sink, type SinkResponder } from '../support/sink.js';
import { until } from '../support/wait.js';
import { kustomizationAlert, secret, webhookProvider } from './manifests.js';

const running: Array<{ stop(): Promise<unknown> }> = [];
const prefixes: string[] = [];

afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop();
  for (const p of prefixes.splice(0)) await deletePrefix(p);
});

async function sink(responder?: SinkResponder): Promise<Sink> {
  const s = await startSink(responder);
  running.push({ stop: () => s.close() });
  return s;
}

async function herald(opts: StartOptions): Promise<HeraldProcess> {
  const prefix = uniquePrefix('thread');
  prefixes.push(prefix);
  const h = await startHerald({
    ...opts,
    redisUrl: REDIS_URL,
    extraArgs: ['--redis-prefix', prefix, '--retry-base-delay', '100ms', '--retry-max-delay', '400ms', ...(opts.extraArgs ?? [])],
  });
  running.push({ stop: async () => (await h.stop(), await h.cleanup()) });
  return h;
}

function event(n: number) {
  const base = kustomizationEvent();
  return { ...base, message: `thread delivery ${n}`, involvedObject: { ...base.involvedObject, name: `app-${n}` } };
}

async function readiness(h: HeraldProcess): Promise<{ status: string; checks: Array<{ name: string; ok: boolean; message: string }> }> {
  return (await fetch(`${h.healthUrl}/readyz`)).json() as never;
}

function jsonLines(h: HeraldProcess): Array<Record<string, unknown>> {
  return h.output.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('the delivery thread (Redis mode)', () => {
  it('delivers, and its metrics and logs reach /metrics and stdout like the main thread\'s', async () => {
    // The first request of app-0 is refused once: the thread logs a retry.
    let refused = false;
    const s = await sink((req) => {
      if (!refused && req.body.includes('thread delivery 0')) {
        refused = true;
        return { status: 500, body: 'try again' };
      }
      return { status: 200 };
    });
    const h = await herald({ manifests: { 'p.yaml': webhookProvider({ address: `${s.url}/hook` }), 'a.yaml': kustomizationAlert() } });

    // Ready only once the thread delivers.
    expect((await readiness(h)).checks).toContainEqual({ name: 'delivery', ok: true, message: 'delivery thread running' });
    expect(jsonLines(h).find((line) => line.msg === 'herald started')).toMatchObject({ delivery: 'thread', queue: 'redis' });

    const count = 20;
    for (let n = 0; n < count; n++) expect((await h.postEvent(event(n))).status).toBe(202);
    await s.waitFor(count + 1, 15_000);
    const delivered = new Set(s.requests.filter((r) => r.url === '/hook').map((r) => (JSON.parse(r.body) as { message: string }).message));
    expect(delivered.size).toBe(count);

    let metrics = '';
    await until(async () => {
      metrics = await h.metrics();
      return metricValue(metrics, 'herald_deliveries_total', { outcome: 'success' }) === count;
    }, { timeoutMs: 5_000, what: 'the thread\'s deliveries counted on /metrics' });
    expect(metricValue(metrics, 'herald_deliveries_total', { provider_type: 'generic', outcome: 'retry' })).toBe(1);
    expect(metricValue(metrics, 'herald_delivery_duration_seconds_count', { outcome: 'success' })).toBe(count);
    expect(metricValue(metrics, 'herald_delivery_latency_seconds_count')).toBe(count);
    // The main thread's own metrics are all still there, once each.
    expect(metricValue(metrics, 'herald_jobs_enqueued_total')).toBe(count);
    expect(metrics).toMatch(/^process_start_time_seconds \d+/m);
    expect(metrics.match(/^# TYPE herald_deliveries_total counter$/gm)).toHaveLength(1);

    // The retry's warning, logged by the thread: JSON on the same stdout, with the same fields.
    const retry = jsonLines(h).find((line) => line.msg === 'delivery failed; will retry');
    expect(retry).toMatchObject({ level: 'warn', service: 'herald', provider: 'flux-system/sink', type: 'generic', attempt: 1 });
    expect(typeof retry?.time).toBe('string');
    expect(typeof retry?.job).toBe('string');
  });

  it('applies a Provider Secret changed in the manifests directory to the next delivery', async () => {
    const s = await sink();
    const h = await herald({
      manifests: {
        's.yaml': secret('hook-headers', { headers: 'X-Rotated: first\n' }),
        'p.yaml': webhookProvider({ address: `${s.url}/hook`, secretName: 'hook-headers' }),
        'a.yaml': kustomizationAlert(),
      },
    });
    expect((await h.postEvent(event(0))).status).toBe(202);
    await s.waitFor(1, 10_000);
    expect(s.requests[0]?.headers['x-rotated']).toBe('first');

    await h.writeManifest('s.yaml', secret('hook-headers', { headers: 'X-Rotated: second\n' }));
    // The directory is re-read within its debounce; each later event must carry the new value.
    let n = 1;
    await until(
      async () => {
        const before = s.requests.length;
        expect((await h.postEvent(event(n++))).status).toBe(202);
        await s.waitFor(before + 1, 10_000);
        return s.requests.at(-1)?.headers['x-rotated'] === 'second';
      },
      { timeoutMs: 10_000, intervalMs: 100, what: 'a delivery with the rotated Secret' },
    );
    const sent = n;
    for (; n < sent + 3; n++) expect((await h.postEvent(event(n))).status).toBe(202);
    await s.waitFor(n, 10_000);
    expect(s.requests.slice(-3).map((r) => r.headers['x-rotated'])).toEqual(['second', 'second', 'second']);
  });

  it('SIGTERM lets the deliveries in flight on the thread finish, then exits 0 with "herald stopped" last', { timeout: 30_000 }, async () => {
    const answered: number[] = [];
    const s = await sink(async (_req, index) => {
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      answered.push(index);
      return { status: 200 };
    });
    const h = await herald({
      manifests: { 'p.yaml': webhookProvider({ address: `${s.url}/hook` }), 'a.yaml': kustomizationAlert() },
      extraArgs: ['--provider-concurrency', '4', '--shutdown-timeout', '10s'],
    });
    for (let n = 0; n < 4; n++) expect((await h.postEvent(event(n))).status).toBe(202);
    await s.waitFor(4, 10_000);
    expect(answered).toHaveLength(0);

    const code = await h.stop('SIGTERM', 15_000);
    expect(code).toBe(0);
    // Every delivery under way was answered before Herald went away, and counted as done.
    expect(answered).toHaveLength(4);
    const lines = jsonLines(h);
    expect(lines.at(-1)?.msg).toBe('herald stopped');
    expect(lines.some((line) => line.level === 'error')).toBe(false);
  });

  it('with --no-delivery-thread delivers on the main thread', async () => {
    const s = await sink();
    const h = await herald({
      manifests: { 'p.yaml': webhookProvider({ address: `${s.url}/hook` }), 'a.yaml': kustomizationAlert() },
      extraArgs: ['--no-delivery-thread'],
    });
    expect((await readiness(h)).checks.map((check) => check.name)).not.toContain('delivery');
    expect(jsonLines(h).find((line) => line.msg === 'herald started')).toMatchObject({ delivery: 'main' });
    for (let n = 0; n < 5; n++) expect((await h.postEvent(event(n))).status).toBe(202);
    await s.waitFor(5, 10_000);
    await until(async () => metricValue(await h.metrics(), 'herald_deliveries_total', { outcome: 'success' }) === 5, {
      timeoutMs: 5_000,
      what: 'deliveries counted',
    });
  });
});
