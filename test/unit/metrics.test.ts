import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/observability/metrics.js';

describe('Metrics.render', () => {
  it('asks the scrape hooks (Redis) and the remotes (the delivery thread) side by side, not one after the other', async () => {
    const metrics = new Metrics({ processMetrics: false });
    let remoteAsked!: () => void;
    const asked = new Promise<void>((resolve) => (remoteAsked = resolve));
    // This hook finishes only once the remote has been asked: one after the other would never end.
    metrics.onScrape(async () => {
      await asked;
      metrics.queueJobs.set({ state: 'waiting' }, 3);
    });
    const remote = new Metrics({ processMetrics: false });
    remote.deliveries.inc({ provider_type: 'generic', outcome: 'success' }, 2);
    metrics.addRemote(async () => {
      remoteAsked();
      return (await remote.registry.getMetricsAsJSON()).filter((metric) => metric.values.length > 0);
    });
    const text = await metrics.render();
    expect(text).toContain('herald_queue_jobs{state="waiting"} 3\n');
    expect(text).toContain('herald_deliveries_total{provider_type="generic",outcome="success"} 2\n');
  });

  it('renders what it has when a hook or a remote fails', async () => {
    const metrics = new Metrics({ processMetrics: false });
    metrics.onScrape(() => Promise.reject(new Error('Redis is down')));
    metrics.addRemote(() => Promise.reject(new Error('the thread is gone')));
    metrics.eventsReceived.inc({ outcome: 'accepted' });
    expect(await metrics.render()).toContain('herald_events_received_total{outcome="accepted"} 1\n');
  });
});
