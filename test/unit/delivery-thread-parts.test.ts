/**
 * The parts the delivery thread is built from that can be tested without a thread: the store
 * feed that keeps its store in step with the main thread's (through a structured clone, as
 * postMessage does), the merge of its metrics into the main registry's scrape, and the log
 * destination that hands its lines over.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Alert, Provider, Secret, StoredObject } from '../../src/api/types.js';
import { DeliveryAlerts, FeedingResourceStore, StoreFeedApplier, type StoreFeedOp } from '../../src/delivery/store-feed.js';
import { PostedLogDestination } from '../../src/delivery/thread-messages.js';
import { renderMerged } from '../../src/observability/metrics-merge.js';
import { GATHER_MS } from '../../src/observability/gathered.js';
import { createLogger } from '../../src/observability/logger.js';
import { ResourceStore } from '../../src/resources/store.js';

const NS = 'flux-system';

function provider(name: string, secretName = 's'): Provider {
  return {
    apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
    kind: 'Provider',
    metadata: { name, namespace: NS },
    spec: { type: 'generic', address: 'https://hooks.example.com/x', secretRef: { name: secretName } },
  };
}

function secret(name: string, token: string): Secret {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: NS }, data: { token } };
}

function alert(name: string, providerName: string): Alert {
  return {
    apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
    kind: 'Alert',
    metadata: { name, namespace: NS, uid: `uid-${name}` },
    spec: { providerRef: { name: providerName }, eventSources: [{ kind: 'Kustomization', name: '*' }] },
  } as Alert;
}

const kustomization = { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: 'apps', namespace: NS } } as StoredObject;

/** A main store feeding a second one the way the delivery thread's is fed. */
function mirrored() {
  const copy = new ResourceStore();
  const alerts = new DeliveryAlerts();
  const applier = new StoreFeedApplier(copy, alerts);
  const sent: StoreFeedOp[] = [];
  const main = new FeedingResourceStore({}, (op) => sent.push(op));
  const flush = () => applier.apply(structuredClone(sent.splice(0)));
  return { main, copy, alerts, sent, flush };
}

describe('the store feed', () => {
  it('gives the copy the same Providers, Secrets and Alerts, and nothing else', async () => {
    const { main, copy, alerts, sent, flush } = mirrored();
    await main.replaceAllGradually([provider('hook'), secret('s', 'one'), alert('a', 'hook'), kustomization], []);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ op: 'snapshot' });
    expect((sent[0] as { objects: StoredObject[] }).objects.map((o) => o.kind)).toEqual(['Provider', 'Secret', 'Alert']);
    await flush();
    expect(copy.loaded).toBe(true);
    expect(copy.provider(NS, 'hook')?.ready).toBe(true);
    expect(copy.provider(NS, 'hook')?.config?.token).toBe('one');
    expect(copy.provider(NS, 'hook')?.configHash).toBe(main.provider(NS, 'hook')?.configHash);
    expect(alerts.get(`${NS}/a`)?.metadata.uid).toBe('uid-a');
    // Kept as objects only: the copy does not match events.
    expect(copy.alerts.get(`${NS}/a`)).toBeUndefined();
    expect(copy.labelsOf({ kind: 'Kustomization', namespace: NS, name: 'apps' })).toBeUndefined();
  });

  it('passes on single changes in order: a rotated Secret, a removed Provider', async () => {
    const { main, copy, sent, flush } = mirrored();
    main.replaceAll([provider('hook'), provider('other'), secret('s', 'one')], []);
    main.upsert(secret('s', 'two'));
    main.upsert(kustomization);
    main.remove('Provider', NS, 'other');
    expect(sent.map((op) => op.op)).toEqual(['snapshot', 'upsert', 'remove']);
    await flush();
    expect(copy.provider(NS, 'hook')?.config?.token).toBe('two');
    expect(copy.provider(NS, 'other')).toBeUndefined();
  });

  it('follows Alerts changed and removed one at a time', async () => {
    const { main, alerts, flush } = mirrored();
    main.replaceAll([provider('hook'), secret('s', 'one'), alert('a', 'hook'), alert('b', 'hook')], []);
    main.upsert({ ...alert('a', 'hook'), spec: { ...alert('a', 'hook').spec, summary: 'changed' } } as Alert);
    main.remove('Alert', NS, 'b');
    main.upsert(alert('c', 'hook'));
    await flush();
    expect(alerts.get(`${NS}/a`)?.spec).toEqual(main.alerts.get(`${NS}/a`)?.alert.spec);
    expect(alerts.get(`${NS}/a`)?.spec.summary).toBe('changed');
    expect(alerts.get(`${NS}/b`)).toBeUndefined();
    expect(alerts.get(`${NS}/c`)?.metadata.uid).toBe('uid-c');
  });

  it('skips a snapshot that a later one replaced before it was applied', async () => {
    const { main, copy, flush } = mirrored();
    const changes: string[][] = [];
    copy.on('changed', (change) => changes.push(change.providers));
    main.replaceAll([provider('first'), secret('s', 'one')], []);
    main.upsert(secret('s', 'two'));
    main.replaceAll([provider('second'), secret('s', 'three')], []);
    await flush();
    expect(changes).toEqual([['flux-system/second']]);
    expect(copy.provider(NS, 'second')?.config?.token).toBe('three');
  });

  it('applies feeds given while a snapshot is being applied after it', async () => {
    const { main, copy, sent, flush } = mirrored();
    main.replaceAll([provider('hook'), secret('s', 'one')], []);
    const first = flush();
    main.upsert(secret('s', 'two'));
    const second = flush();
    await Promise.all([first, second]);
    expect(sent).toEqual([]);
    expect(copy.provider(NS, 'hook')?.config?.token).toBe('two');
  });
});

describe('renderMerged', () => {
  function registryWith() {
    const registry = new Registry();
    const deliveries = new Counter({ name: 'deliveries_total', help: 'd', labelNames: ['outcome'], registers: [registry] });
    const duration = new Histogram({ name: 'duration_seconds', help: 'h', buckets: [0.1, 1], registers: [registry] });
    return { registry, deliveries, duration };
  }

  it('sums the series both registries have, renders the rest once, and keeps metrics an aggregate would drop', async () => {
    const main = registryWith();
    collectDefaultMetrics({ register: main.registry });
    new Counter({ name: 'main_only_total', help: 'm', registers: [main.registry] }).inc(7);
    main.deliveries.inc({ outcome: 'success' }, 2);
    const thread = registryWith();
    thread.deliveries.inc({ outcome: 'success' }, 3);
    thread.deliveries.inc({ outcome: 'retry' }, 1);
    thread.duration.observe(0.5);
    new Counter({ name: 'thread_only_total', help: 't', registers: [thread.registry] }).inc(4);

    const text = await renderMerged(main.registry, [await thread.registry.getMetricsAsJSON()]);
    expect(text).toContain('deliveries_total{outcome="success"} 5\n');
    expect(text).toContain('deliveries_total{outcome="retry"} 1\n');
    expect(text).toContain('duration_seconds_bucket{le="1"} 1\n');
    expect(text).toContain('duration_seconds_count 1\n');
    expect(text).toContain('main_only_total 7\n');
    expect(text).toContain('thread_only_total 4\n');
    // prom-client's aggregate omits the start time (aggregator "omit"): not aggregated here.
    expect(text).toMatch(/^process_start_time_seconds \d+$/m);
    expect(text.match(/^# TYPE deliveries_total counter$/gm)).toHaveLength(1);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('renders the registry as is when the other side recorded nothing', async () => {
    const main = registryWith();
    main.deliveries.inc({ outcome: 'success' });
    expect(await renderMerged(main.registry, [[]])).toBe(await main.registry.metrics());
  });
});

describe('PostedLogDestination', () => {
  it('hands over the lines written within GATHER_MS together, as the logger wrote them', async () => {
    const posted: string[] = [];
    const destination = new PostedLogDestination((text) => posted.push(text));
    const logger = createLogger('info', destination);
    logger.info({ provider: 'flux-system/hook' }, 'one');
    logger.warn('two');
    await new Promise((resolve) => setImmediate(resolve));
    logger.error('three');
    expect(posted).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, GATHER_MS + 5));
    expect(posted).toHaveLength(1);
    const lines = (posted[0] ?? '').trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toMatchObject([
      { level: 'info', service: 'herald', provider: 'flux-system/hook', msg: 'one' },
      { level: 'warn', service: 'herald', msg: 'two' },
      { level: 'error', service: 'herald', msg: 'three' },
    ]);
  });

  it('drops lines beyond its bound rather than growing without limit', () => {
    const posted: string[] = [];
    const destination = new PostedLogDestination((text) => posted.push(text));
    const line = `${'x'.repeat(1024 * 1024 - 1)}\n`;
    for (let i = 0; i < 10; i++) destination.write(line);
    destination.flush();
    expect(posted).toHaveLength(1);
    expect(posted[0]?.length).toBe(4 * line.length);
  });
});
