/**
 * Where deliveries run. With Redis, by default, on a worker thread of their own
 * (delivery-thread.ts): the main thread keeps intake (the events listener, the duplicate
 * filter, the dispatcher's `add`), the thread takes jobs from Redis and delivers them, so one
 * Herald process uses two cores. With the in-process queue (its jobs live in the main thread's
 * memory), or with `--no-delivery-thread`, deliveries run on the main thread as before.
 *
 * The thread gets everything through messages: copies of the resource source's feeds for its
 * own store (store-feed.ts), `start` and `close`; it sends back log lines (written to stdout by
 * the main thread), its metrics on each scrape, dead letters (for the Kubernetes Events the main
 * thread records) and, when asked, each attempt's outcome.
 */
import { Worker } from 'node:worker_threads';
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../observability/logger.js';
import type { MetricsJson } from '../observability/metrics-merge.js';
import type { Metrics } from '../observability/metrics.js';
import type { DeadLetter } from '../resources/source.js';
import { ResourceStore } from '../resources/store.js';
import { HttpClients } from './http-clients.js';
import type { DeliveryQueue } from './queue.js';
import type { RedisConnectionConfig } from './redis-connection.js';
import { FeedingResourceStore, type StoreFeedOp } from './store-feed.js';
import type { DeliveryThreadSettings, FromDeliveryThread, ToDeliveryThread } from './thread-messages.js';
import { createProcessor, type DeliveryOutcome, type DeliveryProcessor } from './worker.js';

/** What the thread is given (see thread-messages.ts), and where deliveries are to run. */
export type DeliverySettings = Omit<DeliveryThreadSettings, 'redis' | 'reportOutcomes'> & {
  /** Set when jobs are in Redis: the thread builds its own queue on the same Redis and prefix. */
  redis?: RedisConnectionConfig;
  /** Deliver on a worker thread (Redis only; ignored for the in-process queue). */
  thread: boolean;
};

export interface DeliveryRuntimeDeps {
  logger: Logger;
  metrics: Metrics;
  /** Writes the thread's log lines (whole JSON lines) where the main thread's go. */
  writeLogs: (text: string) => void;
  /**
   * Told of every delivery attempt's outcome (per Provider "last delivery" and the like). In
   * thread mode they come in batches, one message per turn of the thread's event loop.
   */
  onOutcome?: (outcome: DeliveryOutcome) => void;
  /** The thread died (an uncaught error, or it exited unasked): Herald is to stop. */
  onFailure: (reason: string) => void;
}

export interface DeliveryRuntime {
  /** `thread` or `main`, for logs. */
  readonly where: 'thread' | 'main';
  /** The store the resource source is to feed (in thread mode it passes each feed on to the thread's). */
  readonly store: ResourceStore;
  /**
   * Starts delivering `queue`'s jobs, after the resource source's first load. In thread mode the
   * thread delivers from a queue of its own on the same Redis; `queue` then only takes work.
   */
  start(queue: DeliveryQueue, onDeadLetter?: (letter: DeadLetter, message: string) => void): void;
  /** An operator made a delivery of `provider` due now: its open circuit lets the next attempt through as its probe. */
  probeNow(provider: string): void;
  /** Whether deliveries run; undefined when there is nothing to check beyond the queue (main thread). */
  health(): { ok: boolean; message: string } | undefined;
  /** Lets in-flight deliveries finish and stops the thread; the caller closes `queue` after. */
  close(): Promise<void>;
}

/**
 * `threadAhead`: the delivery thread, already started on the same settings (main.ts starts it
 * before the service's modules load, so that it loads its own meanwhile); taken over here.
 */
export function createDeliveryRuntime(settings: DeliverySettings, deps: DeliveryRuntimeDeps, threadAhead?: DeliveryThreadAhead): DeliveryRuntime {
  if (!settings.redis || !settings.thread) return new MainThreadDelivery(settings, deps);
  const thread = threadAhead ?? startDeliveryThread(settings, settings.redis, deps.onOutcome !== undefined);
  return new ThreadDelivery(thread, settings.noCrossNamespaceRefs, deps);
}

/** A delivery thread started before its runtime exists, and what became of it meanwhile. */
export interface DeliveryThreadAhead {
  readonly worker: Worker;
  /** Set when the thread failed or exited before the runtime took it over. */
  failure?: string;
}

/**
 * Starts the delivery thread for `settings` (Redis and a thread wanted; undefined otherwise).
 * `reportOutcomes`: whether the runtime will be told each attempt's outcome (`onOutcome`).
 */
export function startDeliveryThreadAhead(settings: DeliverySettings, reportOutcomes: boolean): DeliveryThreadAhead | undefined {
  return settings.redis && settings.thread ? startDeliveryThread(settings, settings.redis, reportOutcomes) : undefined;
}

function startDeliveryThread(settings: DeliverySettings, redis: RedisConnectionConfig, reportOutcomes: boolean): DeliveryThreadAhead {
  const { thread: _thread, ...given } = settings;
  const threadSettings: DeliveryThreadSettings = { ...given, redis, reportOutcomes };
  const worker = new Worker(new URL('./delivery-thread.js', import.meta.url), {
    workerData: threadSettings,
    resourceLimits: { maxYoungGenerationSizeMb: THREAD_YOUNG_GENERATION_MB },
  });
  const ahead: DeliveryThreadAhead = { worker };
  // Until the runtime listens: an error with no listener would end the process with a bare stack.
  worker.on('error', (err) => (ahead.failure ??= `uncaught error in the delivery thread: ${err.stack ?? errorMessage(err)}`));
  worker.on('exit', (code) => (ahead.failure ??= `the delivery thread exited (code ${code})`));
  return ahead;
}

class MainThreadDelivery implements DeliveryRuntime {
  readonly where = 'main';
  readonly store: ResourceStore;

  constructor(
    private readonly settings: DeliverySettings,
    private readonly deps: DeliveryRuntimeDeps,
  ) {
    this.store = new ResourceStore({ noCrossNamespaceRefs: settings.noCrossNamespaceRefs, logger: deps.logger });
  }

  private processor?: DeliveryProcessor;

  start(queue: DeliveryQueue, onDeadLetter?: (letter: DeadLetter, message: string) => void): void {
    // undici is loaded on first use (providers/http.ts): here, while the queue starts, rather
    // than by the first delivery. A failure to load surfaces there.
    import('undici').catch(() => undefined);
    queue.start(
      (this.processor = createProcessor({
        store: this.store,
        // Not closed at shutdown: the process exits once the queue has finished its deliveries.
        clients: new HttpClients(this.store),
        metrics: this.deps.metrics,
        logger: this.deps.logger,
        perProviderConcurrency: this.settings.perProviderConcurrency,
        circuit: this.settings.circuit,
        onDeadLetter,
        onOutcome: this.deps.onOutcome,
      })),
    );
  }

  probeNow(provider: string): void {
    this.processor?.probeNow(provider);
  }

  health(): undefined {
    return undefined;
  }

  async close(): Promise<void> {
    // The queue's own close lets the deliveries finish.
  }
}

/**
 * The delivery thread's young generation, at most. V8's default lets it grow to tens of MB
 * under load, on top of the main thread's; a delivery's garbage is short-lived and small.
 * node's `--max-semi-space-size`, when given (`npm start`, the image), wins over this limit.
 */
const THREAD_YOUNG_GENERATION_MB = 8;

/** How long a scrape waits for the thread's metrics before rendering without them. */
const METRICS_WAIT_MS = 1_000;

type ThreadState = 'starting' | 'delivering' | 'closing' | 'closed' | 'failed';

class ThreadDelivery implements DeliveryRuntime {
  readonly where = 'thread';
  readonly store: ResourceStore;
  private readonly worker: Worker;
  private state: ThreadState = 'starting';
  private failure = '';
  private onDeadLetter?: (letter: DeadLetter, message: string) => void;
  /** Feeds gathered in this turn of the event loop, posted together. */
  private feeds: StoreFeedOp[] = [];
  private readonly metricsWaiting = new Map<number, (metrics: MetricsJson) => void>();
  private nextMetricsId = 0;
  private whenClosed?: () => void;

  constructor(
    thread: DeliveryThreadAhead,
    noCrossNamespaceRefs: boolean,
    private readonly deps: DeliveryRuntimeDeps,
  ) {
    this.worker = thread.worker;
    this.worker.on('message', (message: FromDeliveryThread) => this.receive(message));
    this.worker.on('error', (err) => this.fail(`uncaught error in the delivery thread: ${err.stack ?? errorMessage(err)}`));
    this.worker.on('exit', (code) => {
      if (this.state === 'closing' || this.state === 'closed') return this.closed();
      this.fail(`the delivery thread exited (code ${code})`);
    });
    this.store = new FeedingResourceStore({ noCrossNamespaceRefs, logger: deps.logger }, (op) => this.feed(op));
    deps.metrics.addRemote(() => this.collectMetrics());
    if (thread.failure !== undefined) this.fail(thread.failure);
  }

  start(_queue: DeliveryQueue, onDeadLetter?: (letter: DeadLetter, message: string) => void): void {
    this.onDeadLetter = onDeadLetter;
    this.post({ type: 'start', reportDeadLetters: onDeadLetter !== undefined });
  }

  probeNow(provider: string): void {
    this.post({ type: 'probe-now', provider });
  }

  health(): { ok: boolean; message: string } {
    switch (this.state) {
      case 'starting':
        // Not ready until it delivers: a replica that is ready takes its share of the jobs (the
        // thread loads its modules while the main thread loads; it lags it by about a second).
        return { ok: false, message: 'delivery thread starting' };
      case 'delivering':
        return { ok: true, message: 'delivery thread running' };
      case 'failed':
        return { ok: false, message: `delivery thread stopped: ${this.failure}` };
      default:
        return { ok: false, message: 'delivery thread shutting down' };
    }
  }

  async close(): Promise<void> {
    if (this.state === 'failed' || this.state === 'closed') return;
    this.state = 'closing';
    const closed = new Promise<void>((resolve) => (this.whenClosed = resolve));
    this.post({ type: 'close' });
    await closed;
  }

  private receive(message: FromDeliveryThread): void {
    switch (message.type) {
      case 'logs':
        this.deps.writeLogs(message.text);
        break;
      case 'started':
        if (this.state === 'starting') this.state = 'delivering';
        break;
      case 'metrics':
        this.metricsWaiting.get(message.id)?.(message.metrics);
        break;
      case 'dead-letter':
        this.onDeadLetter?.(message.letter, message.message);
        break;
      case 'outcomes':
        for (const outcome of message.outcomes) this.deps.onOutcome?.(outcome);
        break;
      case 'closed':
        // Its deliveries are over; what is left (idle sockets, timers) is not waited for.
        void this.worker.terminate();
        break;
    }
  }

  private closed(): void {
    this.state = 'closed';
    this.whenClosed?.();
  }

  private fail(reason: string): void {
    if (this.state === 'failed' || this.state === 'closed') return;
    this.state = 'failed';
    this.failure = reason;
    this.whenClosed?.();
    this.deps.logger.error({ err: reason }, 'delivery thread failed; Herald stops (jobs in flight are taken up again from Redis)');
    this.deps.onFailure(reason);
  }

  private feed(op: StoreFeedOp): void {
    if (this.feeds.length === 0) setImmediate(() => this.post({ type: 'feed', ops: this.feeds.splice(0) }));
    this.feeds.push(op);
  }

  private post(message: ToDeliveryThread): void {
    if (this.state !== 'failed' && this.state !== 'closed') this.worker.postMessage(message);
  }

  private collectMetrics(): Promise<MetricsJson> {
    if (this.state === 'failed' || this.state === 'closed') return Promise.resolve([]);
    const id = this.nextMetricsId++;
    return new Promise<MetricsJson>((resolve) => {
      const timer = setTimeout(() => done([]), METRICS_WAIT_MS);
      const done = (metrics: MetricsJson) => {
        clearTimeout(timer);
        this.metricsWaiting.delete(id);
        resolve(metrics);
      };
      this.metricsWaiting.set(id, done);
      this.post({ type: 'collect-metrics', id });
    });
  }
}
