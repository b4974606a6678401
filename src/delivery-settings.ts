/**
 * What deliveries are given, from the flags: the same for the delivery thread started ahead of
 * the service's modules (main.ts) and for the runtime that takes it over (serve.ts).
 */
import type { Config } from './config.js';
import { cooldownsFor } from './delivery/circuit-breaker.js';
import type { DeliverySettings } from './delivery/delivery-runtime.js';
import { MAX_RETRY_AFTER_MS, type RetryPolicy } from './delivery/retry-policy.js';

export function retryPolicy(config: Config): RetryPolicy {
  return {
    attempts: config.maxAttempts,
    baseDelayMs: config.retryBaseDelayMs,
    maxDelayMs: config.retryMaxDelayMs,
    maxRetryAfterMs: MAX_RETRY_AFTER_MS,
  };
}

export function deliverySettings(config: Config): DeliverySettings {
  return {
    redis: config.redis,
    prefix: config.redisPrefix,
    thread: config.deliveryThread,
    logLevel: config.logLevel,
    policy: retryPolicy(config),
    concurrency: config.workerConcurrency,
    perProviderConcurrency: config.providerConcurrency,
    stalledIntervalMs: config.stalledIntervalMs,
    circuit: cooldownsFor(config.retryBaseDelayMs, config.retryMaxDelayMs),
    noCrossNamespaceRefs: config.noCrossNamespaceRefs,
    // No Provider may deliver to Herald itself (e.g. to the admin API's replay).
    ownListeners: [
      { flag: 'events-addr', ...config.eventsAddr },
      { flag: 'metrics-addr', ...config.metricsAddr },
      { flag: 'health-addr', ...config.healthAddr },
      { flag: 'admin-addr', ...config.adminAddr },
      { flag: 'receiver-addr', ...config.receiverAddr },
    ],
  };
}
