/** A counting semaphore: at most `limit` holders at once, the others wait first come, first served. */
export class Semaphore {
  private held = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async acquire(): Promise<void> {
    if (this.held < this.limit) {
      this.held += 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    // Handed straight to the next waiter: the count stays as it is.
    if (next) next();
    else this.held -= 1;
  }
}
