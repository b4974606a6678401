/**
 * The open-loop schedule of the offered-load sweep: request i is due at start + i / rate,
 * whatever happened to the earlier ones (a fleet of controllers does not slow down because
 * the receiver does). Latencies are measured from these due times, not from when the request
 * actually left, so that a stalled receiver cannot hide its stall (coordinated omission).
 */
export class RateSchedule {
  private readonly intervalMs: number;

  /**
   * @param ratePerSec offered requests per second (> 0)
   * @param durationMs how long to offer them; the schedule holds floor(rate × duration) requests
   */
  constructor(
    readonly ratePerSec: number,
    readonly durationMs: number,
  ) {
    if (!(ratePerSec > 0) || !Number.isFinite(ratePerSec)) throw new Error(`rate must be a positive number, got ${ratePerSec}`);
    if (!(durationMs >= 0) || !Number.isFinite(durationMs)) throw new Error(`duration must be ≥ 0 ms, got ${durationMs}`);
    this.intervalMs = 1000 / ratePerSec;
  }

  /** Requests in the whole schedule. */
  get total(): number {
    // The epsilon keeps 1000/s × 1 s at 1000 despite binary fractions.
    return Math.floor((this.ratePerSec * this.durationMs) / 1000 + 1e-9);
  }

  /** Offset (ms from the start) at which request `i` is due. */
  dueAt(i: number): number {
    return i * this.intervalMs;
  }

  /** How many requests are due by `elapsedMs` after the start (never more than `total`). */
  dueBy(elapsedMs: number): number {
    if (elapsedMs < 0) return 0;
    return Math.min(this.total, Math.floor(elapsedMs / this.intervalMs + 1e-9) + 1);
  }
}

/** Parses `500,1000,2k` into ascending, distinct, positive rates. */
export function parseRates(text: string): number[] {
  const rates = text
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .map((t) => {
      const m = /^(\d+(?:\.\d+)?)(k?)$/i.exec(t);
      const n = m ? Number(m[1]) * (m[2] ? 1000 : 1) : NaN;
      if (!(n > 0)) throw new Error(`--rates: "${t}" is not a positive number of events/s`);
      return n;
    });
  return [...new Set(rates)].sort((a, b) => a - b);
}
