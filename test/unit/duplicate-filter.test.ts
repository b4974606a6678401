import { describe, expect, it } from 'vitest';
import { MemoryDuplicateFilter, RedisDuplicateFilter } from '../../src/server/duplicate-filter.js';

describe('MemoryDuplicateFilter', () => {
  it('refuses a key within a fixed window from when it was remembered', async () => {
    let now = 0;
    const filter = new MemoryDuplicateFilter(1000, () => now);
    expect((await filter.windowEnd('k')) !== undefined).toBe(false);
    await filter.remember('k');
    now = 999;
    expect((await filter.windowEnd('k')) !== undefined).toBe(true);
    expect((await filter.windowEnd('other')) !== undefined).toBe(false);
    now = 1000;
    expect((await filter.windowEnd('k')) !== undefined).toBe(false);
    filter.close();
  });

  it('remembering again inside the window does not move its start', async () => {
    let now = 0;
    const filter = new MemoryDuplicateFilter(1000, () => now);
    await filter.remember('k');
    now = 600;
    await filter.remember('k');
    now = 1000;
    expect((await filter.windowEnd('k')) !== undefined).toBe(false);
    filter.close();
  });

  it('remembers at most maxKeys keys, dropping the one whose window ends soonest, and keeps the others fixed windows', async () => {
    let now = 0;
    const filter = new MemoryDuplicateFilter(1000, () => now, 3);
    for (const key of ['a', 'b', 'c']) {
      await filter.remember(key);
      now += 10;
    }
    await filter.remember('d'); // over the cap: 'a', the oldest window, goes
    expect(filter.size).toBe(3);
    expect((await filter.windowEnd('a')) !== undefined).toBe(false);
    for (const key of ['b', 'c', 'd']) expect((await filter.windowEnd(key)) !== undefined).toBe(true);
    // Remembering a live key again neither moves its window nor saves it from eviction order.
    await filter.remember('b');
    await filter.remember('e');
    expect((await filter.windowEnd('b')) !== undefined).toBe(false);
    expect((await filter.windowEnd('c')) !== undefined).toBe(true);
    // An expired key remembered again starts a new window, at the end of the order.
    now = 1030; // 'c' (remembered at 20) expired at 1020
    await filter.remember('c');
    now = 1500;
    expect((await filter.windowEnd('c')) !== undefined).toBe(true);
    await filter.remember('f'); // evicts 'd', not the renewed 'c'
    expect((await filter.windowEnd('c')) !== undefined).toBe(true);
    expect(filter.size).toBe(3);
    filter.close();
  });

  it('stays within its cap under many unique keys', async () => {
    const filter = new MemoryDuplicateFilter(300_000, Date.now, 10_000);
    for (let i = 0; i < 200_000; i++) await filter.remember(`key-${i}`);
    expect(filter.size).toBe(10_000);
    expect((await filter.windowEnd('key-199999')) !== undefined).toBe(true);
    expect((await filter.windowEnd('key-0')) !== undefined).toBe(false);
    filter.close();
  });
});

describe('RedisDuplicateFilter', () => {
  it('rejects instead of hanging when Redis does not answer (a stalled server), so the POST gets a 503', async () => {
    const never = () => new Promise<never>(() => undefined);
    const redis = { set: never, pttl: never } as unknown as ConstructorParameters<typeof RedisDuplicateFilter>[0];
    const filter = new RedisDuplicateFilter(redis, 300_000, 'herald', 50);
    const settled = (p: Promise<unknown>) =>
      Promise.race([p.then(() => 'resolved', () => 'rejected'), new Promise((r) => setTimeout(() => r('hanging'), 1_000))]);
    expect(await settled(filter.windowEnd('k'))).toBe('rejected');
    expect(await settled(filter.remember('k'))).toBe('rejected');
  });
});
