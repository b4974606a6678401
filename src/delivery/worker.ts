/**
 * Runs one delivery attempt: resolves the job's Provider as it is now, has the adapter send,
 * and turns the outcome into metrics, a log line and the queue's retry decision.
 */
import type { HttpClient } from '../../providers/contract.js';
import { DeliveryError } from '../../providers/http.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { ResourceStore } from '../resources/store.js';
import { parseObjectKey, type Alert } from '../api/types.js';
import { ProviderCircuits, type CircuitBreakerOptions } from './circuit-breaker.js';
import { UNSUPPORTED_TYPE } from '../alerts/notification.js';
import type { HttpClients } from './http-clients.js';
import type { DeliveryJob } from './job.js';
import { ProviderSlots } from './provider-slots.js';
import { DeferError, PermanentError, RetryableError, keptError, type AttemptInfo, type Processor } from './queue.js';

export interface WorkerOptions {
  store: ResourceStore;
  /** Each Provider's HTTP client, for its current configuration. */
  clients: HttpClients;
  metrics: Metrics;
  logger: Logger;
  /**
   * In-flight deliveries allowed per Provider in this process, so that a slow or hanging
   * provider holds at most this many worker slots and never starves the others.
   */
  perProviderConcurrency: number;
  /**
   * Told once per delivery that failed for good, after it is counted and logged as a dead
   * letter, with its (masked) reason: the resource source records it on the Alert.
   */
  onDeadLetter?: (job: DeliveryJob, message: string) => void;
  /**
   * The Alert a job is for, by `namespace/name` (its uid and spec go to the adapter); the
   * store's matcher index when unset. The delivery thread keeps Alerts apart from its store.
   */
  alertOf?: (key: string) => Alert | undefined;
  /** Per-Provider circuit breakers' settings (see circuit-breaker.ts); defaults when unset. */
  circuit?: Pick<CircuitBreakerOptions, 'threshold' | 'initialCooldownMs' | 'maxCooldownMs'>;
  /**
   * Told the outcome of every attempt that reached the provider (the admin API's last delivery
   * per Provider and its rates). A plain function of plain data, so that it can be forwarded
   * from wherever deliveries run.
   */
  onOutcome?: (outcome: DeliveryOutcome) => void;
}

/** What became of one delivery attempt, as operators are told it. */
export interface DeliveryOutcome {
  /** `namespace/name` of the Provider and of the Alert. */
  provider: string;
  alert: string;
  outcome: 'delivered' | 'retrying' | 'dead';
  /** Epoch milliseconds. */
  at: number;
  /** Why it failed, masked and cut (see `keptError`). */
  error?: string;
  /** When retrying: epoch milliseconds of the next attempt. */
  nextAttemptAt?: number;
}

/** How long a job waits in-process for a busy Provider before going back to the queue. */
const SLOT_WAIT_MS = 250;
/**
 * How long it then stays in the queue: its turn at the Provider's pace (see
 * `ProviderSlots.deferDelay`), at least long enough that a slow provider's backlog does not
 * spin, at most short enough that a recovered Provider gets its backlog soon; plus up to
 * DEFER_SPREAD_MS at random, so that jobs sent back together do not return together.
 */
const DEFER_MIN_MS = 500;
const DEFER_MAX_MS = 30_000;
const DEFER_SPREAD_MS = 1000;

/** The processor, and what an operator's action tells it (plain calls, so they can be forwarded by message). */
export interface DeliveryProcessor extends Processor {
  /** A delivery of `provider` was made due now by an operator: an open circuit lets the next attempt through as its probe. */
  probeNow(provider: string): void;
}

export function createProcessor(opts: WorkerOptions): DeliveryProcessor {
  const slots = new ProviderSlots(opts.perProviderConcurrency);
  const { store, clients, metrics, logger } = opts;
  const circuits = new ProviderCircuits(metrics, logger, opts.circuit);
  const alertOf = opts.alertOf ?? ((key: string) => store.alerts.get(key)?.alert);

  const deliver = async function deliver(job: DeliveryJob, info: AttemptInfo): Promise<void> {
    const [namespace, name] = parseObjectKey(job.provider);
    const provider = store.provider(namespace, name);
    const type = provider ? (provider.adapter?.type ?? UNSUPPORTED_TYPE) : job.providerType;
    // Built only when something is logged: a child logger per delivery is measurable at load.
    let child: Logger | undefined;
    const log = () => (child ??= logger.child({ job: info.id, alert: job.alert, provider: job.provider, type, attempt: info.attempt }));

    if (provider?.suspended) {
      metrics.deliveries.inc({ provider_type: type, outcome: 'dropped' });
      log().info('provider is suspended; notification dropped');
      return;
    }
    // Throws ProviderPausedError (no attempt spent) while the Provider's circuit is open.
    const circuit = circuits.enter(job.provider, type);
    if (!(await slots.acquire(job.provider, SLOT_WAIT_MS))) {
      circuit.abandon();
      throw new DeferError(slots.deferDelay(job.provider, DEFER_MIN_MS, DEFER_MAX_MS) + Math.round(Math.random() * DEFER_SPREAD_MS));
    }
    const started = performance.now();
    let http: HttpClient | undefined;
    try {
      if (!provider) throw new RetryableError(`provider ${job.provider} not found`);
      if (!provider.ready || !provider.adapter || !provider.config) {
        throw new RetryableError(`provider ${job.provider} is not ready: ${provider.reason}: ${provider.message}`);
      }
      http = clients.clientFor(job.provider, provider);
      if (!http) throw new ConfigurationChanged();
      const [alertNamespace = '', alertName = ''] = job.alert.split('/');
      const stored = alertOf(job.alert);
      const alert = { namespace: alertNamespace, name: alertName, uid: stored?.metadata.uid ?? '', ...(stored ? { spec: stored.spec } : {}) };
      await provider.adapter.send(job.event, { config: provider.config, prepared: provider.prepared, http, alert });
      const seconds = (performance.now() - started) / 1000;
      circuit.settle();
      metrics.deliveries.inc({ provider_type: type, outcome: 'success' });
      metrics.deliveryDuration.observe({ provider_type: type, outcome: 'success' }, seconds);
      metrics.deliveryLatency.observe({ provider_type: type }, Math.max(0, Date.now() - job.acceptedAt) / 1000);
      metrics.attemptsPerDelivery.observe({ provider_type: type, outcome: 'success' }, info.attempt);
      // No child logger: this line is written for every delivery.
      logger.info(
        { job: info.id, alert: job.alert, provider: job.provider, type, attempt: info.attempt, outcome: 'delivered', ms: Math.round(seconds * 1000) },
        'notification delivered',
      );
      opts.onOutcome?.({ provider: job.provider, alert: job.alert, outcome: 'delivered', at: Date.now() });
    } catch (err) {
      // The Provider or its Secret changed during the attempt (or while it waited for a slot):
      // the HTTP client it used was closed (new requests on it fail with "client is closed").
      // Not the provider's failure: hand the job back without spending an attempt, to be sent
      // with the current configuration.
      if (err instanceof ConfigurationChanged || (http && !clients.isCurrent(job.provider, http))) {
        circuit.abandon();
        log().info('provider configuration changed during the delivery; trying again with the new one');
        throw new DeferError(DEFER_MIN_MS / 10);
      }
      circuit.settle(err);
      let failure = classify(err, http?.mask);
      const dead = failure instanceof PermanentError || info.finalAttempt;
      const outcome = dead ? 'failed' : 'retry';
      metrics.deliveries.inc({ provider_type: type, outcome });
      metrics.deliveryDuration.observe({ provider_type: type, outcome }, (performance.now() - started) / 1000);
      if (dead) {
        metrics.deadLetters.inc({ provider_type: type });
        metrics.attemptsPerDelivery.observe({ provider_type: type, outcome: 'failed' }, info.attempt);
        log().error({ err: failure.message, outcome: 'dead' }, 'delivery failed for good; kept as a dead letter');
        opts.onDeadLetter?.(job, failure.message);
        opts.onOutcome?.({ provider: job.provider, alert: job.alert, outcome: 'dead', at: Date.now(), error: keptError(failure.message) });
      } else {
        const retryAfterMs = failure instanceof RetryableError ? failure.retryAfterMs : undefined;
        // The queue's delay, asked for now and kept by the queue, so the line can say when.
        const delayMs = info.retryDelayMs?.(retryAfterMs);
        const nextAttemptAt = delayMs === undefined ? undefined : Date.now() + delayMs;
        if (delayMs !== undefined) failure = new RetryableError(failure.message, retryAfterMs, delayMs);
        log().warn(
          { err: failure.message, retryAfterMs, outcome: 'retrying', nextAttemptAt: nextAttemptAt === undefined ? undefined : new Date(nextAttemptAt).toISOString() },
          'delivery failed; will retry',
        );
        opts.onOutcome?.({ provider: job.provider, alert: job.alert, outcome: 'retrying', at: Date.now(), error: keptError(failure.message), nextAttemptAt });
      }
      throw failure;
    } finally {
      slots.release(job.provider, performance.now() - started);
    }
  };
  return Object.assign(deliver, { probeNow: (provider: string) => circuits.probeNow(provider) });
}

/** The Provider was resolved again after this attempt looked it up. */
class ConfigurationChanged extends Error {}

/** Maps whatever an adapter threw to the queue's retry vocabulary, secrets masked. */
function classify(err: unknown, mask: (text: string) => string = (t) => t): RetryableError | PermanentError {
  if (err instanceof RetryableError || err instanceof PermanentError) return err;
  if (err instanceof DeliveryError) {
    return err.retryable ? new RetryableError(mask(err.message), err.retryAfterMs) : new PermanentError(mask(err.message));
  }
  // An adapter bug or an unexpected library error: retry, it may be transient, and say what it was.
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return new RetryableError(mask(message));
}
