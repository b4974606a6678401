/**
 * The store's Provider and Alert states, keyed by `namespace/name`, that keep count of how many
 * are in each Ready status as they are set and deleted. `/metrics` reads the counts on every
 * scrape: counting as the states change makes a scrape cost the same with 10 Alerts as with
 * 10,000.
 */
import type { ReadyCondition } from '../api/types.js';

export type ReadyStatus = ReadyCondition['status'];

export class TalliedStates<V extends { condition: ReadyCondition }> extends Map<string, V> {
  private readonly tally = new Map<ReadyStatus, number>();

  /** Always empty at first: Map's constructor would call `set` with entries before `tally` exists. */
  constructor() {
    super();
  }

  override set(key: string, value: V): this {
    const previous = this.get(key);
    if (previous) this.count(previous.condition.status, -1);
    this.count(value.condition.status, 1);
    return super.set(key, value);
  }

  override delete(key: string): boolean {
    const previous = this.get(key);
    if (previous) this.count(previous.condition.status, -1);
    return super.delete(key);
  }

  override clear(): void {
    this.tally.clear();
    super.clear();
  }

  /** How many states are in each Ready status (statuses with none are left out). */
  counts(): ReadonlyMap<ReadyStatus, number> {
    return this.tally;
  }

  private count(status: ReadyStatus, by: number): void {
    const next = (this.tally.get(status) ?? 0) + by;
    if (next === 0) this.tally.delete(status);
    else this.tally.set(status, next);
  }
}
