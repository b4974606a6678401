/**
 * The delivery thread's life as the main thread sees it, through the built runtime (the thread
 * runs the compiled `dist/src/delivery/delivery-thread.js`, as in production): a thread that
 * dies of an uncaught error (while running, or before the runtime took over the thread main.ts
 * started ahead) is logged, reported once, and makes the `delivery` readiness check fail; its
 * metrics are then left out of scrapes instead of holding them up.
 */
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert, Provider } from '../../src/api/types.js';
import type { DeliveryOutcome } from '../../src/delivery/worker.js';
import { kustomizationEvent } from '../support/events.js';
import { heraldMain, metricValue } from '../support/herald.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { startSink } from '../support/sink.js';
import { until } from '../support/wait.js';

type RuntimeModule = typeof import('../../src/delivery/delivery-runtime.js');
type MetricsModule = typeof import('../../src/observability/metrics.js');
type LoggerModule = typeof import('../../src/observability/logger.js');
type RedisQueueModule = typeof import('../../src/delivery/redis-queue.js');

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const dist = join(heraldMain, '..');

async function load() {
  const runtime = (await import(join(dist, 'delivery', 'delivery-runtime.js'))) as RuntimeModule;
  const { Metrics } = (await import(join(dist, 'observability', 'metrics.js'))) as MetricsModule;
  const { createLogger } = (await import(join(dist, 'observability', 'logger.js'))) as LoggerModule;
  const { RedisQueue, producerConnection } = (await import(join(dist, 'delivery', 'redis-queue.js'))) as RedisQueueModule;
  return { ...runtime, Metrics, createLogger, RedisQueue, producerConnection };
}

function settings(overrides: Partial<Parameters<RuntimeModule['createDeliveryRuntime']>[0]> = {}) {
  return {
    redis: { url: REDIS_URL },
    prefix: 'herald-runtime-test',
    thread: true,
    logLevel: 'info',
    policy: { attempts: 3, baseDelayMs: 100, maxDelayMs: 400, maxRetryAfterMs: 1000 },
    concurrency: 4,
    perProviderConcurrency: 2,
    stalledIntervalMs: 2000,
    circuit: {},
    noCrossNamespaceRefs: false,
    ownListeners: [],
    ...overrides,
  };
}

describe('the delivery runtime', () => {
  it('logs a delivery thread that died of an uncaught error, reports it once, and is no longer ready', async () => {
    const { createDeliveryRuntime, Metrics, createLogger } = await load();
    const lines: string[] = [];
    const logger = createLogger('info', new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
    const failures: string[] = [];
    const metrics = new Metrics({ processMetrics: false });
    // A level pino does not know: the thread's logger throws as the thread starts (the flags
    // never let one through; here it stands for any error the thread does not catch).
    const runtime = createDeliveryRuntime(settings({ logLevel: 'chatty' }), {
      logger,
      metrics,
      writeLogs: (text) => lines.push(text),
      onFailure: (reason) => failures.push(reason),
    });
    expect(runtime.where).toBe('thread');

    await until(() => failures.length > 0, { timeoutMs: 15_000, what: 'the thread failure reported' });
    expect(failures).toHaveLength(1);
    expect(failures[0]).toContain('chatty');
    expect(runtime.health()).toMatchObject({ ok: false });
    expect(runtime.health()?.message).toMatch(/^delivery thread stopped: /);
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.msg?.toString().startsWith('delivery thread failed'));
    expect(logged).toMatchObject({ level: 'error' });
    // A scrape does not wait for a dead thread.
    const started = Date.now();
    expect(await metrics.render()).toContain('herald_deliveries_total');
    expect(Date.now() - started).toBeLessThan(500);
    await runtime.close();
  });

  it('takes over a thread started ahead that died before the takeover: reported once, logged, not ready', async () => {
    const { createDeliveryRuntime, startDeliveryThreadAhead, Metrics, createLogger } = await load();
    const lines: string[] = [];
    const logger = createLogger('info', new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
    const failures: string[] = [];
    // As main.ts does: the thread starts before the service's modules load; here it dies
    // (the unknown level again) and is gone before the runtime exists.
    const ahead = startDeliveryThreadAhead(settings({ logLevel: 'chatty' }), true);
    expect(ahead).toBeDefined();
    await until(() => ahead?.failure !== undefined, { timeoutMs: 15_000, what: 'the thread started ahead to fail' });
    await until(() => ahead?.worker.threadId === -1, { timeoutMs: 5_000, what: 'the thread to be gone' });

    const runtime = createDeliveryRuntime(
      settings({ logLevel: 'chatty' }),
      { logger, metrics: new Metrics({ processMetrics: false }), writeLogs: (text) => lines.push(text), onFailure: (reason) => failures.push(reason) },
      ahead,
    );
    expect(failures).toHaveLength(1);
    expect(failures[0]).toContain('chatty');
    expect(runtime.health()).toMatchObject({ ok: false });
    expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => String(line.msg).startsWith('delivery thread failed'))).toMatchObject({ level: 'error' });
    // Starting it and closing it do not wait for a thread that is not there.
    runtime.start({} as never);
    await runtime.close();
    expect(failures).toHaveLength(1);
  });

  it('delivers on the thread from Redis; outcomes, dead letters and metrics come back to the main thread', { timeout: 30_000 }, async () => {
    const { createDeliveryRuntime, Metrics, createLogger, RedisQueue, producerConnection } = await load();
    const sink = await startSink((req) => (req.url === '/refuse' ? { status: 400, body: 'no' } : { status: 200 }));
    cleanups.push(() => sink.close());
    const prefix = uniquePrefix('runtime');
    cleanups.push(() => deletePrefix(prefix));
    const logger = createLogger('silent');
    const metrics = new Metrics({ processMetrics: false });
    const outcomes: DeliveryOutcome[] = [];
    const deadLetters: Array<{ alert: string; message: string }> = [];
    const failures: string[] = [];
    const runtime = createDeliveryRuntime(settings({ prefix }), {
      logger,
      metrics,
      writeLogs: () => undefined,
      onOutcome: (outcome) => outcomes.push(outcome),
      onFailure: (reason) => failures.push(reason),
    });
    const provider = (name: string, path: string): Provider => ({
      apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
      kind: 'Provider',
      metadata: { name, namespace: 'flux-system' },
      spec: { type: 'generic', address: `${sink.url}${path}` },
    });
    const alert = (name: string, providerName: string) =>
      ({
        apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
        kind: 'Alert',
        metadata: { name, namespace: 'flux-system', uid: `uid-${name}` },
        spec: { providerRef: { name: providerName }, eventSources: [{ kind: 'Kustomization', name: '*' }] },
      }) as Alert;
    runtime.store.replaceAll([provider('ok', '/ok'), provider('refusing', '/refuse'), alert('to-ok', 'ok'), alert('to-refusing', 'refusing')], []);

    const producer = producerConnection(REDIS_URL, logger);
    const queue = new RedisQueue({ url: REDIS_URL, producer, prefix, policy: settings().policy, concurrency: 4, logger });
    cleanups.push(async () => (await queue.close(), producer.disconnect()));
    runtime.start(queue, (letter, message) => deadLetters.push({ alert: letter.alert, message }));
    await until(() => producer.status === 'ready', { what: 'redis' });
    const job = (id: string, alertName: string, providerName: string) => ({
      id,
      data: { alert: `flux-system/${alertName}`, provider: `flux-system/${providerName}`, providerType: 'generic', event: kustomizationEvent(), acceptedAt: Date.now() },
    });
    await queue.add([job('delivered-1', 'to-ok', 'ok'), job('refused-1', 'to-refusing', 'refusing')]);

    await until(() => outcomes.length >= 2, { timeoutMs: 20_000, what: 'both outcomes' });
    expect(outcomes.map(({ alert, provider: key, outcome }) => ({ alert, key, outcome })).sort((a, b) => a.alert.localeCompare(b.alert))).toEqual([
      { alert: 'flux-system/to-ok', key: 'flux-system/ok', outcome: 'delivered' },
      { alert: 'flux-system/to-refusing', key: 'flux-system/refusing', outcome: 'dead' },
    ]);
    expect(outcomes.find((o) => o.outcome === 'dead')?.error).toContain('400');
    expect(deadLetters).toEqual([{ alert: 'flux-system/to-refusing', message: expect.stringContaining('400') }]);
    expect(runtime.health()).toEqual({ ok: true, message: 'delivery thread running' });
    const text = await metrics.render();
    expect(metricValue(text, 'herald_deliveries_total', { outcome: 'success' })).toBe(1);
    expect(metricValue(text, 'herald_dead_letters_total')).toBe(1);

    await runtime.close();
    expect(runtime.health()).toMatchObject({ ok: false });
    expect(failures).toEqual([]);
  });

  it('delivers on the main thread with the in-process queue, whatever the flag says', async () => {
    const { createDeliveryRuntime, Metrics, createLogger } = await load();
    const runtime = createDeliveryRuntime(settings({ redis: undefined }), {
      logger: createLogger('silent'),
      metrics: new Metrics({ processMetrics: false }),
      writeLogs: () => undefined,
      onFailure: () => undefined,
    });
    expect(runtime.where).toBe('main');
    expect(runtime.health()).toBeUndefined();
  });
});
