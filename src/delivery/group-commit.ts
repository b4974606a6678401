/**
 * Group commit: work handed in while a store is in flight is stored together, in one store,
 * as soon as that store ends. With no store in flight the work is stored at once, alone: there
 * is no timer and nothing waits for company, so an idle Herald adds no latency. Under load the
 * groups grow by themselves to what arrived during one store's round trip.
 *
 * Every caller's promise settles with its own group's store: resolved once that store is done
 * (durable), rejected with its error when it failed, so each POST is answered for its own work.
 * A group is bounded by item count and approximate bytes; a single submission is never split
 * (one event's deliveries are stored together or not at all), so a group holds at least one
 * submission whatever its size. A full group is stored at once, without waiting for the store
 * in flight: memory held by waiting groups stays bounded by the bounds times the stores in
 * flight, which the callers (HTTP requests, themselves bounded) limit.
 */

export interface GroupBounds {
  /** Items in one group, at most (unless one submission alone has more). */
  maxItems: number;
  /** Approximate bytes in one group, at most (unless one submission alone has more). */
  maxBytes: number;
}

/** What one caller hands in: its items (never split), and how much they weigh. */
export interface Submission {
  items: number;
  bytes: number;
}

interface Group<S, R> {
  submissions: S[];
  items: number;
  bytes: number;
  settle: Array<{ resolve: (result: R) => void; reject: (err: unknown) => void }>;
}

export class GroupCommit<S extends Submission, R> {
  private forming?: Group<S, R>;
  private inFlight = 0;

  constructor(
    /** Stores the submissions of one group at once; answers one result per submission, in order. */
    private readonly store: (submissions: S[]) => Promise<R[]>,
    private readonly bounds: GroupBounds,
  ) {}

  /** Resolves with its own result once its group is stored; rejects if that store failed. */
  submit(submission: S): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (this.inFlight === 0 && !this.forming) {
        this.run({ submissions: [submission], items: submission.items, bytes: submission.bytes, settle: [{ resolve, reject }] });
        return;
      }
      const group = this.forming;
      if (group && (group.items + submission.items > this.bounds.maxItems || group.bytes + submission.bytes > this.bounds.maxBytes)) {
        // Full: stored now, alongside the store in flight, and a new group starts with this one.
        this.forming = undefined;
        this.run(group);
      }
      const next = (this.forming ??= { submissions: [], items: 0, bytes: 0, settle: [] });
      next.submissions.push(submission);
      next.items += submission.items;
      next.bytes += submission.bytes;
      next.settle.push({ resolve, reject });
    });
  }

  private run(group: Group<S, R>): void {
    this.inFlight += 1;
    let stored: Promise<R[]>;
    try {
      stored = this.store(group.submissions);
    } catch (err) {
      stored = Promise.reject(err);
    }
    stored
      .then(
        (results) => group.settle.forEach((s, i) => s.resolve(results[i] as R)),
        (err: unknown) => group.settle.forEach((s) => s.reject(err)),
      )
      .finally(() => {
        this.inFlight -= 1;
        // The group formed meanwhile goes as soon as a store ends: at most one group is forming.
        const waiting = this.forming;
        if (waiting) {
          this.forming = undefined;
          this.run(waiting);
        }
      });
  }
}
