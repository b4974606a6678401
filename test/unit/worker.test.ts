import { afterEach, describe, expect, it } from 'vitest';
import type { DeliveryJob } from '../../src/delivery/job.js';
import { DeferError, type AttemptInfo } from '../../src/delivery/queue.js';
import { createProcessor } from '../../src/delivery/worker.js';
import { createLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { ResourceStore } from '../../src/resources/store.js';
import type { Provider } from '../../src/resources/types.js';
import { kustomizationEvent } from '../support/events.js';
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
const stores: ResourceStore[] = [];
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

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
    stores.push(store);
    store.replaceAll([provider(`${sink.url}/one`)], []);
    const oldClient = store.provider(NS, 'hook')?.http;
    const deliver = createProcessor({ store, metrics: new Metrics(), logger: createLogger('silent'), perProviderConcurrency: 1 });

    const info = (id: string): AttemptInfo => ({ id, attempt: 8, finalAttempt: true });
    const first = deliver(job('first'), info('1'));
    await sink.waitFor(1);
    // The second resolves the Provider now, then waits for the only slot (at most 250 ms).
    const second = deliver(job('second'), info('2'));
    // The Provider is edited while both are in flight: its old HTTP client is closed.
    store.replaceAll([provider(`${sink.url}/two`)], []);
    await until(() => store.provider(NS, 'hook')?.http !== oldClient, { timeoutMs: 200, intervalMs: 1, what: 'the new client swapped in' });
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
});
