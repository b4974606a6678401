/**
 * The delivery thread's life as the main thread sees it, through the built runtime (the thread
 * runs the compiled `dist/src/delivery/delivery-thread.js`, as in production): a thread that
 * dies of an uncaught error is logged, reported once, and makes the `delivery` readiness check
 * fail; its metrics are then left out of scrapes instead of holding them up.
 */
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { heraldMain } from '../support/herald.js';
import { REDIS_URL } from '../support/redis.js';
import { until } from '../support/wait.js';

type RuntimeModule = typeof import('../../src/delivery/delivery-runtime.js');
type MetricsModule = typeof import('../../src/observability/metrics.js');
type LoggerModule = typeof import('../../src/observability/logger.js');

const dist = join(heraldMain, '..');

async function load() {
  const runtime = (await import(join(dist, 'delivery', 'delivery-runtime.js'))) as RuntimeModule;
  const { Metrics } = (await import(join(dist, 'observability', 'metrics.js'))) as MetricsModule;
  const { createLogger } = (await import(join(dist, 'observability', 'logger.js'))) as LoggerModule;
  return { ...runtime, Metrics, createLogger };
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
