/**
 * The receiver listener's routes (`--receiver-addr`, `:9292`; the listener itself, with the
 * limits every Herald listener shares, is built in src/server/receivers.ts): `/hook/<digest>` →
 * verify the request as the Receiver's type demands → resolve and filter its resources → ask
 * for a reconcile of each. Answers are Flux's, with empty bodies: 404 unknown path, 503
 * suspended or not Ready, 400 refused payload or event, 413 over the body bound, 500 a target
 * that could not be resolved or reconciled, 200 done. Herald's differences: 401 (not Flux's
 * 400) for a missing or wrong signature, token or ID token; 429 with Retry-After over the
 * per-path rate; an unknown path is a 404 before its body is read (Flux reads it first).
 * Logs name the Receiver, never the path (it is a credential for `generic`) or a secret.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { compileFilter, filterErrorMessage, type FilterVariables, type ResourceFilter } from './filter.js';
import { googleIdTokenVerifier, googleSigningKeys, type IdTokenVerifier } from './gcr-token.js';
import { discoveredIssuers, type OidcIssuers } from './oidc.js';
import { PathRateLimiter } from './rate-limit.js';
import { resolveTargets, type TargetResolver } from './targets.js';
import type { Receiver, TargetObject } from './types.js';
import { verifyRequest, type WebhookRequest } from './verify.js';
import { WEBHOOK_PATH_PREFIX } from './webhook-path.js';

/** A Receiver as the server needs it: its spec, whether it is Ready, and its Secret's keys. */
export interface ReceiverEntry {
  receiver: Receiver;
  ready: boolean;
  /** The decoded data of the Secret named by `spec.secretRef` (`token`, and `email`/`audience` for gcr). */
  secret: Readonly<Record<string, string>>;
}

export interface ReceiverLookup {
  /** The Receiver whose `status.webhookPath` is exactly this (the raw request target, query included). */
  byWebhookPath(path: string): ReceiverEntry | undefined;
}

/** Asks Flux to reconcile these objects: a `reconcile.fluxcd.io/requestedAt` patch each, or a count. */
export type RequestReconcile = (receiver: Receiver, targets: readonly TargetObject[]) => Promise<void>;

export interface ReceiverLimits {
  /** Largest request body, in bytes (Flux's bound: 3 MiB). */
  bodyBytes: number;
  /** Requests a path may make at once, and how fast its allowance comes back. */
  burstPerPath: number;
  perSecondPerPath: number;
  /** How many paths the rate limiter tracks at most. */
  maxTrackedPaths: number;
}

export const DEFAULT_RECEIVER_LIMITS: ReceiverLimits = {
  bodyBytes: 3 * 1024 * 1024,
  burstPerPath: 20,
  perSecondPerPath: 1,
  maxTrackedPaths: 10_000,
};

export interface ReceiverRoutesDeps {
  receivers: ReceiverLookup;
  targets: TargetResolver;
  requestReconcile: RequestReconcile;
  logger: Logger;
  /** Where the receiver's counters are registered (Herald's metrics registry). */
  registry: Registry;
  /** `--no-cross-namespace-refs`. */
  noCrossNamespaceRefs?: boolean;
  /** Checks gcr's OIDC tokens; default: Google's published keys. */
  idTokens?: IdTokenVerifier;
  /** Finds generic-oidc issuers' keys; default: OIDC discovery over HTTPS. */
  oidcIssuers?: OidcIssuers;
  limits?: Partial<ReceiverLimits>;
  now?: () => number;
  /** Called for each request whose signature or token checked out (the resources endpoint shows when). */
  onVerified?: (receiver: Receiver) => void;
}

type Outcome = 'accepted' | 'not_found' | 'unavailable' | 'rate_limited' | 'too_large' | 'unauthorized' | 'rejected' | 'failed';

function counter(registry: Registry, name: string, help: string, labelNames: string[]): Counter<string> {
  // A second server on the same registry (tests, a restart of the listener) reuses the series.
  return (registry.getSingleMetric(name) as Counter<string> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
}

function isJsonContent(contentType: string): boolean {
  return contentType.split(',').some((part) => (part.split(';')[0] ?? '').trim().toLowerCase() === 'application/json');
}

/** Compiled filters per Receiver object, so a request compiles nothing. */
const filterCache = new WeakMap<Receiver, { top?: ResourceFilter; perResource: (ResourceFilter | undefined)[] }>();

function filtersOf(receiver: Receiver): { top?: ResourceFilter; perResource: (ResourceFilter | undefined)[] } {
  let filters = filterCache.get(receiver);
  if (!filters) {
    const compile = (expression: string | undefined) => {
      if (!expression) return undefined;
      const compiled = compileFilter(expression, { withClaims: receiver.spec.type === 'generic-oidc' });
      // A Ready Receiver's filters compiled when it was validated; a failure here is a bug upstream.
      if (!compiled.ok) throw new Error(`filter does not compile: ${compiled.error}`);
      return compiled.filter;
    };
    filters = { top: compile(receiver.spec.resourceFilter), perResource: receiver.spec.resources.map((r) => compile(r.filter)) };
    filterCache.set(receiver, filters);
  }
  return filters;
}

/** Adds the receiver's hooks and `/hook/*` route to a listener of its own (it takes every body as bytes). */
export function addReceiverRoutes(app: FastifyInstance, deps: ReceiverRoutesDeps): void {
  const limits = { ...DEFAULT_RECEIVER_LIMITS, ...deps.limits };
  const logger = deps.logger.child({ server: 'receiver' });
  const idTokens = deps.idTokens ?? googleIdTokenVerifier(googleSigningKeys());
  const oidcIssuers = deps.oidcIssuers ?? discoveredIssuers();
  const now = deps.now ?? (() => Date.now());
  const limiter = new PathRateLimiter(
    { burst: limits.burstPerPath, perSecond: limits.perSecondPerPath, maxPaths: limits.maxTrackedPaths },
    deps.now,
  );
  const requests = counter(deps.registry, 'herald_receiver_requests_total', 'Requests to Receiver webhook paths, by receiver type and outcome.', ['type', 'outcome']);
  const reconciles = counter(deps.registry, 'herald_receiver_reconcile_requests_total', 'Objects a Receiver asked to reconcile, by receiver type.', ['type']);
  // The Receiver a request is for, found before its body is read (kept off Fastify's request type).
  const entries = new WeakMap<FastifyRequest, ReceiverEntry>();
  const count = (request: FastifyRequest, outcome: Outcome) => requests.inc({ type: entries.get(request)?.receiver.spec.type ?? '', outcome });
  const nameOf = (request: FastifyRequest) => {
    const meta = entries.get(request)?.receiver.metadata;
    return meta ? `${meta.namespace}/${meta.name}` : undefined;
  };

  // Every body is taken as raw bytes: signatures are over the exact bytes sent.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.setNotFoundHandler((request, reply) => {
    count(request, 'not_found');
    return reply.code(404).send();
  });
  app.setErrorHandler((error: { statusCode?: number; code?: string }, request, reply) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      count(request, 'too_large');
      return reply.code(413).send();
    }
    count(request, 'failed');
    logger.error({ code: error.code, receiver: nameOf(request) }, 'receiver request failed');
    return reply.code(error.statusCode && error.statusCode < 500 ? 400 : 500).send();
  });

  // Before the body is read: an unknown path, a Receiver that cannot serve, or a caller over its rate costs no body.
  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith(WEBHOOK_PATH_PREFIX)) return;
    const entry = deps.receivers.byWebhookPath(request.url);
    if (!entry) {
      count(request, 'not_found');
      return reply.code(404).send();
    }
    entries.set(request, entry);
    if (entry.receiver.spec.suspend || !entry.ready) {
      logger.error({ receiver: nameOf(request) }, entry.receiver.spec.suspend ? 'receiver is suspended' : 'receiver is not ready');
      count(request, 'unavailable');
      return reply.code(503).send();
    }
    const decision = limiter.take(request.url);
    if (!decision.allowed) {
      count(request, 'rate_limited');
      return reply.code(429).header('retry-after', String(decision.retryAfterSeconds)).send();
    }
  });

  app.all(`${WEBHOOK_PATH_PREFIX}*`, { bodyLimit: limits.bodyBytes }, async (request, reply) => {
    const entry = entries.get(request);
    if (!entry) return reply.code(404).send();
    const { receiver, secret } = entry;
    const log = logger.child({ receiver: nameOf(request), type: receiver.spec.type });
    const webhookRequest: WebhookRequest = {
      header: (name) => firstHeaderValue(request, name.toLowerCase()),
      body: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
    };
    const verdict = await verifyRequest(webhookRequest, {
      type: receiver.spec.type,
      token: secret.token ?? '',
      secret,
      events: receiver.spec.events ?? [],
      idTokens,
      oidcProviders: receiver.spec.oidcProviders ?? [],
      oidcIssuers,
      now: now(),
    });
    if (!verdict.ok) {
      log.error({ reason: verdict.reason }, 'unable to validate payload');
      count(request, verdict.outcome);
      return reply.code(verdict.outcome === 'unauthorized' ? 401 : 400).send();
    }
    log.info({ event: verdict.event }, 'handling request');
    deps.onVerified?.(receiver);

    const filters = filtersOf(receiver);
    const anyFilter = filters.top !== undefined || filters.perResource.some((f) => f !== undefined);
    let req: Record<string, unknown> = {};
    if (anyFilter && isJsonContent(webhookRequest.header('content-type'))) {
      try {
        const parsed: unknown = JSON.parse(verdict.payload.toString('utf8'));
        if (parsed !== null && (typeof parsed !== 'object' || Array.isArray(parsed))) throw new Error('not a JSON object');
        req = (parsed ?? {}) as Record<string, unknown>;
      } catch {
        log.error({}, 'unable to create resource filters: the request body is not a JSON object');
        count(request, 'failed');
        return reply.code(500).send();
      }
    }

    let withErrors = false;
    for (const [i, resource] of receiver.spec.resources.entries()) {
      const ref = { kind: resource.kind, name: resource.name, namespace: resource.namespace };
      try {
        const resolved = await resolveTargets(resource, receiver.metadata.namespace, deps.noCrossNamespaceRefs ?? false, deps.targets);
        if (!resolved.ok) {
          log.error({ resource: ref, error: resolved.error }, 'unable to request reconciliation');
          withErrors = true;
          continue;
        }
        if (resolved.targets.length === 0) log.error({ resource: ref }, 'no resources found with matching labels');
        const stack = [filters.top, filters.perResource[i]].filter((f): f is ResourceFilter => f !== undefined);
        const accepted = resolved.targets.filter((target) => {
          const vars: FilterVariables = { res: target as unknown as Record<string, unknown>, req, ...(verdict.claims && { claims: verdict.claims }) };
          const ok = stack.every((filter) => filter(vars));
          if (!ok) log.debug({ target: `${target.kind}/${target.metadata.name}.${target.metadata.namespace}` }, 'not annotated: the CEL filter returned false');
          return ok;
        });
        if (accepted.length === 0) continue;
        await deps.requestReconcile(receiver, accepted);
        reconciles.inc({ type: receiver.spec.type }, accepted.length);
        for (const target of accepted) log.info({ target: `${target.kind}/${target.metadata.name}.${target.metadata.namespace}` }, 'reconcile requested');
      } catch (error) {
        log.error({ resource: ref, error: filterErrorMessage(error) }, 'unable to request reconciliation');
        withErrors = true;
      }
    }
    count(request, withErrors ? 'failed' : 'accepted');
    return reply.code(withErrors ? 500 : 200).send();
  });
}

/**
 * The first value of a header, as Go's `Header.Get` reads it. `headersDistinct` keeps repeated
 * headers apart (Node joins them with ', ' in `headers`); injected requests only have `headers`.
 */
function firstHeaderValue(request: FastifyRequest, name: string): string {
  const distinct = (request.raw.headersDistinct as Record<string, string[]> | undefined)?.[name];
  if (distinct) return distinct[0] ?? '';
  const value = request.headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? '';
}
