/** Request-duration histogram for every Fastify listener Herald runs. */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../observability/metrics.js';

export function recordRequestDurations(app: FastifyInstance, metrics: Metrics, server: string): void {
  app.addHook('onResponse', async (req, reply) => {
    metrics.httpDuration.observe(
      {
        server,
        // The route pattern, never the raw URL: unknown paths must not create new series.
        route: req.routeOptions.url ?? 'unmatched',
        method: req.method,
        code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });
}
