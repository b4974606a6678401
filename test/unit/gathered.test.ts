import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GATHER_MS, Gathered } from '../../src/observability/gathered.js';

describe('Gathered', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] }));
  afterEach(() => vi.useRealTimers());

  it('hands over what came within GATHER_MS of the first item, together, then starts again', async () => {
    const handed: number[][] = [];
    const gathered = new Gathered<number>((items) => handed.push(items), () => Infinity);
    gathered.add(1);
    await vi.advanceTimersByTimeAsync(GATHER_MS - 1);
    gathered.add(2);
    expect(handed).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(handed).toEqual([[1, 2]]);
    gathered.add(3);
    gathered.flush();
    expect(handed).toEqual([[1, 2], [3]]);
    // Nothing gathered: no timer left, nothing handed over.
    expect(vi.getTimerCount()).toBe(0);
    gathered.flush();
    expect(handed).toHaveLength(2);
  });

  it('drops what would go past its room, by count or by weight', () => {
    const byCount = new Gathered<string>(() => undefined, () => 2);
    for (const item of ['a', 'b', 'c']) byCount.add(item);
    expect(byCount.take()).toEqual(['a', 'b']);
    const byWeight = new Gathered<string>(() => undefined, () => 5, (item) => item.length);
    for (const item of ['abc', 'de', 'f']) byWeight.add(item);
    expect(byWeight.take()).toEqual(['abc', 'de']);
    // Taken: the room is free again, and no timer is left behind.
    byWeight.add('fghij');
    expect(byWeight.take()).toEqual(['fghij']);
    expect(vi.getTimerCount()).toBe(0);
  });
});
