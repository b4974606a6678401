/**
 * `herald serve` (the default command): reads the flags, wires the resource store, queue,
 * deliveries and listeners together, and shuts down cleanly on SIGTERM.
 */
import type { FastifyInstance } from 'fastify';
import { setOwnListeners } from '../providers/own-listeners.js';
import { parseObjectKey } from './api/types.js';
import { ConfigError, USAGE_HINT, loadConfig, usage, version, type Config, type ListenAddress } from './config.js';
import { createDeliveryRuntime, type DeliveryRuntime, type DeliveryThreadAhead } from './delivery/delivery-runtime.js';
import { deliverySettings, retryPolicy } from './delivery-settings.js';
import { EventDispatcher } from './delivery/dispatcher.js';
import { HttpClients } from './delivery/http-clients.js';
import { MemoryQueue } from './delivery/memory-queue.js';
import type { DeliveryQueue } from './delivery/queue.js';
import { RedisWatch, describeRedis, type RedisClient } from './delivery/redis-connection.js';
import { RedisQueue, producerConnection } from './delivery/redis-queue.js';
import type { DeliveryOutcome } from './delivery/worker.js';
import { startImageAutomation } from './image-automation.js';
import { abandonPendingLogs, createLogger, flushLogs, stdoutDestination, type Logger } from './observability/logger.js';
import { Metrics, QUEUE_STATES } from './observability/metrics.js';
import { googleIdTokenVerifier } from './receivers/gcr-token.js';
import { remoteSigningKeys } from './receivers/id-token.js';
import { ReceiverRegistry } from './receivers/registry.js';
import type { RequestReconcile } from './receivers/routes.js';
import { memoryTargetResolver, type TargetResolver } from './receivers/targets.js';
import type { TargetObject } from './receivers/types.js';
import { ManifestDirectoryError, type DirectoryReadAhead } from './resources/dir-source.js';
import { startResourceSource } from './resources/source.js';
import type { ResourceStore } from './resources/store.js';
import { MemoryDuplicateFilter, RedisDuplicateFilter, type DuplicateFilter } from './server/duplicate-filter.js';
import { buildAdminServer } from './server/admin.js';
import { DeliveryActivity } from './server/admin-activity.js';
import { ProviderTester } from './server/admin-test-send.js';
import { buildEventsServer } from './server/events.js';
import { OPS_LISTENER_LIMITS, openFileLimit, type ListenerLimits } from './server/base.js';
import { buildHealthServer, buildMetricsServer, type ReadinessCheck } from './server/ops.js';
import { RECEIVER_LISTENER_LIMITS, buildReceiverServer } from './server/receivers.js';

interface Queueing {
  queue: DeliveryQueue;
  duplicates: DuplicateFilter;
  /** The producer connection, when queueing in Redis: image automation keeps its tags and refs there too. */
  redis?: RedisClient;
  /** Readiness checks of the queue's backing store beyond reachability (Redis: writable, data kept). */
  checks(): ReadinessCheck[];
  disconnect(): void;
}

function createQueueing(config: Config, logger: Logger, metrics: Metrics): Queueing {
  const policy = retryPolicy(config);
  if (!config.redis) {
    const duplicates = new MemoryDuplicateFilter(config.rateLimitIntervalMs);
    return {
      queue: new MemoryQueue({
        policy,
        concurrency: config.workerConcurrency,
        perProviderConcurrency: config.providerConcurrency,
        maxHeldJobs: config.maxQueuedJobs,
        maxHeldBytes: config.maxQueuedBytes,
      }),
      duplicates,
      checks: () => [],
      disconnect: () => duplicates.close(),
    };
  }
  const producer = producerConnection(config.redis, logger);
  const watch = new RedisWatch(producer, { prefix: config.redisPrefix, logger, onDataLoss: () => metrics.redisDataLoss.inc() });
  watch.start();
  return {
    queue: new RedisQueue({
      url: config.redis,
      producer,
      prefix: config.redisPrefix,
      policy,
      concurrency: config.workerConcurrency,
      perProviderConcurrency: config.providerConcurrency,
      logger,
      stalledIntervalMs: config.stalledIntervalMs,
    }),
    duplicates: new RedisDuplicateFilter(producer, config.rateLimitIntervalMs, config.redisPrefix),
    redis: producer,
    checks: () => {
      const status = watch.status();
      return [{ name: 'redis', ok: status.writable, message: status.message }];
    },
    disconnect: () => {
      watch.stop();
      producer.disconnect();
    },
  };
}

/** Herald could not start with a configuration that is valid as given (exit 1, not a usage error). */
class StartupError extends Error {}

/** Listens, turning a busy or forbidden address into a message that names the flag. */
async function listen(app: FastifyInstance, addr: ListenAddress, flag: string): Promise<void> {
  try {
    await app.listen({ host: addr.host, port: addr.port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'EADDRINUSE' ? 'address already in use' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new StartupError(`--${flag} ${addr.host}:${addr.port}: ${reason}`);
  }
}

/** How long the last log lines may take to reach stdout at exit. */
const LOG_FLUSH_MS = 1_000;

/** File descriptors kept free for everything but the listeners: Redis, provider connections, manifests, the runtime. */
const FD_RESERVE = 256;

/**
 * The listeners' limits. The events listener's connection cap is lowered, with a warning, to
 * leave descriptors for the other listeners and the deliveries: a flood of connections must
 * not take `/healthz` or the Redis connections down with it.
 */
function listenerLimits(config: Config, logger: Logger): { events: ListenerLimits; ops: ListenerLimits; receiver: ListenerLimits } {
  const timeouts = { requestTimeoutMs: config.requestTimeoutMs, keepAliveTimeoutMs: config.keepAliveTimeoutMs };
  const ops = { ...timeouts, maxConnections: OPS_LISTENER_LIMITS.maxConnections };
  const receiver = { ...RECEIVER_LISTENER_LIMITS, ...timeouts };
  let eventsMax = config.eventsMaxConnections;
  const fdLimit = openFileLimit();
  if (fdLimit !== undefined) {
    const fits = Math.max(16, fdLimit - FD_RESERVE - 2 * config.workerConcurrency - 3 * ops.maxConnections - receiver.maxConnections);
    if (eventsMax > fits) {
      logger.warn(
        { requested: eventsMax, openFileLimit: fdLimit, eventsMaxConnections: fits },
        'the events connection cap does not fit the open-file limit (ulimit -n); lowered',
      );
      eventsMax = fits;
    }
  }
  return { events: { ...timeouts, maxConnections: eventsMax, maxBodyBytesInFlight: config.eventsBodyMemoryBytes }, ops, receiver };
}

/**
 * Where a Receiver's targets are and what asking for their reconcile means: in Kubernetes mode a
 * `reconcile.fluxcd.io/requestedAt` patch of each; in manifests mode the objects of the
 * directory, and nothing to annotate (the module's metrics count the request).
 */
async function receiverBackend(
  kubeConfig: Awaited<ReturnType<typeof startResourceSource>>['kubeConfig'],
  store: ResourceStore,
): Promise<{ targets: TargetResolver; requestReconcile: RequestReconcile }> {
  if (kubeConfig) {
    const { kubernetesReceiverTargets } = await import('./receivers/kubernetes.js');
    return kubernetesReceiverTargets(kubeConfig);
  }
  return { targets: memoryTargetResolver(() => store.objects() as Iterable<TargetObject>), requestReconcile: async () => {} };
}

/** Work main.ts began before this module loaded, on the same flags. */
export interface StartedAhead {
  /** The `--config-dir` read and parse. */
  manifests?: DirectoryReadAhead;
  /** The delivery thread, loading its modules meanwhile. */
  deliveryThread?: DeliveryThreadAhead;
}

async function run(config: Config, ahead: StartedAhead): Promise<void> {
  const destination = stdoutDestination();
  const logger = createLogger(config.logLevel, destination);
  try {
    await serve(config, logger, (text) => destination.write(text), ahead);
  } catch (err) {
    // Startup failed: what was logged so far (manifest problems, say) still reaches stdout.
    await flushLogs(logger, LOG_FLUSH_MS);
    throw err;
  }
}

/**
 * Where deliveries run (see delivery-runtime.ts); `onFailure` is told when the delivery thread
 * dies. `threadAhead`: the delivery thread, started by main.ts before this module loaded.
 */
function startDeliveryRuntime(
  config: Config,
  deps: { logger: Logger; metrics: Metrics; writeLogs: (text: string) => void; onOutcome: (outcome: DeliveryOutcome) => void; onFailure: () => void },
  threadAhead?: DeliveryThreadAhead,
): DeliveryRuntime {
  const settings = deliverySettings(config);
  setOwnListeners(settings.ownListeners);
  return createDeliveryRuntime(settings, deps, threadAhead);
}

async function serve(config: Config, logger: Logger, writeLogs: (text: string) => void, ahead: StartedAhead): Promise<void> {
  const metrics = new Metrics();
  // Set when the delivery thread dies: Herald then stops, and exits non-zero.
  let deliveryFailed = false;
  let shutdown: ((signal: string) => Promise<void>) | undefined;
  // The admin API's last delivery per Provider and rates, fed by every delivery's outcome.
  const activity = new DeliveryActivity((key) => store.provider(...parseObjectKey(key)) !== undefined);
  const onFailure = () => {
    deliveryFailed = true;
    // Before the listeners are up, the end of startup shuts down instead.
    void shutdown?.('delivery thread failure');
  };
  const delivery = startDeliveryRuntime(config, { logger, metrics, writeLogs, onOutcome: activity.record, onFailure }, ahead.deliveryThread);
  const store = delivery.store;
  store.on('changed', () => activity.lastDeliveries.prune());
  const source = await startResourceSource(config, store, logger, ahead.manifests);
  const { queue, duplicates, redis, checks, disconnect } = createQueueing(config, logger, metrics);
  const limits = listenerLimits(config, logger);
  const receivers = new ReceiverRegistry(store, { logger, reportedWebhookPath: source.reportedWebhookPath, events: source.receiverEvents });
  store.addStatusSource(() => receivers.statuses());

  delivery.start(queue, source.onDeadLetter);
  const dispatcher = new EventDispatcher({ store, queue, metrics, logger, labels: source.labels, alertEvents: source.alertEvents });

  const images = startImageAutomation({
    store,
    dispatcher,
    redis,
    config,
    logger,
    queueReady: () => queue.ready(),
    // Kubernetes mode: the image objects come from the API, and the Lease holder does the work.
    kubernetes: source.kubeConfig && { kubeConfig: source.kubeConfig, watchNamespace: config.watchNamespace },
  });

  metrics.onScrape(async () => {
    const counts = await queue.counts();
    for (const state of QUEUE_STATES) metrics.queueJobs.set({ state }, counts[state]);
  });
  metrics.onScrape(async () => {
    metrics.resources.reset();
    for (const { kind, ready, count } of store.readyCounts()) metrics.resources.set({ kind, ready }, count);
  });

  const events = buildEventsServer({ dispatcher, duplicates, metrics, logger, limits: limits.events });
  const metricsServer = buildMetricsServer({ metrics, logger, limits: limits.ops });
  const resourceStatuses = () => {
    const statuses = store.statuses();
    return { ...statuses, resources: [...statuses.resources, ...images.statuses()] };
  };
  const health = buildHealthServer({
    metrics,
    logger,
    readiness: () => [
      { name: 'resources', ok: store.loaded, message: store.loaded ? `${source.kind} loaded` : `${source.kind} not loaded yet` },
      {
        name: 'queue',
        ok: queue.ready(),
        message: queue.ready() ? `${queue.kind} queue reachable` : `${queue.kind} queue not reachable`,
      },
      ...checks(),
      ...[delivery.health()].filter((check) => check !== undefined).map((check) => ({ name: 'delivery', ...check })),
    ],
    limits: limits.ops,
    resourceStatuses,
  });
  const admin = buildAdminServer({
    queue,
    metrics,
    logger,
    token: config.adminToken,
    listenHost: config.adminAddr.host,
    allowedHosts: config.adminAllowedHosts,
    limits: limits.ops,
    explain: { store, labels: source.labels },
    resourceStatuses,
    activity,
    // Its own HTTP clients: test sends run on the main thread, wherever deliveries run.
    tester: new ProviderTester({ store, clients: new HttpClients(store), logger }),
    onRetryNow: (provider) => delivery.probeNow(provider),
  });
  const receiverServer = buildReceiverServer({
    receivers,
    ...(await receiverBackend(source.kubeConfig, store)),
    logger,
    metrics,
    noCrossNamespaceRefs: config.noCrossNamespaceRefs,
    idTokens: googleIdTokenVerifier(remoteSigningKeys(config.gcrJwksUrl)),
    listener: limits.receiver,
    onVerified: (receiver) => receivers.noteRequest(receiver),
  });
  await Promise.all([
    listen(events, config.eventsAddr, 'events-addr'),
    listen(receiverServer, config.receiverAddr, 'receiver-addr'),
    listen(metricsServer, config.metricsAddr, 'metrics-addr'),
    listen(health, config.healthAddr, 'health-addr'),
    listen(admin, config.adminAddr, 'admin-addr'),
  ]);
  logger.info(
    {
      events: config.eventsAddr,
      metrics: config.metricsAddr,
      health: config.healthAddr,
      admin: config.adminAddr,
      receiver: config.receiverAddr,
      queue: queue.kind,
      delivery: delivery.where,
      redis: config.redis ? describeRedis(config.redis) : undefined,
      configDir: config.configDir,
    },
    queue.kind === 'memory'
      ? 'herald started with the in-process queue: single replica, deliveries are lost on restart (set --redis-url for durability)'
      : 'herald started',
  );

  let stopping = false;
  shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: no new events; finishing in-flight deliveries');
    // Bounds every way out, whatever hangs: a delivery, Redis, a listener, or stdout itself.
    const deadline = setTimeout(() => {
      logger.error('shutdown did not finish in time; exiting (Redis jobs are picked up again by another replica)');
      abandonPendingLogs(logger);
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    await Promise.all([events.close(), receiverServer.close()]);
    // Before the queue: a reconcile under way still hands its event to the dispatcher.
    await images.close();
    await delivery.close();
    await queue.close();
    if (queue.kind === 'memory') await logLostDeliveries(queue, logger);
    await source.close();
    disconnect();
    await Promise.all([metricsServer.close(), health.close(), admin.close()]);
    logger.info('herald stopped');
    await flushLogs(logger, LOG_FLUSH_MS);
    process.exit(deliveryFailed ? 1 : 0);
  };
  process.on('SIGTERM', (s) => void shutdown?.(s));
  process.on('SIGINT', (s) => void shutdown?.(s));
  if (deliveryFailed) void shutdown('delivery thread failure');
}

/** The in-process queue keeps nothing across a restart: say what this stop loses. */
async function logLostDeliveries(queue: DeliveryQueue, logger: Logger): Promise<void> {
  const { waiting, active, delayed, failed } = await queue.counts();
  const pending = waiting + active + delayed;
  const fields = { pending, waiting, delayed, deadLetters: failed };
  if (pending + failed === 0) logger.info(fields, 'in-process queue stopped with no deliveries pending');
  else logger.warn(fields, `in-process queue stopped with ${pending} deliveries pending and ${failed} dead letters; they are lost (use --redis-url to keep them across restarts)`);
}

/** Exit codes of serve: 0 for help, version and a clean shutdown; 2 for a usage error; 1 when running fails. */
const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;

/**
 * `herald serve FLAGS`, or `herald FLAGS`: serve is the default command. `commandsHelp` is the
 * other commands' part of `--help` (loaded only when asked for). `ahead`: what main.ts began
 * before this module loaded.
 */
export async function startServing(serveArgs: string[], commandsHelp: () => Promise<string>, ahead: StartedAhead = {}): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(serveArgs, process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`herald: ${err.message}\n${USAGE_HINT}\n`);
    process.exit(EXIT_USAGE);
  }
  if (config === 'help') {
    process.stdout.write(`${usage()}\n${await commandsHelp()}`);
  } else if (config === 'version') {
    process.stdout.write(`herald ${version()}\n`);
  } else {
    try {
      await run(config, ahead);
    } catch (err) {
      // A flag's value found wrong only when used (a --config-dir that does not exist) is still a usage error.
      const usageError = err instanceof ConfigError || err instanceof ManifestDirectoryError;
      const known = usageError || err instanceof StartupError;
      process.stderr.write(`herald: ${known ? (err as Error).message : (err as Error).stack ?? String(err)}\n`);
      process.exit(usageError ? EXIT_USAGE : EXIT_FAILURE);
    }
  }
}

