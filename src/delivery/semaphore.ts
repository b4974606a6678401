/** A counting semaphore: at most `limit` holders at once, the others wait first come, first served. */
export class Semaphore {
  private held = 0;
  private readonly waiting: Waiter[] = [];
  /** When a holder last let go (performance.now()): whether the holders are moving at all. */
  private lastRelease = 0;
  /**
   * One timer for every waiter with a bound, set for the earliest time one of them may give
   * up: under load most deliveries wait for their Provider's turn, and a timer each was a
   * measurable share of what the delivery thread allocated.
   */
  private timer: NodeJS.Timeout | undefined;
  /** When the timer is set for (performance.now()). */
  private armedFor = Infinity;

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
      return GRANTED;
    }
    return new Promise<boolean>((grant) => {
      const since = performance.now();
      const waiter = { grant, stallMs, since, deadline: since + maxMs };
      this.waiting.push(waiter);
      // Unbounded: no timer (and no scan of the waiters, which may be many).
      if (!Number.isFinite(stallMs) && !Number.isFinite(maxMs)) return;
      // Set for a later give-up than this waiter's (other bounds than the waiters before): sooner.
      if (this.timer && this.givesUpAt(waiter) < this.armedFor) this.disarm();
      this.arm();
    });
  }

  release(): void {
    this.lastRelease = performance.now();
    const next = this.waiting.shift();
    // Handed straight to the next waiter: the count stays as it is.
    if (next) next.grant(true);
    else this.held -= 1;
    // Nobody left to give up: the timer must not hold the event loop (a thread's exit) open.
    if (this.waiting.length === 0) this.disarm();
  }

  /** When `waiter` gives up: `maxMs` after it came, or `stallMs` after it came or after the last release, whichever is later. */
  private givesUpAt(waiter: Waiter): number {
    return Math.min(waiter.deadline, Math.max(waiter.since, this.lastRelease) + waiter.stallMs);
  }

  private arm(): void {
    if (this.timer) return;
    let at = Infinity;
    for (const waiter of this.waiting) at = Math.min(at, this.givesUpAt(waiter));
    if (at === Infinity) return;
    this.armedFor = at;
    this.timer = setTimeout(() => this.expire(), Math.max(0, at - performance.now()));
  }

  private disarm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Lets the waiters whose time is up go (each told false, no longer queued), then arms for the next. */
  private expire(): void {
    this.timer = undefined;
    const now = performance.now();
    let kept = 0;
    for (const waiter of this.waiting) {
      if (now >= this.givesUpAt(waiter)) waiter.grant(false);
      else this.waiting[kept++] = waiter;
    }
    this.waiting.length = kept;
    this.arm();
  }
}

interface Waiter {
  grant: (granted: boolean) => void;
  stallMs: number;
  /** performance.now() when it came, and when it gives up whatever happens. */
  since: number;
  deadline: number;
}

/** Shared by every acquire that holds at once: awaiting a settled promise needs no new one. */
const GRANTED = Promise.resolve(true);
