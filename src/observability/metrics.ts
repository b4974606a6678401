/**
 * Herald's Prometheus metrics. One registry per process (tests may build several).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { renderMerged, type MetricsJson } from './metrics-merge.js';

export type EventOutcome = 'accepted' | 'invalid' | 'too_large' | 'duplicate' | 'unmatched' | 'unavailable';
export type DeliveryOutcome = 'success' | 'retry' | 'failed' | 'dropped';
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

export class Metrics {
  readonly registry = new Registry();

  readonly eventsReceived = new Counter({
    name: 'herald_events_received_total',
    help: 'Events POSTed to the events address, by outcome.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly jobsEnqueued = new Counter({
    name: 'herald_jobs_enqueued_total',
    help: 'Delivery jobs stored in the queue (one per event and matching Alert).',
    labelNames: ['provider_type'] as const,
    registers: [this.registry],
  });

  readonly deliveries = new Counter({
    name: 'herald_deliveries_total',
    help: 'Delivery attempts by provider type and outcome (success, retry, failed = dead letter, dropped = not for this provider).',
    labelNames: ['provider_type', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly deliveryDuration = new Histogram({
    name: 'herald_delivery_duration_seconds',
    help: 'Time one delivery attempt took, by provider type and outcome.',
    labelNames: ['provider_type', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly deliveryLatency = new Histogram({
    name: 'herald_delivery_latency_seconds',
    help: 'Time from accepting an event to its successful delivery, retries included.',
    labelNames: ['provider_type'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
    registers: [this.registry],
  });

  readonly attemptsPerDelivery = new Histogram({
    name: 'herald_delivery_attempts',
    help: 'Attempts a delivery took until it succeeded or became a dead letter.',
    labelNames: ['provider_type', 'outcome'] as const,
    buckets: [1, 2, 3, 4, 5, 6, 8, 10, 15, 20],
    registers: [this.registry],
  });

  readonly deliveriesDeferred = new Counter({
    name: 'herald_deliveries_deferred_total',
    help: "Deliveries not attempted (no attempt spent) because their Provider's circuit was open; they wait for it to close.",
    labelNames: ['provider_type'] as const,
    registers: [this.registry],
  });

  readonly circuitsOpen = new Gauge({
    name: 'herald_provider_circuits_open',
    help: 'Providers whose circuit is open in this process (unavailable: their deliveries wait for a probe to succeed), by provider type.',
    labelNames: ['provider_type'] as const,
    registers: [this.registry],
  });

  /**
   * Notifications an accepted event matched but that were not queued. `provider_missing`: the
   * matching Alert's Provider does not exist (the Alert's status says ProviderNotFound).
   */
  readonly eventsDropped = new Counter({
    name: 'herald_events_dropped_total',
    help: 'Notifications for a matching Alert that were not queued, by reason (provider_missing: the Alert names a Provider that does not exist).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly deadLetters = new Counter({
    name: 'herald_dead_letters_total',
    help: 'Deliveries that used up their attempts or failed permanently, kept as dead letters.',
    labelNames: ['provider_type'] as const,
    registers: [this.registry],
  });

  readonly replays = new Counter({
    name: 'herald_replays_total',
    help: 'Dead letters put back in the queue through the admin API.',
    labelNames: ['provider_type'] as const,
    registers: [this.registry],
  });

  readonly replaysSkipped = new Counter({
    name: 'herald_replays_skipped_total',
    help: 'Dead letters a bulk replay skipped because they changed state meanwhile (replayed or purged by someone else).',
    registers: [this.registry],
  });

  readonly redisDataLoss = new Counter({
    name: 'herald_redis_data_loss_total',
    help: "Times Redis was found to have lost Herald's data (e.g. restarted without persistence): jobs stored then are gone.",
    registers: [this.registry],
  });

  readonly deadLettersPurged = new Counter({
    name: 'herald_dead_letters_purged_total',
    help: 'Dead letters deleted through the admin API.',
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'herald_http_request_duration_seconds',
    help: 'HTTP requests served, by listener, route, method and status code.',
    labelNames: ['server', 'route', 'method', 'code'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly queueJobs = new Gauge({
    name: 'herald_queue_jobs',
    help: 'Jobs in the delivery queue by state (failed = dead letters).',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });

  readonly resources = new Gauge({
    name: 'herald_resources',
    help: 'Providers, Alerts and Receivers known to Herald, by kind and Ready status.',
    labelNames: ['kind', 'ready'] as const,
    registers: [this.registry],
  });

  /**
   * Node's and the process's own metrics (prom-client's defaults), in a registry of their own: a
   * scrape collects them (reading `/proc`, the event loop delay's histogram: most of a scrape's
   * CPU) while it waits for Redis and the delivery thread, which they do not depend on.
   */
  private readonly processRegistry?: Registry;

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics ?? true) {
      this.processRegistry = new Registry();
      collectDefaultMetrics({ register: this.processRegistry });
    }
    // Shown at 0 from the start, so an alert rule on it has a series before the first drop.
    this.eventsDropped.inc({ reason: 'provider_missing' }, 0);
  }

  /** Refreshes gauges whose values live elsewhere, right before a scrape. */
  onScrape(refresh: () => Promise<void>): void {
    this.scrapeHooks.push(refresh);
  }

  /** Adds metrics recorded in another registry (the delivery thread's) to each scrape. */
  addRemote(collect: () => Promise<MetricsJson>): void {
    this.remotes.push(collect);
  }

  async render(): Promise<string> {
    // Side by side: the hooks wait for Redis, the remotes for the delivery thread, and a scrape
    // should wait for the slower of the two only.
    const asked = Promise.all([
      Promise.all(this.scrapeHooks.map((hook) => hook().catch(() => undefined))),
      Promise.all(this.remotes.map((collect) => collect().catch((): MetricsJson => []))),
    ]);
    // Collected and formatted while the answers are on the way: in the next turn of the event
    // loop, once the questions are written (Redis's takes a few microtasks to leave).
    const processRegistry = this.processRegistry;
    const processText = processRegistry && new Promise<string>((resolve, reject) => setImmediate(() => processRegistry.metrics().then(resolve, reject)));
    // Awaited below; until then a failure must not count as an unhandled rejection.
    processText?.catch(() => undefined);
    const [, remote] = await asked;
    const ownText = await (remote.length === 0 ? this.registry.metrics() : renderMerged(this.registry, remote));
    // Each text ends with a newline; a blank line between metrics, as within one registry.
    return processText ? `${ownText}\n${await processText}` : ownText;
  }

  private readonly scrapeHooks: Array<() => Promise<void>> = [];
  private readonly remotes: Array<() => Promise<MetricsJson>> = [];
}
