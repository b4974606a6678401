#!/usr/bin/env node
/**
 * Herald's entry point: reads the flags, wires the resource store, queue, worker and
 * listeners together, and shuts down cleanly on SIGTERM.
 */
import type { FastifyInstance } from 'fastify';
import { ConfigError, loadConfig, usage, type Config, type ListenAddress } from './config.js';
import { Dispatcher } from './delivery/dispatcher.js';
import { MemoryQueue } from './delivery/memory-queue.js';
import type { DeliveryQueue } from './delivery/queue.js';
import { describeRedis } from './delivery/redis-connection.js';
import { RedisQueue, producerConnection } from './delivery/redis-queue.js';
import { MAX_RETRY_AFTER_MS } from './delivery/retry-policy.js';
import { createProcessor } from './delivery/worker.js';
import { createLogger, type Logger } from './observability/logger.js';
import { Metrics, QUEUE_STATES } from './observability/metrics.js';
import { startResourceSource } from './resources/source.js';
import { ResourceStore } from './resources/store.js';
import { MemoryDuplicateFilter, RedisDuplicateFilter, type DuplicateFilter } from './server/duplicate-filter.js';
import { buildAdminServer } from './server/admin.js';
import { buildEventsServer } from './server/events.js';
import { buildHealthServer, buildMetricsServer } from './server/ops.js';

interface Queueing {
  queue: DeliveryQueue;
  duplicates: DuplicateFilter;
  disconnect(): void;
}

function createQueueing(config: Config, logger: Logger): Queueing {
  const policy = {
    attempts: config.maxAttempts,
    baseDelayMs: config.retryBaseDelayMs,
    maxDelayMs: config.retryMaxDelayMs,
    maxRetryAfterMs: MAX_RETRY_AFTER_MS,
  };
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
      disconnect: () => duplicates.close(),
    };
  }
  const producer = producerConnection(config.redis, logger);
  return {
    queue: new RedisQueue({
      url: config.redis,
      producer,
      prefix: config.redisPrefix,
      policy,
      concurrency: config.workerConcurrency,
      logger,
      stalledIntervalMs: config.stalledIntervalMs,
    }),
    duplicates: new RedisDuplicateFilter(producer, config.rateLimitIntervalMs, config.redisPrefix),
    disconnect: () => producer.disconnect(),
  };
}

/** Listens, turning a busy or forbidden address into a message that names the flag. */
async function listen(app: FastifyInstance, addr: ListenAddress, flag: string): Promise<void> {
  try {
    await app.listen({ host: addr.host, port: addr.port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'EADDRINUSE' ? 'address already in use' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new ConfigError(`--${flag} ${addr.host}:${addr.port}: ${reason}`);
  }
}

async function run(config: Config): Promise<void> {
  const logger = createLogger(config.logLevel);
  const metrics = new Metrics();
  const store = new ResourceStore({ noCrossNamespaceRefs: config.noCrossNamespaceRefs, logger });
  const source = await startResourceSource(config, store, logger);
  const { queue, duplicates, disconnect } = createQueueing(config, logger);

  queue.start(source.wrapProcessor(createProcessor({ store, metrics, logger, perProviderConcurrency: config.providerConcurrency })));
  const dispatcher = new Dispatcher({ store, queue, metrics, logger, labels: source.labels, alertEvents: source.alertEvents });

  metrics.onScrape(async () => {
    const counts = await queue.counts();
    for (const state of QUEUE_STATES) metrics.queueJobs.set({ state }, counts[state]);
  });
  metrics.onScrape(async () => {
    metrics.resources.reset();
    for (const s of store.statuses().resources) metrics.resources.inc({ kind: s.kind, ready: s.ready.status });
  });

  const events = buildEventsServer({ dispatcher, duplicates, metrics, logger });
  const metricsServer = buildMetricsServer({ metrics, logger });
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
    ],
    resourceStatuses: () => store.statuses(),
  });
  const admin = buildAdminServer({ queue, metrics, logger, token: config.adminToken });
  await Promise.all([
    listen(events, config.eventsAddr, 'events-addr'),
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
      queue: queue.kind,
      redis: config.redis ? describeRedis(config.redis) : undefined,
      configDir: config.configDir,
    },
    queue.kind === 'memory'
      ? 'herald started with the in-process queue: single replica, deliveries are lost on restart (set --redis-url for durability)'
      : 'herald started',
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: no new events; finishing in-flight deliveries');
    const deadline = setTimeout(() => {
      logger.error('in-flight deliveries did not finish in time; exiting (Redis jobs are picked up again by another replica)');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    await events.close();
    await queue.close();
    await source.close();
    disconnect();
    await Promise.all([metricsServer.close(), health.close(), admin.close()]);
    logger.info('herald stopped');
    logger.flush();
    process.exit(0);
  };
  process.on('SIGTERM', (s) => void shutdown(s));
  process.on('SIGINT', (s) => void shutdown(s));
}

try {
  const config = loadConfig(process.argv.slice(2), process.env);
  if (config === 'help') {
    process.stdout.write(usage());
  } else {
    await run(config);
  }
} catch (err) {
  process.stderr.write(`herald: ${err instanceof ConfigError ? err.message : (err as Error).stack ?? String(err)}\n`);
  process.exit(2);
}
