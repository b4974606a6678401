/**
 * The admin API: list deliveries by state and Provider, show one, replay dead letters, purge
 * them. It listens on its own address (`--admin-addr`, loopback by default) and requires a
 * bearer token whenever one is configured, which Herald insists on when the address is not
 * loopback.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DeliveryQueue, DeliveryRecord } from '../delivery/queue.js';
import type { Logger } from '../observability/logger.js';
import { QUEUE_STATES, type Metrics } from '../observability/metrics.js';
import { baseServer } from './base.js';

export interface AdminDeps {
  queue: DeliveryQueue;
  metrics: Metrics;
  logger: Logger;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  token?: string;
}

const MAX_PAGE = 500;

const listQuery = {
  type: 'object',
  properties: {
    state: { type: 'string', enum: [...QUEUE_STATES], default: 'failed' },
    provider: { type: 'string', pattern: '^[^/]+/[^/]+$' },
    offset: { type: 'integer', minimum: 0, default: 0 },
    limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 100 },
  },
  additionalProperties: false,
} as const;

const providerQuery = {
  type: 'object',
  properties: { provider: { type: 'string', pattern: '^[^/]+/[^/]+$' } },
  additionalProperties: false,
} as const;

type ListQuery = { state: DeliveryRecord['state']; provider?: string; offset: number; limit: number };

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header ?? '');
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function buildAdminServer(deps: AdminDeps): FastifyInstance {
  const { queue, metrics, logger, token } = deps;
  // Query strings are strings: let the schema turn `limit=10` into a number here.
  const app = baseServer(logger, metrics, 'admin', { ajv: { customOptions: { coerceTypes: true, removeAdditional: false } } });

  if (token) {
    app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      if (!tokenMatches(req.headers.authorization, token)) {
        return reply.status(401).header('www-authenticate', 'Bearer').send({ error: 'Unauthorized', message: 'a valid bearer token is required' });
      }
    });
  }

  app.get<{ Querystring: ListQuery }>('/deliveries', { schema: { querystring: listQuery } }, async (req) => {
    const { state, provider, offset, limit } = req.query;
    return { state, provider, offset, limit, deliveries: await queue.list({ state, provider, offset, limit }) };
  });

  app.get<{ Params: { id: string } }>('/deliveries/:id', async (req, reply) => {
    const record = await queue.get(req.params.id);
    return record ?? reply.status(404).send({ error: 'NotFound', message: `no delivery ${req.params.id}` });
  });

  app.post<{ Params: { id: string } }>('/deliveries/:id/replay', async (req, reply) => {
    const record = await queue.get(req.params.id);
    if (!record) return reply.status(404).send({ error: 'NotFound', message: `no delivery ${req.params.id}` });
    if (!(await queue.replay(req.params.id))) {
      return reply.status(409).send({ error: 'Conflict', message: `delivery ${req.params.id} is ${record.state}, not a dead letter` });
    }
    metrics.replays.inc({ provider_type: record.data.providerType });
    logger.info({ job: record.id, alert: record.data.alert, provider: record.data.provider }, 'dead letter replayed');
    return { replayed: 1 };
  });

  app.post<{ Querystring: { provider?: string } }>('/dead-letters/replay', { schema: { querystring: providerQuery } }, async (req) => {
    const replayed = await queue.replayDeadLetters(req.query.provider);
    for (const r of replayed) metrics.replays.inc({ provider_type: r.data.providerType });
    logger.info({ provider: req.query.provider ?? '*', count: replayed.length }, 'dead letters replayed');
    return { replayed: replayed.length };
  });

  app.delete<{ Querystring: { provider?: string } }>('/dead-letters', { schema: { querystring: providerQuery } }, async (req) => {
    const purged = await queue.purgeDeadLetters(req.query.provider);
    metrics.deadLettersPurged.inc(purged);
    logger.info({ provider: req.query.provider ?? '*', count: purged }, 'dead letters purged');
    return { purged };
  });

  return app;
}
