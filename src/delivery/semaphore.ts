/** A counting semaphore: at most `limit` holders at once, the others wait first come, first served. */
export class Semaphore {
  private held = 0;
  private readonly waiting: Array<(granted: boolean) => void> = [];

  constructor(private readonly limit: number) {}

  /** Whether nobody holds it or waits for it (so a map of them can drop it). */
  get idle(): boolean {
    return this.held === 0 && this.waiting.length === 0;
  }

  /** Resolves true once held; false when `timeoutMs` passed first (then it is not held). */
  acquire(timeoutMs = Infinity): Promise<boolean> {
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
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          const at = this.waiting.indexOf(waiter);
          if (at >= 0) this.waiting.splice(at, 1);
          resolve(false);
        }, timeoutMs);
      }
    });
  }

  release(): void {
    const next = this.waiting.shift();
    // Handed straight to the next waiter: the count stays as it is.
    if (next) next(true);
    else this.held -= 1;
  }
}
