/**
 * Per-Provider circuit breakers. After `threshold` consecutive failures that say a Provider is
 * unreachable or failing (connection refused, reset or timed out, 5xx, 408, 429), its circuit
 * opens: its jobs are not attempted and spend no attempt, they wait (the queue parks or delays
 * them) while one probe delivery at a time tests the Provider on a growing cooldown. The
 * probe's success closes the circuit; its failure doubles the cooldown. A Retry-After opens
 * the circuit until then at once.
 *
 * Without it, a dead Provider's backlog is retried job by job, each on its own backoff: 5,000
 * jobs refused made 600 attempts a second for tens of seconds, and the work (and, in Redis mode,
 * the Redis commands) of those attempts slowed every other Provider's deliveries.
 *
 * State is per process: each replica has its own breakers, opens its own circuit after its own
 * failures and sends its own probes (so N replicas probe a dead Provider N times per cooldown).
 */
import { DeliveryError } from '../../providers/http.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { ProviderPausedError } from './queue.js';
import { MAX_RETRY_AFTER_MS } from './retry-policy.js';

/** What an attempt says about its Provider. */
export type Verdict =
  /** Delivered, or the provider answered with something other than "unavailable" (a 4xx): it is reachable. */
  | { kind: 'reachable' }
  /** Unreachable or failing; `retryAfterMs` when it said how long to wait. */
  | { kind: 'unavailable'; retryAfterMs?: number }
  /** Nothing about the provider (not attempted, Herald's own configuration error, an adapter bug). */
  | { kind: 'unknown' };

export type Admission = { admitted: true; probe: boolean } | { admitted: false; waitMs: number };

export interface CircuitBreakerOptions {
  /** Consecutive unavailable verdicts that open a circuit. */
  threshold?: number;
  /** Cooldown before the first probe; doubles after each failed probe, up to `maxCooldownMs`. */
  initialCooldownMs?: number;
  maxCooldownMs?: number;
  /** Providers tracked at most (those that failed since their last success); closed ones are forgotten first beyond. */
  maxTracked?: number;
  onOpen?: (provider: string, details: { type: string; cooldownMs: number; failures: number; retryAfterMs?: number }) => void;
  onClose?: (provider: string, details: { type: string; openMs: number }) => void;
  now?: () => number;
  random?: () => number;
}

export const DEFAULT_THRESHOLD = 5;
export const DEFAULT_INITIAL_COOLDOWN_MS = 1_000;
export const DEFAULT_MAX_COOLDOWN_MS = 60_000;
const DEFAULT_MAX_TRACKED = 10_000;

/**
 * Cooldowns on the scale of the retry schedule the operator chose (a probe is the Provider's
 * next retry): from `--retry-base-delay` (1 s), doubling up to `--retry-max-delay` or 60 s,
 * whichever is less.
 */
export function cooldownsFor(baseDelayMs: number, maxDelayMs: number): Pick<CircuitBreakerOptions, 'initialCooldownMs' | 'maxCooldownMs'> {
  const initialCooldownMs = Math.max(10, baseDelayMs);
  return { initialCooldownMs, maxCooldownMs: Math.max(initialCooldownMs, Math.min(maxDelayMs, DEFAULT_MAX_COOLDOWN_MS)) };
}
/** A probe time is drawn from the last fifth of the cooldown, so replicas do not probe in step. */
const PROBE_JITTER = 0.2;

interface Circuit {
  /** Consecutive unavailable verdicts while closed. */
  failures: number;
  /** Set while open: when the next probe may go. */
  probeAt?: number;
  openedAt: number;
  cooldownMs: number;
  probing: boolean;
  /** Provider type when it opened (the gauge's label). */
  type: string;
}

export class CircuitBreaker {
  private readonly circuits = new Map<string, Circuit>();
  private readonly threshold: number;
  private readonly initialCooldownMs: number;
  private readonly maxCooldownMs: number;
  private readonly maxTracked: number;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly opts: CircuitBreakerOptions = {}) {
    this.threshold = opts.threshold ?? DEFAULT_THRESHOLD;
    this.initialCooldownMs = opts.initialCooldownMs ?? DEFAULT_INITIAL_COOLDOWN_MS;
    this.maxCooldownMs = opts.maxCooldownMs ?? DEFAULT_MAX_COOLDOWN_MS;
    this.maxTracked = opts.maxTracked ?? DEFAULT_MAX_TRACKED;
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
  }

  /** Whether a delivery to `provider` may be attempted now (and whether it is the probe), or how long to wait. */
  admit(provider: string): Admission {
    const circuit = this.circuits.get(provider);
    if (circuit?.probeAt === undefined) return { admitted: true, probe: false };
    const now = this.now();
    if (now < circuit.probeAt) return { admitted: false, waitMs: circuit.probeAt - now };
    // The probe's answer decides; until it comes, the others look again a cooldown later.
    if (circuit.probing) return { admitted: false, waitMs: circuit.cooldownMs };
    circuit.probing = true;
    return { admitted: true, probe: true };
  }

  /** Records what an admitted delivery found out. `probe` as `admit` said. */
  settle(provider: string, type: string, probe: boolean, verdict: Verdict): void {
    const circuit = this.circuits.get(provider);
    if (verdict.kind === 'unknown') {
      if (probe && circuit) circuit.probing = false; // the next admitted job probes instead
      return;
    }
    if (verdict.kind === 'reachable') {
      if (!circuit) return;
      this.circuits.delete(provider);
      if (circuit.probeAt !== undefined) this.opts.onClose?.(provider, { type: circuit.type, openMs: this.now() - circuit.openedAt });
      return;
    }
    const now = this.now();
    const retryAfterMs = verdict.retryAfterMs === undefined ? undefined : Math.min(verdict.retryAfterMs, MAX_RETRY_AFTER_MS);
    if (circuit?.probeAt !== undefined) {
      // Open: only the probe's failure counts (deliveries admitted before it opened end meanwhile).
      if (probe) {
        circuit.probing = false;
        circuit.cooldownMs = Math.min(circuit.cooldownMs * 2, this.maxCooldownMs);
        circuit.probeAt = now + this.jittered(circuit.cooldownMs);
      }
      if (retryAfterMs !== undefined) circuit.probeAt = Math.max(circuit.probeAt, now + retryAfterMs);
      return;
    }
    const closed = circuit ?? this.track(provider, type);
    closed.failures += 1;
    if (closed.failures < this.threshold && retryAfterMs === undefined) return;
    closed.type = type;
    closed.openedAt = now;
    closed.cooldownMs = this.initialCooldownMs;
    closed.probeAt = now + Math.max(this.jittered(closed.cooldownMs), retryAfterMs ?? 0);
    closed.probing = false;
    this.opts.onOpen?.(provider, { type, cooldownMs: closed.probeAt - now, failures: closed.failures, retryAfterMs });
  }

  /**
   * An operator asked for a delivery now: an open circuit lets the next attempt through as its
   * probe at once (its success closes the circuit, its failure doubles the cooldown as usual).
   */
  probeNow(provider: string): void {
    const circuit = this.circuits.get(provider);
    if (circuit?.probeAt !== undefined && !circuit.probing) circuit.probeAt = Math.min(circuit.probeAt, this.now());
  }

  /** Providers whose circuit is open, with their type. */
  openCircuits(): Array<{ provider: string; type: string }> {
    return [...this.circuits].filter(([, c]) => c.probeAt !== undefined).map(([provider, c]) => ({ provider, type: c.type }));
  }

  private track(provider: string, type: string): Circuit {
    if (this.circuits.size >= this.maxTracked) {
      // Oldest first (insertion order); an open circuit is never forgotten.
      for (const [key, c] of this.circuits) {
        if (c.probeAt === undefined) {
          this.circuits.delete(key);
          break;
        }
      }
    }
    const circuit: Circuit = { failures: 0, openedAt: 0, cooldownMs: this.initialCooldownMs, probing: false, type };
    if (this.circuits.size < this.maxTracked) this.circuits.set(provider, circuit);
    return circuit;
  }

  private jittered(ms: number): number {
    return Math.round(ms * (1 - PROBE_JITTER * this.random()));
  }
}

/** What an attempt's error says about the Provider it was sent to. */
export function verdictOf(err: unknown): Verdict {
  if (!(err instanceof DeliveryError)) return { kind: 'unknown' };
  if (err.retryable) return { kind: 'unavailable', retryAfterMs: err.retryAfterMs };
  // A non-retryable answer (a 4xx, a 2xx that was cut) came from the provider; one without a
  // status is Herald refusing to send (invalid configuration, its own listener).
  return err.status === undefined ? { kind: 'unknown' } : { kind: 'reachable' };
}

/** One admitted delivery's hold on its Provider's circuit: settle it exactly once. */
export interface CircuitPass {
  /** The delivery succeeded, or failed with `err` (classified by `verdictOf`). */
  settle(err?: unknown): void;
  /** The delivery was not attempted after all (no slot, configuration changed): it tells nothing. */
  abandon(): void;
}

/**
 * The worker's breakers, with their metrics and log lines: `enter` admits a delivery or
 * throws `ProviderPausedError` (the queue then parks or delays the job, spending no attempt).
 */
export class ProviderCircuits {
  private readonly breaker: CircuitBreaker;

  constructor(
    private readonly metrics: Metrics,
    logger: Logger,
    opts: Omit<CircuitBreakerOptions, 'onOpen' | 'onClose'> = {},
  ) {
    this.breaker = new CircuitBreaker({
      ...opts,
      // The Provider's namespace/name only: never its address, which may carry a token.
      onOpen: (provider, { type, cooldownMs, failures, retryAfterMs }) => {
        metrics.circuitsOpen.inc({ provider_type: type });
        logger.warn({ provider, type, failures, retryAfterMs, probeInMs: cooldownMs }, 'provider unavailable; circuit opened, its deliveries wait for a probe');
      },
      onClose: (provider, { type, openMs }) => {
        metrics.circuitsOpen.dec({ provider_type: type });
        logger.info({ provider, type, openMs }, 'provider reachable again; circuit closed');
      },
    });
  }

  /** See `CircuitBreaker.probeNow`. */
  probeNow(provider: string): void {
    this.breaker.probeNow(provider);
  }

  enter(provider: string, type: string): CircuitPass {
    const admission = this.breaker.admit(provider);
    if (!admission.admitted) {
      this.metrics.deliveriesDeferred.inc({ provider_type: type });
      throw new ProviderPausedError(admission.waitMs);
    }
    let settled = false;
    const settle = (verdict: Verdict) => {
      if (settled) return;
      settled = true;
      this.breaker.settle(provider, type, admission.probe, verdict);
    };
    return {
      settle: (err?: unknown) => settle(err === undefined ? { kind: 'reachable' } : verdictOf(err)),
      abandon: () => settle({ kind: 'unknown' }),
    };
  }
}
