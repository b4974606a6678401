/**
 * What the admin API tells about recent deliveries without asking the queue: each Provider's
 * last delivery outcome (`GET /resources`) and the rates of outcomes over the last minute
 * (`GET /stats`). Fed one outcome at a time by the delivery processor (`onOutcome`).
 *
 * Bounds: one last outcome per Provider that exists (an outcome for a Provider the store does
 * not know is not kept, and `prune` drops those of deleted Providers), and a fixed ring of
 * RATE_WINDOW_SECONDS per-second counters per outcome.
 */
import type { DeliveryOutcome } from '../delivery/worker.js';

export type Outcome = DeliveryOutcome['outcome'];

export const OUTCOMES: readonly Outcome[] = ['delivered', 'retrying', 'dead'];

/** The window `GET /stats` rates are averaged over. */
export const RATE_WINDOW_SECONDS = 60;

/**
 * Outcomes per second over the last RATE_WINDOW_SECONDS: one counter per second and outcome in
 * a ring, each slot tagged with the second it counts, so a slot left from an earlier lap of the
 * ring is recognised as stale instead of being cleared by a timer.
 */
export class DeliveryRates {
  private readonly slotSecond = new Array<number>(RATE_WINDOW_SECONDS).fill(-1);
  private readonly counts = new Map<Outcome, number[]>(OUTCOMES.map((o) => [o, new Array<number>(RATE_WINDOW_SECONDS).fill(0)]));

  record(outcome: Outcome, now = Date.now()): void {
    const second = Math.floor(now / 1000);
    const slot = second % RATE_WINDOW_SECONDS;
    if (this.slotSecond[slot] !== second) {
      this.slotSecond[slot] = second;
      for (const counts of this.counts.values()) counts[slot] = 0;
    }
    const counts = this.counts.get(outcome) as number[];
    counts[slot] = (counts[slot] as number) + 1;
  }

  /** Each outcome's average per second over the last RATE_WINDOW_SECONDS (the current second included), to three decimals. */
  perSecond(now = Date.now()): Record<Outcome, number> {
    const second = Math.floor(now / 1000);
    const rates = {} as Record<Outcome, number>;
    for (const [outcome, counts] of this.counts) {
      let total = 0;
      for (let slot = 0; slot < RATE_WINDOW_SECONDS; slot++) {
        const age = second - (this.slotSecond[slot] as number);
        if (age >= 0 && age < RATE_WINDOW_SECONDS) total += counts[slot] as number;
      }
      rates[outcome] = Math.round((total / RATE_WINDOW_SECONDS) * 1000) / 1000;
    }
    return rates;
  }
}

/** A Provider's last delivery outcome as `GET /resources` shows it. */
export interface LastDelivery {
  at: number;
  outcome: Outcome;
  /** `namespace/name` of the Alert it went through. */
  alert: string;
  /** Masked and cut, when it failed. */
  error?: string;
}

/** The last delivery outcome of each existing Provider. */
export class LastDeliveries {
  private readonly last = new Map<string, LastDelivery>();

  /** `exists(namespace/name)`: whether the Provider is (still) in the store. */
  constructor(private readonly exists: (provider: string) => boolean) {}

  record(outcome: DeliveryOutcome): void {
    if (!this.exists(outcome.provider)) return;
    const { at, alert, error } = outcome;
    this.last.set(outcome.provider, { at, outcome: outcome.outcome, alert, ...(error !== undefined ? { error } : {}) });
  }

  of(provider: string): LastDelivery | undefined {
    return this.last.get(provider);
  }

  /** Forgets the Providers that no longer exist (call it when the store changes). */
  prune(): void {
    for (const provider of this.last.keys()) if (!this.exists(provider)) this.last.delete(provider);
  }

  get size(): number {
    return this.last.size;
  }
}

/** Both, fed by one function the delivery processor calls. */
export class DeliveryActivity {
  readonly rates = new DeliveryRates();
  readonly lastDeliveries: LastDeliveries;

  constructor(providerExists: (provider: string) => boolean) {
    this.lastDeliveries = new LastDeliveries(providerExists);
  }

  readonly record = (outcome: DeliveryOutcome): void => {
    this.rates.record(outcome.outcome, outcome.at);
    this.lastDeliveries.record(outcome);
  };
}
