/** What every Fastify listener of Herald shares: the JSON logger, no per-request log lines, request metrics. */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyHttpOptions, type FastifyInstance } from 'fastify';
import type { Server } from 'node:http';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';

type ExtraOptions = Pick<FastifyHttpOptions<Server>, 'bodyLimit' | 'ajv' | 'return503OnClosing'>;

export function baseServer(logger: Logger, metrics: Metrics, server: string, extra: ExtraOptions = {}): FastifyInstance {
  const app = Fastify({
    ...extra,
    loggerInstance: logger.child({ server }) as FastifyBaseLogger,
    // One log line per request would flood the logs at Flux's event rates; metrics count them.
    logController: new LogController({ disableRequestLogging: true }),
  });
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
  return app;
}
