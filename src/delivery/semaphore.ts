/** A counting semaphore: at most `limit` holders at once, the others wait first come, first served. */
export class Semaphore {
  private held = 0;
  private readonly waiting: Array<(granted: boolean) => void> = [];
  /** When a holder last let go (performance.now()): whether the holders are moving at all. */
  private lastRelease = 0;

  constructor(private readonly limit: number) {}

  /** Whether nobody holds it or waits for it (so a map of them can drop it). */
  get idle(): boolean {
    return this.held === 0 && this.waiting.length === 0;
  }

  /**
   * Resolves true once held; false (then it is not held) when `stallMs` passed with no holder
   * letting go, or `maxMs` passed in all. A waiter behind holders that keep finishing keeps
   * its place for up to `maxMs`; behind holders that are stuck it gives up after `stallMs`.
   */
  acquire(stallMs = Infinity, maxMs = stallMs): Promise<boolean> {
    if (this.held < this.limit) {
      this.held += 1;
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = (granted: boolean) => {
        if (timer) clearTimeout(timer);
        resolve(granted);
      };
      this.waiting.push(waiter);
      if (!Number.isFinite(stallMs)) return;
      const deadline = performance.now() + maxMs;
      const check = () => {
        const now = performance.now();
        const stalledAt = this.lastRelease + stallMs;
        if (now < deadline && now < stalledAt) {
          timer = setTimeout(check, Math.min(deadline, stalledAt) - now);
          return;
        }
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        resolve(false);
      };
      timer = setTimeout(check, Math.min(stallMs, maxMs));
    });
  }

  release(): void {
    this.lastRelease = performance.now();
    const next = this.waiting.shift();
    // Handed straight to the next waiter: the count stays as it is.
    if (next) next(true);
    else this.held -= 1;
  }
}
