/**
 * Items gathered for up to GATHER_MS, then handed over together: log lines written to stdout as
 * one text, the delivery thread's lines and outcomes posted to the main thread as one message
 * each. A write or a message per item (or per turn of the event loop) costs a system call or a
 * wake-up of the other thread each, which is measurable at a few thousand deliveries a second.
 */

/** How long an item waits for the items after it, at most. */
export const GATHER_MS = 10;

export class Gathered<T> {
  private items: T[] = [];
  private weight = 0;
  private timer: NodeJS.Timeout | undefined;

  /**
   * `room()`: the weight that may wait here; an item that would take more is dropped.
   * `weigh`: an item's weight (bytes for a log line); 1 each by default.
   */
  constructor(
    private readonly hand: (items: T[]) => void,
    private readonly room: () => number,
    private readonly weigh: (item: T) => number = () => 1,
  ) {}

  add(item: T): void {
    const weight = this.weigh(item);
    if (this.weight + weight > this.room()) return;
    this.items.push(item);
    this.weight += weight;
    this.timer ??= setTimeout(() => this.flush(), GATHER_MS);
  }

  /** Hands over what is gathered now. */
  flush(): void {
    const items = this.take();
    if (items.length > 0) this.hand(items);
  }

  /** What is gathered, no longer held here. */
  take(): T[] {
    clearTimeout(this.timer);
    this.timer = undefined;
    const items = this.items;
    this.items = [];
    this.weight = 0;
    return items;
  }
}
