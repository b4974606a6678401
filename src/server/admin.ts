/**
 * The admin API: list deliveries by state, Provider, Alert and object, show one, retry one now,
 * replay dead letters, purge them; the resources with each Provider's last delivery, queue and
 * delivery statistics, and a test notification per Provider. It listens on its own address
 * (`--admin-addr`, loopback by default) and requires a bearer token whenever one is
 * configured, which Herald insists on when the address is not loopback.
 *
 * A browser on the operator's machine can reach a loopback listener too, so every request is
 * also checked the way a cross-site page cannot pass: the `Host` must be one of the listener's
 * own names (a DNS-rebound name is refused), an `Origin` or `Sec-Fetch-Site` must not be
 * foreign, and a request that changes something must say `Content-Type: application/json`,
 * which a page can only send after a CORS preflight this API never grants.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { networkInterfaces, hostname as machineName } from 'node:os';
import { Ajv } from 'ajv';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DeliveryQueue, DeliveryRecord } from '../delivery/queue.js';
import type { Logger } from '../observability/logger.js';
import { QUEUE_STATES, type Metrics } from '../observability/metrics.js';
import { OPS_LISTENER_LIMITS, baseServer, type ListenerLimits } from './base.js';
import type { DeliveryActivity } from './admin-activity.js';
import type { ProviderTester } from './admin-test-send.js';
import { registerExplainRoute, type ExplainContext } from './admin-explain.js';
import { isConsoleRequest, registerConsole } from './console.js';

export interface AdminDeps {
  queue: DeliveryQueue;
  metrics: Metrics;
  logger: Logger;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  token?: string;
  /** The host the listener is bound to (`0.0.0.0`/`::` stand for every address of the machine). */
  listenHost?: string;
  /** More host names requests may name in `Host` (e.g. a Service name). */
  allowedHosts?: string[];
  limits?: ListenerLimits;
  /** The health listener's `/resources` answer; `GET /resources` is served when given. */
  resourceStatuses?: () => ResourceStatuses;
  /** Recent delivery outcomes: each Provider's last delivery in `/resources`, and `GET /stats` when given. */
  activity?: DeliveryActivity;
  /** `POST /providers/:namespace/:name/test` when given. */
  tester?: ProviderTester;
  /** Told when a delivery of the Provider (`namespace/name`) was made due now: its circuit, if open, lets it through. */
  onRetryNow?: (provider: string) => void;
  /** Serves `POST /explain` when set. */
  explain?: ExplainContext;
}

/** What `/resources` serves: each resource with at least its kind and name, and whatever else the store says. */
export interface ResourceStatuses {
  resources: Array<{ kind: string; namespace: string; name: string }>;
  [other: string]: unknown;
}

const MAX_PAGE = 500;
const ADMIN_IDLE_TIMEOUT_MS = 10 * 60_000;
/** Bodies are never needed (`{}` at most); anything bigger is refused before it is read. */
const ADMIN_BODY_LIMIT = 16 * 1024;

const listQuery = {
  type: 'object',
  properties: {
    state: { type: 'string', enum: [...QUEUE_STATES], default: 'failed' },
    provider: { type: 'string', pattern: '^[^/]+/[^/]+$' },
    alert: { type: 'string', pattern: '^[^/]+/[^/]+$' },
    // Kind/namespace/name; the namespace is empty for a cluster-scoped object.
    object: { type: 'string', pattern: '^[^/]+/[^/]*/.+$', maxLength: 800 },
    cursor: { type: 'string', pattern: '^[0-9]{1,15}$', default: '0' },
    limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 100 },
  },
  additionalProperties: false,
} as const;

const providerQuery = {
  type: 'object',
  properties: { provider: { type: 'string', pattern: '^[^/]+/[^/]+$' } },
  additionalProperties: false,
} as const;

type ListQuery = { state: DeliveryRecord['state']; provider?: string; alert?: string; object?: string; cursor: string; limit: number };

const testBody = {
  type: ['object', 'null'],
  properties: { message: { type: 'string', minLength: 1, maxLength: 4096 } },
  additionalProperties: false,
} as const;

const providerParams = {
  type: 'object',
  properties: { namespace: { type: 'string', minLength: 1, maxLength: 253 }, name: { type: 'string', minLength: 1, maxLength: 253 } },
  required: ['namespace', 'name'],
} as const;

/**
 * Compares the token in constant time whatever its length: both sides are hashed first, so
 * neither an early return nor the comparison's duration tells anything about the token. The
 * scheme is case-insensitive (RFC 9110, section 11.1).
 */
export function tokenChecker(token: string): (header: string | undefined) => boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  const expected = digest(token);
  return (header) => {
    const given = /^bearer +([^ ]+) *$/i.exec(header ?? '')?.[1];
    const same = timingSafeEqual(digest(given ?? ''), expected);
    return given !== undefined && same;
  };
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);

/** The host names a request to this listener may carry: loopback forms, the bound address, the machine's own names when bound to every address, and the configured extras. */
export function adminHostNames(listenHost: string | undefined, extra: string[] = []): (host: string) => boolean {
  const names = new Set(['localhost', '::1', ...extra.map((h) => h.toLowerCase())]);
  if (listenHost !== undefined && !WILDCARD_HOSTS.has(listenHost)) names.add(listenHost.toLowerCase());
  if (listenHost !== undefined && WILDCARD_HOSTS.has(listenHost)) {
    names.add(machineName().toLowerCase());
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) names.add(a.address.toLowerCase());
  }
  return (host) => names.has(host) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** `example:9400` → `example`; `[::1]:9400` → `::1`; undefined when it is not a host. */
function hostOf(authority: string): string | undefined {
  const match = /^(?:\[([0-9a-f:.]+)\]|([^:[\]/@]+))(?::\d{1,5})?$/i.exec(authority);
  return (match?.[1] ?? match?.[2])?.toLowerCase().replace(/\.$/, '');
}

function originHost(origin: string): string | undefined {
  try {
    const url = new URL(origin);
    return url.protocol === 'http:' || url.protocol === 'https:' ? hostOf(url.host) : undefined;
  } catch {
    return undefined;
  }
}

const READ_ONLY_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Why a request cannot have come from the operator's own tools, or undefined when it may have. */
function crossSiteReason(req: FastifyRequest, allowed: (host: string) => boolean): string | undefined {
  const host = req.headers.host;
  if (host !== undefined) {
    const name = hostOf(host);
    if (name === undefined || !allowed(name)) return 'the Host header names a host this admin API does not serve (add it with --admin-allowed-hosts)';
  }
  const origin = req.headers.origin;
  if (origin !== undefined) {
    const name = originHost(origin);
    if (name === undefined || !allowed(name)) return 'cross-origin requests are refused';
  }
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return 'cross-site requests are refused';
  return undefined;
}

export function buildAdminServer(deps: AdminDeps): FastifyInstance {
  const { queue, metrics, logger, token } = deps;
  // Query strings are strings: let the schema turn `limit=10` into a number here.
  const app = baseServer(
    logger,
    metrics,
    'admin',
    { ajv: { customOptions: { coerceTypes: true, removeAdditional: false } }, bodyLimit: ADMIN_BODY_LIMIT },
    // A bulk replay or purge of a large backlog works for minutes without writing a byte:
    // the connection must outlive it so the answer (the counts) arrives.
    { ...(deps.limits ?? OPS_LISTENER_LIMITS), idleTimeoutMs: ADMIN_IDLE_TIMEOUT_MS },
  );
  const allowed = adminHostNames(deps.listenHost, deps.allowedHosts);
  const tokenMatches = token ? tokenChecker(token) : undefined;

  // Only JSON bodies, and an empty one is fine: `Content-Type: application/json` is what marks
  // a state-changing request as not a form post.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, body === '' ? undefined : JSON.parse(body as string));
    } catch {
      done(Object.assign(new Error('the body is not JSON'), { statusCode: 400 }), undefined);
    }
  });

  // Input errors keep their status; anything else is the queue failing (Redis away, say): a
  // 503 that says so, never a bare 500.
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status = err.statusCode !== undefined && err.statusCode < 500 ? err.statusCode : 503;
    if (status === 503) logger.error({ method: req.method, route: req.routeOptions.url ?? 'unmatched', err: err.message }, 'admin request failed');
    void reply.status(status).send({ error: status === 503 ? 'ServiceUnavailable' : (err.code ?? 'Error'), message: err.message });
  });

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const crossSite = crossSiteReason(req, allowed);
    if (crossSite) {
      logger.warn({ method: req.method, route: req.routeOptions.url ?? 'unmatched' }, `admin request refused: ${crossSite}`);
      return reply.status(403).send({ error: 'Forbidden', message: crossSite });
    }
    // The web console's static files hold no data: the page asks for the token itself.
    if (isConsoleRequest(req)) return;
    if (tokenMatches && !tokenMatches(req.headers.authorization)) {
      return reply.status(401).header('www-authenticate', 'Bearer').send({ error: 'Unauthorized', message: 'a valid bearer token is required' });
    }
    const mediaType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (!READ_ONLY_METHODS.has(req.method) && mediaType !== 'application/json') {
      return reply
        .status(415)
        .send({ error: 'UnsupportedMediaType', message: 'requests that change something must send Content-Type: application/json (the body may be empty)' });
    }
  });

  app.get<{ Querystring: ListQuery }>('/deliveries', { schema: { querystring: listQuery } }, async (req) => {
    const { state, provider, alert, object, cursor, limit } = req.query;
    const page = await queue.list({ state, provider, alert, object, cursor: Number(cursor), limit });
    return { state, provider, alert, object, limit, deliveries: page.deliveries, nextCursor: page.nextCursor === undefined ? undefined : String(page.nextCursor) };
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

  app.post<{ Params: { id: string } }>('/deliveries/:id/retry-now', async (req, reply) => {
    const { id } = req.params;
    const record = await queue.get(id);
    if (!record) return reply.status(404).send({ error: 'NotFound', message: `no delivery ${id}` });
    // Before the job can run again (another replica may take it at once): an open circuit
    // lets its next attempt through. Harmless if the retry is then refused: one early probe.
    if (record.state === 'delayed' || record.state === 'failed') deps.onRetryNow?.(record.data.provider);
    const was = await queue.retryNow(id);
    if (!was) {
      const state = (await queue.get(id))?.state ?? record.state;
      return reply.status(409).send({ error: 'Conflict', message: `delivery ${id} is ${state}: only a delayed delivery or a dead letter can be retried now` });
    }
    if (was === 'failed') metrics.replays.inc({ provider_type: record.data.providerType });
    logger.info({ job: id, alert: record.data.alert, provider: record.data.provider, was }, was === 'failed' ? 'dead letter replayed' : 'delayed delivery made due now');
    return { id, state: 'waiting' };
  });

  app.delete<{ Params: { id: string } }>('/deliveries/:id', async (req, reply) => {
    const { id } = req.params;
    const record = await queue.get(id);
    if (!record) return reply.status(404).send({ error: 'NotFound', message: `no delivery ${id}` });
    if (!(await queue.purge(id))) {
      const state = (await queue.get(id))?.state ?? record.state;
      return reply.status(409).send({ error: 'Conflict', message: `delivery ${id} is ${state}, not a dead letter` });
    }
    metrics.deadLettersPurged.inc();
    logger.info({ job: id, alert: record.data.alert, provider: record.data.provider }, 'dead letter purged');
    return { purged: 1 };
  });

  const { resourceStatuses, activity, tester } = deps;
  if (resourceStatuses) {
    app.get('/resources', async () => {
      const statuses = resourceStatuses();
      if (!activity) return statuses;
      const resources = statuses.resources.map((resource) => {
        const lastDelivery = resource.kind === 'Provider' ? activity.lastDeliveries.of(`${resource.namespace}/${resource.name}`) : undefined;
        return lastDelivery ? { ...resource, lastDelivery } : resource;
      });
      return { ...statuses, resources };
    });
  }

  if (activity) {
    app.get('/stats', async () => ({ queue: await queue.counts(), rates: activity.rates.perSecond(), at: Date.now() }));
  }

  if (tester) {
    // Bodies are JSON with types of their own: `{"message": 42}` is a 400, not "42" (the
    // listener's validator coerces, for query strings).
    const strict = new Ajv({ coerceTypes: false, allErrors: false });
    app.post<{ Params: { namespace: string; name: string }; Body: { message?: string } | null | undefined }>(
      '/providers/:namespace/:name/test',
      { schema: { params: providerParams, body: testBody }, validatorCompiler: ({ schema }) => strict.compile(schema) },
      async (req, reply) => {
        const { namespace, name } = req.params;
        const result = await tester.send(namespace, name, req.body?.message);
        if (result === 'not-found') return reply.status(404).send({ error: 'NotFound', message: `no Provider ${namespace}/${name}` });
        if (result === 'busy') return reply.status(429).send({ error: 'TooManyRequests', message: `a test of Provider ${namespace}/${name} is already under way` });
        return result;
      },
    );
  }

  app.post<{ Querystring: { provider?: string } }>('/dead-letters/replay', { schema: { querystring: providerQuery } }, async (req, reply) => {
    const provider = req.query.provider ?? '*';
    const result = await queue.replayDeadLetters(req.query.provider);
    for (const [providerType, n] of Object.entries(result.byProviderType)) metrics.replays.inc({ provider_type: providerType }, n);
    if (result.skipped > 0) metrics.replaysSkipped.inc(result.skipped);
    const counts = { replayed: result.replayed, skipped: result.skipped };
    if (result.error !== undefined) {
      // Part of the work is done and stays done: say how much, and why the rest was not.
      logger.error({ provider, ...counts, err: result.error }, 'replaying dead letters stopped part-way');
      return reply.status(503).send({ error: 'ServiceUnavailable', message: `stopped part-way: ${result.error}`, ...counts });
    }
    logger.info({ provider, ...counts }, result.skipped > 0 ? 'dead letters replayed; some changed state meanwhile and were skipped' : 'dead letters replayed');
    return counts;
  });

  app.delete<{ Querystring: { provider?: string } }>('/dead-letters', { schema: { querystring: providerQuery } }, async (req) => {
    const purged = await queue.purgeDeadLetters(req.query.provider);
    metrics.deadLettersPurged.inc(purged);
    logger.info({ provider: req.query.provider ?? '*', count: purged }, 'dead letters purged');
    return { purged };
  });

  if (deps.explain) registerExplainRoute(app, deps.explain);
  registerConsole(app, logger);
  return app;
}
