/**
 * What every Fastify listener of Herald shares: the JSON logger, no per-request log lines,
 * request metrics, and the limits that keep a slow or greedy client from holding the process:
 * a deadline for a whole request (headers and body), one for the headers alone, an idle
 * timeout, a keep-alive timeout and a cap on open connections.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyHttpOptions, type FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';

export interface ListenerLimits {
  /** The whole request, headers and body, must arrive within this; slower senders are cut off (408 or reset). */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** Open connections beyond this are closed at once, so one listener cannot use up the process's file descriptors. */
  maxConnections: number;
  /** A connection with no traffic either way for this long is closed (default: the request timeout). */
  idleTimeoutMs?: number;
  /**
   * Bytes of request bodies being received at once, at most (each counted at its declared
   * length, or the body limit when not declared); a request beyond it gets a 503 with
   * `Retry-After` before its body is read. Unset: no budget.
   */
  maxBodyBytesInFlight?: number;
  /** Largest request head (request line and headers), in bytes; Node answers 431 beyond it. Unset: Node's 16 KiB. */
  maxHeaderBytes?: number;
}

/** The headers alone must arrive within this (or the request timeout, if shorter). */
const HEADERS_TIMEOUT_MS = 10_000;

/** Defaults for the operator listeners (metrics, health, admin): few clients, small requests. */
export const OPS_LISTENER_LIMITS: ListenerLimits = { requestTimeoutMs: 30_000, keepAliveTimeoutMs: 30_000, maxConnections: 64 };

/** Defaults for the events listener: many senders, bodies up to 3 MiB. */
export const EVENTS_LISTENER_LIMITS: ListenerLimits = {
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 30_000,
  maxConnections: 1024,
  maxBodyBytesInFlight: 256 * 1024 * 1024,
};

/** Fastify's default body limit, for listeners that do not set one. */
const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** The process's soft limit on open files (`ulimit -n`), where the system tells it (Linux). */
export function openFileLimit(read: () => string = () => readFileSync('/proc/self/limits', 'utf8')): number | undefined {
  try {
    const soft = /^Max open files\s+(\d+)/m.exec(read())?.[1];
    return soft === undefined ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

type ExtraOptions = Pick<FastifyHttpOptions<Server>, 'bodyLimit' | 'ajv' | 'return503OnClosing'>;

export function baseServer(
  logger: Logger,
  metrics: Metrics,
  server: string,
  extra: ExtraOptions = {},
  limits: ListenerLimits = OPS_LISTENER_LIMITS,
): FastifyInstance {
  const app = Fastify({
    ...extra,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // A socket silent for this long is closed, whatever state its request is in (a client
    // that stops reading its answer, too).
    connectionTimeout: limits.idleTimeoutMs ?? limits.requestTimeoutMs,
    http: {
      headersTimeout: Math.min(HEADERS_TIMEOUT_MS, limits.requestTimeoutMs),
      // Node checks the request and headers deadlines on this period (its default, 30 s,
      // would let a slow sender stay up to 30 s past a short deadline).
      connectionsCheckingInterval: Math.min(1_000, limits.requestTimeoutMs),
      ...(limits.maxHeaderBytes !== undefined && { maxHeaderSize: limits.maxHeaderBytes }),
    },
    loggerInstance: logger.child({ server }) as FastifyBaseLogger,
    // One log line per request would flood the logs at Flux's event rates; metrics count them.
    logController: new LogController({ disableRequestLogging: true }),
    // Without request lines, a child logger per request (its reqId) would be built for the rare
    // error line only: the listener's own logger serves those.
    childLoggerFactory: (listenerLogger) => listenerLogger,
  });
  app.server.maxConnections = limits.maxConnections;
  if (limits.maxBodyBytesInFlight !== undefined) budgetBodies(app, limits.maxBodyBytesInFlight, extra.bodyLimit ?? DEFAULT_BODY_LIMIT);
  // Hooks with a callback rather than async: no promise per request.
  app.addHook('onResponse', (req, reply, done) => {
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
    done();
  });
  return app;
}

/**
 * Bounds the memory that bodies being received can take, whatever their senders' speed: the
 * connection cap alone would allow that many full bodies at once. A request is admitted with
 * its declared length reserved, released when its response is done or its connection is gone.
 */
function budgetBodies(app: FastifyInstance, budget: number, bodyLimit: number): void {
  let inFlight = 0;
  app.addHook('onRequest', (req, reply, done) => {
    const declared = Number(req.headers['content-length']);
    const bytes = req.headers['transfer-encoding'] !== undefined ? bodyLimit : Number.isFinite(declared) ? Math.min(declared, bodyLimit) : 0;
    if (bytes === 0) return done();
    if (inFlight + bytes > budget) {
      // The body is not read: close the connection rather than drain it.
      void reply
        .status(503)
        .header('retry-after', '5')
        .header('connection', 'close')
        .send({ error: 'ServiceUnavailable', message: 'too many request bodies are being received at once; retry later' });
      return;
    }
    inFlight += bytes;
    reply.raw.once('close', () => (inFlight -= bytes));
    done();
  });
}
