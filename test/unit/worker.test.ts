import { afterEach, describe, expect, it } from 'vitest';
import type { DeliveryJob } from '../../src/delivery/job.js';
import { DeferError, ProviderPausedError, RetryableError, type AttemptInfo } from '../../src/delivery/queue.js';
import { HttpClients } from '../../src/delivery/http-clients.js';
import { createProcessor } from '../../src/delivery/worker.js';
import { createLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { ResourceStore } from '../../src/resources/store.js';
import type { Alert, Provider } from '../../src/api/types.js';
import { kustomizationEvent } from '../support/events.js';
import { decodeTraceExport, startOtlpReceiver } from '../support/otlp-receiver.js';
import { freePort } from '../support/herald.js';
import { startSink, type Sink } from '../support/sink.js';
import { until } from '../support/wait.js';

const NS = 'flux-system';

function provider(address: string): Provider {
  return {
    apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
    kind: 'Provider',
    metadata: { name: 'hook', namespace: NS },
    spec: { type: 'generic', address },
  };
}

const job = (message: string): DeliveryJob => ({
  alert: `${NS}/a`,
  provider: `${NS}/hook`,
  providerType: 'generic',
  event: kustomizationEvent({ message }),
  acceptedAt: Date.now(),
});

const sinks: Sink[] = [];
const caches: HttpClients[] = [];
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
  await Promise.all(caches.splice(0).map((c) => c.close()));
});

function clientsOf(store: ResourceStore): HttpClients {
  const clients = new HttpClients(store);
  caches.push(clients);
  return clients;
}

describe('createProcessor', () => {
  it('does not spend an attempt (or make a dead letter) when the Provider changes under a delivery and its HTTP client is closed', async () => {
    // The first request is held at the sink until the store has swapped the Provider's client,
    // so the second, which resolved the Provider before the change, always sends on the closed
    // client: the deferral path is exercised every time, not only when the timing allows.
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
    const sink = await startSink(async (_req, index) => {
      if (index === 0) await firstHeld;
      return { status: 200 };
    });
    sinks.push(sink);
    const store = new ResourceStore();
    store.replaceAll([provider(`${sink.url}/one`)], []);
    const oldConfig = store.provider(NS, 'hook')?.configHash;
    const deliver = createProcessor({ store, clients: clientsOf(store), metrics: new Metrics(), logger: createLogger('silent'), perProviderConcurrency: 1 });

    const info = (id: string): AttemptInfo => ({ id, attempt: 8, finalAttempt: true });
    const first = deliver(job('first'), info('1'));
    await sink.waitFor(1);
    // The second resolves the Provider now, then waits for the only slot (at most 250 ms).
    const second = deliver(job('second'), info('2'));
    // The Provider is edited while both are in flight: its old HTTP client is closed.
    store.replaceAll([provider(`${sink.url}/two`)], []);
    await until(() => store.provider(NS, 'hook')?.configHash !== oldConfig, { timeoutMs: 200, intervalMs: 1, what: 'the new configuration swapped in' });
    releaseFirst();

    await expect(first).resolves.toBeUndefined();
    const outcome = await second.then(
      () => 'delivered',
      (err: unknown) => err,
    );
    // Deferred for the configuration change (a short delay), not for a busy slot (500 ms or more) nor failed.
    expect(outcome).toBeInstanceOf(DeferError);
    expect((outcome as DeferError).delayMs).toBeLessThan(500);
    expect(sink.requests.map((r) => r.url)).toEqual(['/one']);
  });

  it('tells onDeadLetter once, with the reason, when a delivery fails for good, and not when it will be retried', async () => {
    let status = 500;
    const sink = await startSink(async () => ({ status }));
    sinks.push(sink);
    const store = new ResourceStore();
    store.replaceAll([provider(`${sink.url}/hook`)], []);
    const letters: Array<{ alert: string; message: string }> = [];
    const deliver = createProcessor({
      store,
      clients: clientsOf(store),
      metrics: new Metrics(),
      logger: createLogger('silent'),
      perProviderConcurrency: 1,
      onDeadLetter: (dead, message) => letters.push({ alert: dead.alert, message }),
    });

    await expect(deliver(job('retried'), { id: '1', attempt: 1, finalAttempt: false })).rejects.toThrow();
    expect(letters).toEqual([]);
    await expect(deliver(job('last try'), { id: '2', attempt: 9, finalAttempt: true })).rejects.toThrow();
    status = 400;
    await expect(deliver(job('refused'), { id: '3', attempt: 1, finalAttempt: false })).rejects.toThrow();
    expect(letters).toHaveLength(2);
    expect(letters[0]).toMatchObject({ alert: `${NS}/a`, message: expect.stringContaining('500') });
    expect(letters[1]).toMatchObject({ alert: `${NS}/a`, message: expect.stringContaining('400') });
  });
});

describe('createProcessor: the Alert goes to the adapter', () => {
  it('passes the matched Alert’s namespace, name and uid (otel’s resource and trace id)', async () => {
    const receiver = await startOtlpReceiver();
    const store = new ResourceStore();
    const uid = '9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a';
    const otelProvider: Provider = { ...provider(`${receiver.url}/v1/traces`), spec: { type: 'otel', address: `${receiver.url}/v1/traces` } };
    const alert: Alert = {
      apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
      kind: 'Alert',
      metadata: { name: 'a', namespace: NS, uid },
      spec: { providerRef: { name: 'hook' }, eventSources: [{ kind: 'Kustomization', name: '*' }] },
    };
    store.replaceAll([otelProvider, alert], []);
    const deliver = createProcessor({ store, clients: clientsOf(store), metrics: new Metrics(), logger: createLogger('silent'), perProviderConcurrency: 1 });
    try {
      await deliver({ ...job('traced'), providerType: 'otel' }, { id: '1', attempt: 1, finalAttempt: true });
      expect(receiver.requests).toHaveLength(1);
      const resource = decodeTraceExport(receiver.requests[0]!.body).resource_spans[0]!.resource;
      expect(resource.attributes.map((kv) => [kv.key, kv.value.string_value])).toEqual([
        ['service.name', `${NS}/a`],
        ['service.namespace', NS],
        ['service.instance.id', uid],
      ]);
    } finally {
      await receiver.close();
    }
  });
});

describe('createProcessor: per-Provider circuit breaker', () => {
  it("opens a refusing Provider's circuit: its next deliveries are paused (no attempt spent) until a probe, which a success closes", async () => {
    const store = new ResourceStore();
    const port = await freePort(); // nothing listens there
    store.replaceAll([provider(`http://127.0.0.1:${port}/hook`)], []);
    const metrics = new Metrics({ processMetrics: false });
    const deliver = createProcessor({ store, clients: clientsOf(store), metrics, logger: createLogger('silent'), perProviderConcurrency: 4, circuit: { threshold: 2, initialCooldownMs: 100 } });
    const info = (id: string): AttemptInfo => ({ id, attempt: 1, finalAttempt: false });
    const outcome = (p: Promise<void>) => p.then(() => 'delivered', (err: unknown) => (err instanceof ProviderPausedError ? 'paused' : err instanceof RetryableError ? 'retry' : String(err)));

    expect(await outcome(deliver(job('1'), info('1')))).toBe('retry');
    expect(await outcome(deliver(job('2'), info('2')))).toBe('retry');
    expect(await outcome(deliver(job('3'), info('3')))).toBe('paused');
    expect(await metrics.render()).toContain('herald_deliveries_deferred_total{provider_type="generic"} 1');
    // The provider comes back; after the cooldown one probe goes, and its success closes the circuit.
    const sink = await startSink(() => ({ status: 200 }));
    sinks.push(sink);
    store.replaceAll([provider(`${sink.url}/hook`)], []);
    await new Promise((r) => setTimeout(r, 120));
    expect(await outcome(deliver(job('3'), info('3')))).toBe('delivered');
    expect(await outcome(deliver(job('4'), info('4')))).toBe('delivered');
    expect(await metrics.render()).toContain('herald_provider_circuits_open{provider_type="generic"} 0');
  });
});
