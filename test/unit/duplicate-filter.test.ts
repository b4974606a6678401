import { describe, expect, it } from 'vitest';
import { MemoryDuplicateFilter, RedisDuplicateFilter } from '../../src/server/duplicate-filter.js';

describe('MemoryDuplicateFilter', () => {
  it('refuses a key within a fixed window from when it was remembered', async () => {
    let now = 0;
    const filter = new MemoryDuplicateFilter(1000, () => now);
    expect(await filter.isDuplicate('k')).toBe(false);
    await filter.remember('k');
    now = 999;
    expect(await filter.isDuplicate('k')).toBe(true);
    expect(await filter.isDuplicate('other')).toBe(false);
    now = 1000;
    expect(await filter.isDuplicate('k')).toBe(false);
    filter.close();
  });

  it('remembering again inside the window does not move its start', async () => {
    let now = 0;
    const filter = new MemoryDuplicateFilter(1000, () => now);
    await filter.remember('k');
    now = 600;
    await filter.remember('k');
    now = 1000;
    expect(await filter.isDuplicate('k')).toBe(false);
    filter.close();
  });
});

describe('RedisDuplicateFilter', () => {
  it('rejects instead of hanging when Redis does not answer (a stalled server), so the POST gets a 503', async () => {
    const never = () => new Promise<never>(() => undefined);
    const redis = { set: never, exists: never } as unknown as ConstructorParameters<typeof RedisDuplicateFilter>[0];
    const filter = new RedisDuplicateFilter(redis, 300_000, 'herald', 50);
    const settled = (p: Promise<unknown>) =>
      Promise.race([p.then(() => 'resolved', () => 'rejected'), new Promise((r) => setTimeout(() => r('hanging'), 1_000))]);
    expect(await settled(filter.isDuplicate('k'))).toBe('rejected');
    expect(await settled(filter.remember('k'))).toBe('rejected');
  });
});
