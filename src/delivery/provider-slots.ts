/**
 * Per-Provider limits on deliveries in flight in this process. A job whose Provider is busy
 * waits briefly for a slot (a fast provider frees one within milliseconds); if none frees in
 * time the provider is slow, and the job goes back to the queue instead of holding a worker
 * slot that deliveries to other providers need.
 */
export class ProviderSlots {
  private readonly busy = new Map<string, number>();
  private readonly waiters = new Map<string, Array<() => void>>();
  /**
   * Providers found slow: a job waited the full time for one of their slots and none freed.
   * Until one of their slots frees with nobody waiting, their other jobs go back to the queue
   * at once instead of each holding a worker slot for the whole wait (a hanging provider with
   * a backlog would otherwise keep most worker slots waiting and delay every other provider).
   */
  private readonly slow = new Set<string>();
  /** Per Provider: how long a delivery holds a slot (moving average, ms). */
  private readonly holdMs = new Map<string, number>();
  /** Per Provider: when the last job sent back to the queue is due, if served at the Provider's pace. */
  private readonly nextTurnAt = new Map<string, number>();

  constructor(private readonly limit: number) {}

  /** Resolves true once a slot for `provider` is held, false if none freed within `waitMs`. */
  acquire(provider: string, waitMs: number): Promise<boolean> {
    const held = this.busy.get(provider) ?? 0;
    if (held < this.limit) {
      this.busy.set(provider, held + 1);
      return Promise.resolve(true);
    }
    if (this.slow.has(provider)) return Promise.resolve(false);
    return new Promise((resolve) => {
      const queue = this.waiters.get(provider) ?? [];
      this.waiters.set(provider, queue);
      const handOver = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        const index = queue.indexOf(handOver);
        if (index >= 0) queue.splice(index, 1);
        if (queue.length === 0) this.waiters.delete(provider);
        this.slow.add(provider);
        resolve(false);
      }, waitMs);
      queue.push(handOver);
    });
  }

  /**
   * How long a job that got no slot should stay in the queue: until its turn, were the jobs
   * sent back before it served at the Provider's pace (`limit` at a time, each holding a slot
   * as long as deliveries to it lately did), between `minMs` and `maxMs`. A Provider that
   * cannot keep up with its backlog then has each of its jobs taken from the queue about once
   * per turn, not every second (which, for thousands of jobs, kept Redis and the workers busy
   * with nothing but sending them back).
   */
  deferDelay(provider: string, minMs: number, maxMs: number, now = Date.now()): number {
    const pace = (this.holdMs.get(provider) ?? 0) / this.limit;
    const turn = Math.min(Math.max(this.nextTurnAt.get(provider) ?? now, now) + pace, now + maxMs);
    this.nextTurnAt.set(provider, turn);
    return Math.max(minMs, Math.round(turn - now));
  }

  /** Frees a slot, handing it straight to the longest-waiting job for the same provider; `heldMs` is how long it was held. */
  release(provider: string, heldMs?: number): void {
    if (heldMs !== undefined) {
      const average = this.holdMs.get(provider);
      this.holdMs.set(provider, average === undefined ? heldMs : average * 0.8 + heldMs * 0.2);
    }
    const queue = this.waiters.get(provider);
    const next = queue?.shift();
    if (queue && queue.length === 0) this.waiters.delete(provider);
    if (next) {
      next();
      return;
    }
    this.slow.delete(provider); // a slot is free and nobody was waiting for it: not slow
    const held = (this.busy.get(provider) ?? 1) - 1;
    if (held <= 0) this.busy.delete(provider);
    else this.busy.set(provider, held);
  }
}
