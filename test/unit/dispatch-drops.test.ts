/**
 * Nothing is dropped silently on the way from an event to the queue: a Provider that does not
 * take the event (a commit-status Provider and an event without a revision) or is suspended is
 * logged and counted, and at debug an event that no Alert takes says why. The real store,
 * dispatcher, in-process queue and events listener; the log lines are read as written.
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert, Provider } from '../../src/api/types.js';
import { EventDispatcher } from '../../src/delivery/dispatcher.js';
import { MemoryQueue } from '../../src/delivery/memory-queue.js';
import { createLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { ResourceStore } from '../../src/resources/store.js';
import { MemoryDuplicateFilter } from '../../src/server/duplicate-filter.js';
import { buildEventsServer } from '../../src/server/events.js';
import { kustomizationEvent } from '../support/events.js';
import { metricValue } from '../support/herald.js';

const NS = 'flux-system';
const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

const provider = (name: string, type: string, suspend = false): Provider => ({
  apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
  kind: 'Provider',
  metadata: { name, namespace: NS },
  spec: { type, address: 'https://github.com/org/repo', ...(suspend ? { suspend: true } : {}) },
});

const alert = (name: string, providerName: string, objectName: string): Alert => ({
  apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
  kind: 'Alert',
  metadata: { name, namespace: NS },
  spec: { providerRef: { name: providerName }, eventSources: [{ kind: 'Kustomization', name: objectName }] },
});

async function intake() {
  const lines: Array<Record<string, unknown>> = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger('debug', out);
  const metrics = new Metrics({ processMetrics: false });
  const store = new ResourceStore();
  store.replaceAll(
    [provider('status', 'github'), provider('paused', 'generic', true), alert('to-status', 'status', 'apps'), alert('to-paused', 'paused', 'infra')],
    [],
  );
  const queue = new MemoryQueue({ policy: { attempts: 1, baseDelayMs: 10, maxDelayMs: 10, maxRetryAfterMs: 10 }, concurrency: 1 });
  const duplicates = new MemoryDuplicateFilter(1);
  const app = buildEventsServer({ dispatcher: new EventDispatcher({ store, queue, metrics, logger }), duplicates, metrics, logger });
  closers.push(() => app.close(), () => queue.close(), () => duplicates.close());
  const post = async (name: string) => {
    const event = kustomizationEvent({ involvedObject: { kind: 'Kustomization', namespace: NS, name }, metadata: {} });
    return (await app.inject({ method: 'POST', url: '/', payload: event })).statusCode;
  };
  const logged = (msg: RegExp) => lines.filter((l) => msg.test(String(l.msg)));
  return { post, logged, metrics, queue };
}

describe('events dropped on the way', () => {
  it('a commit-status Provider given an event without a revision: logged with the Alert and Provider, and counted', async () => {
    const { post, logged, metrics, queue } = await intake();
    expect(await post('apps')).toBe(202);
    const [line] = logged(/^provider does not take this event/);
    expect(line).toMatchObject({ level: 'info', alert: `${NS}/to-status`, provider: `${NS}/status`, type: 'github', involved: expect.stringContaining('apps') });
    expect(metricValue(await metrics.render(), 'herald_deliveries_total', { provider_type: 'github', outcome: 'dropped' })).toBe(1);
    expect(logged(/^the matching alerts queued nothing/)).toMatchObject([{ level: 'debug', matched: 1 }]);
    expect((await queue.counts()).waiting).toBe(0);
  });

  it('a suspended Provider: logged and counted at dispatch', async () => {
    const { post, logged, metrics } = await intake();
    expect(await post('infra')).toBe(202);
    expect(logged(/^provider is suspended; notification dropped$/)).toMatchObject([{ level: 'info', alert: `${NS}/to-paused`, provider: `${NS}/paused` }]);
    expect(metricValue(await metrics.render(), 'herald_deliveries_total', { provider_type: 'generic', outcome: 'dropped' })).toBe(1);
  });

  it('at debug, an event no Alert takes says why', async () => {
    const { post, logged } = await intake();
    expect(await post('nobody-watches-this')).toBe(202);
    const [line] = logged(/^no alert takes this event/);
    expect(line).toMatchObject({ level: 'debug', matched: 0, involved: `Kustomization/${NS}/nobody-watches-this` });
    expect(String(line?.msg)).toMatch(/event source .* severity, inclusion\/exclusion list or matchLabels/);
  });
});
