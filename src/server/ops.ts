/**
 * The operator-facing listeners: Prometheus metrics, and health with the resource statuses.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { baseServer, type ListenerLimits } from './base.js';

export function buildMetricsServer(deps: { metrics: Metrics; logger: Logger; limits?: ListenerLimits }): FastifyInstance {
  const app = baseServer(deps.logger, deps.metrics, 'metrics', {}, deps.limits);
  app.get('/metrics', async (_req, reply) => {
    const body = await deps.metrics.render();
    return reply.type(deps.metrics.registry.contentType).send(body);
  });
  return app;
}

export interface ReadinessCheck {
  /** What is checked, e.g. `resources` or `queue`. */
  name: string;
  ok: boolean;
  message: string;
}

export interface HealthDeps {
  metrics: Metrics;
  logger: Logger;
  /** Each check that must pass for the replica to take events. */
  readiness: () => ReadinessCheck[];
  /** The Ready status of every Provider and Alert and any manifest problem, JSON-serialisable. */
  resourceStatuses: () => unknown;
  limits?: ListenerLimits;
}

export function buildHealthServer(deps: HealthDeps): FastifyInstance {
  const app = baseServer(deps.logger, deps.metrics, 'health', {}, deps.limits);
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const checks = deps.readiness();
    const ready = checks.every((c) => c.ok);
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks });
  });
  app.get('/resources', async () => deps.resourceStatuses());
  return app;
}
