/**
 * The delivery thread (see delivery-runtime.ts): BullMQ's worker and the delivery processor,
 * on a JavaScript thread of their own so that intake and delivery each get a core. It keeps
 * its own resource store, fed with copies of what the main thread's source reads, and its own
 * metrics registry, collected into each scrape. It writes nothing but deliveries: statuses and
 * Kubernetes Events stay with the main thread, which it tells of each dead letter.
 */
import { parentPort, workerData } from 'node:worker_threads';
// Delivering is this thread's work: undici (loaded on first use, providers/http.ts) comes with
// its modules at start, not with its first delivery.
import 'undici';
import { setOwnListeners } from '../../providers/own-listeners.js';
import { Gathered } from '../observability/gathered.js';
import { createLogger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { ResourceStore } from '../resources/store.js';
import { HttpClients } from './http-clients.js';
import { RedisQueue, producerConnection } from './redis-queue.js';
import { DeliveryAlerts, StoreFeedApplier } from './store-feed.js';
import { PostedLogDestination, type DeliveryThreadSettings, type FromDeliveryThread, type ToDeliveryThread } from './thread-messages.js';
import { createProcessor, type DeliveryOutcome } from './worker.js';

if (!parentPort) throw new Error('delivery-thread.js runs as a worker thread of Herald, not on its own');
const port = parentPort;
const settings = workerData as DeliveryThreadSettings;
const post = (message: FromDeliveryThread) => port.postMessage(message);

const logs = new PostedLogDestination((text) => post({ type: 'logs', text }));
const logger = createLogger(settings.logLevel, logs);
setOwnListeners(settings.ownListeners);
// Process metrics (memory, CPU, event loop) come from the main thread, for the whole process.
const metrics = new Metrics({ processMetrics: false });
// No logger: the main thread's store logs each resource's transitions already.
const store = new ResourceStore({ noCrossNamespaceRefs: settings.noCrossNamespaceRefs });
const alerts = new DeliveryAlerts();
const feeds = new StoreFeedApplier(store, alerts);

/**
 * Outcomes waiting for one post, at most: far above what 10 ms of deliveries make, only a bound
 * on memory (beyond it the admin API's rates would undercount).
 */
const MAX_GATHERED_OUTCOMES = 10_000;
/** Outcomes for the main thread, posted together as the log lines are (see gathered.ts). */
const outcomes = new Gathered<DeliveryOutcome>((gathered) => post({ type: 'outcomes', outcomes: gathered }), () => MAX_GATHERED_OUTCOMES);
const reportOutcome = (outcome: DeliveryOutcome) => outcomes.add(outcome);

// Whatever ends the thread (an uncaught error included), the lines and outcomes gathered still
// reach the main thread: messages posted while the thread exits are delivered.
process.once('exit', () => {
  outcomes.flush();
  logs.flush();
});

let startRequested: { reportDeadLetters: boolean } | undefined;
let closing = false;
let running: { close(): Promise<void>; probeNow(provider: string): void } | undefined;

/** Starts the queue's worker once asked to and the store holds the first snapshot (no delivery may find its Provider missing). */
function startWhenLoaded(): void {
  if (running || closing || !startRequested || !store.loaded) return;
  const producer = producerConnection(settings.redis, logger);
  const queue = new RedisQueue({
    url: settings.redis,
    producer,
    prefix: settings.prefix,
    policy: settings.policy,
    concurrency: settings.concurrency,
    perProviderConcurrency: settings.perProviderConcurrency,
    logger,
    stalledIntervalMs: settings.stalledIntervalMs,
  });
  const processor = createProcessor({
      store,
      clients: new HttpClients(store),
      metrics,
      logger,
      perProviderConcurrency: settings.perProviderConcurrency,
      circuit: settings.circuit,
      alertOf: (key) => alerts.get(key),
      onDeadLetter: startRequested.reportDeadLetters
        ? (job, message) => post({ type: 'dead-letter', letter: { alert: job.alert, event: { involvedObject: job.event.involvedObject } }, message })
        : undefined,
      onOutcome: settings.reportOutcomes ? reportOutcome : undefined,
  });
  queue.start(processor);
  running = {
    probeNow: (provider) => processor.probeNow(provider),
    async close() {
      await queue.close();
      producer.disconnect();
    },
  };
  post({ type: 'started' });
}

async function close(): Promise<void> {
  if (closing) return;
  closing = true;
  await running?.close();
  outcomes.flush();
  logs.flush();
  post({ type: 'closed' });
  port.close();
}

port.on('message', (message: ToDeliveryThread) => {
  switch (message.type) {
    case 'feed':
      void feeds.apply(message.ops).then(startWhenLoaded);
      break;
    case 'start':
      startRequested = { reportDeadLetters: message.reportDeadLetters };
      startWhenLoaded();
      break;
    case 'collect-metrics':
      void metrics.registry.getMetricsAsJSON().then((all) => {
        // Only what this thread recorded: the main thread has every metric's help and type.
        post({ type: 'metrics', id: message.id, metrics: all.filter((metric) => metric.values.length > 0) });
      });
      break;
    case 'probe-now':
      running?.probeNow(message.provider);
      break;
    case 'close':
      void close();
      break;
  }
});
