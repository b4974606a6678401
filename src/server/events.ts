/**
 * The events address: Flux controllers POST one event to `/`. The answer is honest, because
 * senders retry on 5xx and 429: 202 only once every job is stored, 400/413/415 for input that
 * will never be accepted, 429 for a duplicate, 503 when the work could not be stored.
 */
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { cleanupMetadata, eventSchema, rateLimitKey, type FluxEvent } from '../events/event.js';
import type { DispatchResult, EventDispatcher } from '../delivery/dispatcher.js';
import { QueueFullError } from '../delivery/queue.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { DuplicateFilter } from './duplicate-filter.js';
import { EVENTS_LISTENER_LIMITS, baseServer, type ListenerLimits } from './base.js';
import { errorMessage } from '../common/errors.js';

/** Flux's limit on an event body. */
export const MAX_EVENT_BYTES = 3 * 1024 * 1024;

/**
 * Flux's rate-limit headers (its limiter allows one event per key and window): the limit, what
 * is left of it (nothing, once an event went through), and when the window ends. Dates are
 * written as Go's `time.RFC1123` writes a UTC time (`Tue, 01 Dec 2026 16:50:00 UTC`), as Flux
 * sends them; `Retry-After` on a 429 carries the same date.
 */
function rateLimitHeaders(reply: FastifyReply, windowEnd: number): FastifyReply {
  return reply.header('x-ratelimit-limit', '1').header('x-ratelimit-remaining', '0').header('x-ratelimit-reset', httpDate(windowEnd));
}

function httpDate(epochMs: number): string {
  return new Date(epochMs).toUTCString().replace(/GMT$/, 'UTC');
}

/** Why an event matched no Alert, in the order the checks run (POST /explain on the admin API names the check per Alert). */
const NO_ALERT_MATCHES =
  'no alert takes this event: none has an event source for its kind, namespace and name (a suspended alert has none), or each that has one turns it down by severity, inclusion/exclusion list or matchLabels';

/** At most one "queue full" warning per this interval. */
const FULL_WARNING_INTERVAL_MS = 10_000;

export interface EventsServerDeps {
  dispatcher: EventDispatcher;
  duplicates: DuplicateFilter;
  metrics: Metrics;
  logger: Logger;
  limits?: ListenerLimits;
}

export function buildEventsServer(deps: EventsServerDeps): FastifyInstance {
  const { dispatcher, duplicates, metrics, logger } = deps;
  const app = baseServer(
    logger,
    metrics,
    'events',
    {
      bodyLimit: MAX_EVENT_BYTES,
      // Strict types: a number where a string belongs is a 400, not silently converted.
      ajv: { customOptions: { coerceTypes: false, allErrors: false } },
      return503OnClosing: true,
    },
    deps.limits ?? EVENTS_LISTENER_LIMITS,
  );
  // Events are JSON only: anything else is a 415, not a string body failing validation.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler((err: FastifyError, _req, reply) => {
    const status = err.statusCode ?? 500;
    const outcome = status === 413 ? 'too_large' : status < 500 ? 'invalid' : 'unavailable';
    metrics.eventsReceived.inc({ outcome });
    if (status >= 500) logger.error({ err: err.message }, 'event intake failed');
    void reply.status(status).send({ error: err.code ?? 'Error', message: err.message });
  });

  app.post<{ Body: FluxEvent }>('/', { schema: { body: eventSchema } }, async (req, reply) => {
    const acceptedAt = Date.now();
    const event = cleanupMetadata(req.body);
    const key = rateLimitKey(event);
    const involved = `${event.involvedObject.kind}/${event.involvedObject.namespace ?? ''}/${event.involvedObject.name}`;

    // Where the window lives in the queue's store (Redis), it is checked and started in the
    // write that stores the event's jobs; otherwise (and for an event no Alert takes) it is
    // checked before and started after.
    const storeWindow = duplicates.storeWindow?.(key);
    /**
     * The window checked apart from the jobs' write; true once the event is answered (a running
     * window, or Redis failing). A boolean, not the reply: an awaited reply is a thenable.
     */
    const answeredByWindow = async (): Promise<boolean> => {
      let windowEnd: number | undefined;
      try {
        windowEnd = await duplicates.windowEnd(key);
      } catch (err) {
        void unavailable(reply, err, involved);
        return true;
      }
      if (windowEnd === undefined) return false;
      void duplicate(reply, windowEnd, involved);
      return true;
    };
    if (!storeWindow && (await answeredByWindow())) return reply;

    let result: DispatchResult;
    try {
      result = await dispatcher.dispatch(event, acceptedAt, storeWindow);
    } catch (err) {
      // Nothing was recorded for the event, so the sender's retry is not taken for a duplicate;
      // jobs stored before the failure have ids derived from the event and are not stored twice.
      return unavailable(reply, err, involved);
    }
    if (result.window?.duplicateUntil !== undefined) return duplicate(reply, result.window.duplicateUntil, involved);
    if (storeWindow && !result.window) {
      // Nothing was stored (no Alert takes the event): its window is checked and started here.
      if (await answeredByWindow()) return reply;
    }
    if (!result.window) {
      // The work is stored: the event is accepted even if its window cannot be recorded (at
      // worst a later copy is delivered again), so the answer does not wait for the record.
      // A copy posted after this answer is checked after it on the same Redis connection.
      void duplicates
        .remember(key)
        .catch((err: Error) => logger.warn({ involved, err: err.message }, 'could not record the event key for duplicate suppression'));
    }
    const { enqueued, matched } = result;
    metrics.eventsReceived.inc({ outcome: enqueued > 0 ? 'accepted' : 'unmatched' });
    if (enqueued === 0) logger.debug({ involved, matched }, matched === 0 ? NO_ALERT_MATCHES : 'the matching alerts queued nothing (their providers dropped it; see the lines above)');
    // As Flux's limiter answers every request it lets through: this key's one event per window is spent.
    rateLimitHeaders(reply, acceptedAt + duplicates.windowMs);
    return reply.status(202).send();
  });

  function duplicate(reply: FastifyReply, windowEnd: number, involved: string) {
    metrics.eventsReceived.inc({ outcome: 'duplicate' });
    logger.debug({ involved }, 'discarding duplicate event inside the rate-limit window');
    rateLimitHeaders(reply, windowEnd).header('retry-after', httpDate(windowEnd));
    return reply.status(429).send({ error: 'TooManyRequests', message: 'duplicate event inside the rate-limit window' });
  }

  let lastFullWarning = -Infinity;
  function unavailable(reply: FastifyReply, err: unknown, involved: string) {
    const message = errorMessage(err);
    metrics.eventsReceived.inc({ outcome: 'unavailable' });
    if (err instanceof QueueFullError) {
      // Said once in a while: under a flood, a line per refused event would be a flood too.
      if (Date.now() - lastFullWarning >= FULL_WARNING_INTERVAL_MS) {
        lastFullWarning = Date.now();
        logger.warn({ err: message }, 'the delivery queue is full; events are answered 503 so their senders retry');
      }
      return reply
        .status(503)
        .header('retry-after', String(err.retryAfterSeconds))
        .send({ error: 'ServiceUnavailable', message: 'the delivery queue is full; retry later' });
    }
    logger.error({ involved, err: message }, 'could not store the event; answered 503 so the sender retries');
    return reply
      .status(503)
      .header('retry-after', '5')
      .send({ error: 'ServiceUnavailable', message: 'the delivery queue cannot store work right now; retry later' });
  }

  return app;
}
