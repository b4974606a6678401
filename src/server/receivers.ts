/**
 * The receiver listener (`--receiver-addr`, `:9292`): Receivers' `/hook/<digest>` routes
 * (src/receivers/routes.ts) on the listener base every Herald listener shares, so it gets the
 * same deadlines, connection cap, memory budget for bodies being received, and request-duration
 * metric (`server="receiver"`, route `/hook/*`: never the path, which is a credential).
 */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../observability/metrics.js';
import { DEFAULT_RECEIVER_LIMITS, addReceiverRoutes, type ReceiverLimits, type ReceiverRoutesDeps } from '../receivers/routes.js';
import { baseServer, type ListenerLimits } from './base.js';

/**
 * Defaults for the receiver listener: Git hosts and registries send few requests, but each
 * body may be Flux's 3 MiB. Flux's own read deadlines are 10 s for the head (the base's) and
 * 30 s for the whole request; its head bound is larger (256 KiB), but no sender's comes close
 * to 16 KiB.
 */
export const RECEIVER_LISTENER_LIMITS: ListenerLimits = {
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 30_000,
  maxConnections: 128,
  maxHeaderBytes: 16 * 1024,
  // About ten full bodies at once; more wait for a 503 with Retry-After, which senders retry.
  maxBodyBytesInFlight: 32 * 1024 * 1024,
};

export interface ReceiverServerDeps extends Omit<ReceiverRoutesDeps, 'registry' | 'limits'> {
  metrics: Metrics;
  /** The body bound and the per-path rate. */
  limits?: Partial<ReceiverLimits>;
  /** The listener's deadlines and caps. */
  listener?: ListenerLimits;
}

export function buildReceiverServer(deps: ReceiverServerDeps): FastifyInstance {
  const { metrics, listener, ...routes } = deps;
  const bodyBytes = deps.limits?.bodyBytes ?? DEFAULT_RECEIVER_LIMITS.bodyBytes;
  const app = baseServer(deps.logger, metrics, 'receiver', { bodyLimit: bodyBytes }, listener ?? RECEIVER_LISTENER_LIMITS);
  addReceiverRoutes(app, { ...routes, registry: metrics.registry });
  return app;
}
