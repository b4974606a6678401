import { AggregatorRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { renderMerged, type MetricsJson } from '../../src/observability/metrics-merge.js';
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

  it("renders the process's own metrics with Herald's, one blank line between any two", async () => {
    const metrics = new Metrics();
    metrics.eventsReceived.inc({ outcome: 'accepted' });
    const text = await metrics.render();
    expect(text).toContain('herald_events_received_total{outcome="accepted"} 1\n');
    expect(text).toMatch(/\n\n# HELP process_cpu_user_seconds_total /);
    expect(text).not.toMatch(/\n\n\n/);
    expect(text.endsWith('\n') && !text.endsWith('\n\n')).toBe(true);
  });

  it('renders what it has when a hook or a remote fails', async () => {
    const metrics = new Metrics({ processMetrics: false });
    metrics.onScrape(() => Promise.reject(new Error('Redis is down')));
    metrics.addRemote(() => Promise.reject(new Error('the thread is gone')));
    metrics.eventsReceived.inc({ outcome: 'accepted' });
    expect(await metrics.render()).toContain('herald_events_received_total{outcome="accepted"} 1\n');
  });
});

describe('renderMerged', () => {
  /** What prom-client's own aggregation makes of the same copies: the reference the merge must equal. */
  async function aggregated(main: Metrics, thread: MetricsJson): Promise<Map<string, string>> {
    const names = new Set(thread.map((metric) => metric.name));
    const own = await Promise.all([...names].flatMap((name) => main.registry.getSingleMetric(name)?.get() ?? []));
    const merged = AggregatorRegistry.aggregate([own as MetricsJson, thread]);
    return new Map(await Promise.all([...names].map(async (name) => [name, await merged.getSingleMetricAsString(name)] as const)));
  }

  it('sums what the delivery thread recorded into the series, exactly as prom-client aggregates them', async () => {
    const main = new Metrics({ processMetrics: false });
    const thread = new Metrics({ processMetrics: false });
    main.deliveries.inc({ provider_type: 'generic', outcome: 'success' }, 1);
    thread.deliveries.inc({ provider_type: 'generic', outcome: 'success' }, 2);
    thread.deliveries.inc({ provider_type: 'slack', outcome: 'retry' }, 3);
    main.deliveryDuration.observe({ provider_type: 'generic', outcome: 'success' }, 0.02);
    thread.deliveryDuration.observe({ provider_type: 'generic', outcome: 'success' }, 0.3);
    thread.deliveryDuration.observe({ provider_type: 'msteams', outcome: 'failed' }, 12);
    thread.circuitsOpen.set({ provider_type: 'generic' }, 1);
    main.circuitsOpen.set({ provider_type: 'generic' }, 2);
    // A label value that needs escaping, and a metric only the thread has.
    thread.deadLetters.inc({ provider_type: 'a "quoted"\\path\nline' });
    main.eventsReceived.inc({ outcome: 'accepted' }, 5);
    const recorded = (await thread.registry.getMetricsAsJSON()).filter((metric) => metric.values.length > 0);

    const text = await renderMerged(main.registry, [recorded]);
    const expected = await aggregated(main, recorded);
    for (const [name, block] of expected) expect(text, name).toContain(`${block}\n`);
    expect(text).toContain('herald_deliveries_total{provider_type="generic",outcome="success"} 3\n');
    expect(text).toContain('herald_delivery_duration_seconds_count{provider_type="generic",outcome="success"} 2\n');
    expect(text).toContain('herald_provider_circuits_open{provider_type="generic"} 3\n');
    // The rest as the registry renders it, each metric once, in the registry's order.
    expect(text).toContain(`${await main.registry.getSingleMetricAsString('herald_events_received_total')}\n`);
    expect(text.match(/^# TYPE herald_deliveries_total counter$/gm)).toHaveLength(1);
    const order = [...text.matchAll(/^# TYPE (\S+)/gm)].map((match) => match[1]);
    expect(order).toEqual(main.registry.getMetricsAsArray().map((metric) => metric.name));
    expect(text.endsWith('\n')).toBe(true);
  });
});
