import { describe, expect, it } from 'vitest';
import { MemoryDuplicateFilter, RedisDuplicateFilter } from '../../src/server/duplicate-filter.js';

describe('MemoryDuplicateFilter', () => {
  it('lets one event per key through per fixed window from its first sighting', async () => {
    let now = 0;
    const filter = new MemoryDuplicateFilter(1000, () => now);
    expect(await filter.firstSighting('k')).toBe(true);
    now = 999;
    expect(await filter.firstSighting('k')).toBe(false);
    expect(await filter.firstSighting('other')).toBe(true);
    now = 1000;
    expect(await filter.firstSighting('k')).toBe(true);
    filter.close();
  });

  it('forgets a key so a retry passes', async () => {
    const filter = new MemoryDuplicateFilter(1000);
    await filter.firstSighting('k');
    await filter.forget('k');
    expect(await filter.firstSighting('k')).toBe(true);
    filter.close();
  });
});

describe('RedisDuplicateFilter', () => {
  it('rejects instead of hanging when Redis does not answer (a stalled server), so the POST gets a 503', async () => {
    const never = () => new Promise<never>(() => undefined);
    const redis = { set: never, del: never } as unknown as ConstructorParameters<typeof RedisDuplicateFilter>[0];
    const filter = new RedisDuplicateFilter(redis, 300_000, 'herald', 50);
    const settled = (p: Promise<unknown>) =>
      Promise.race([p.then(() => 'resolved', () => 'rejected'), new Promise((r) => setTimeout(() => r('hanging'), 1_000))]);
    expect(await settled(filter.firstSighting('k'))).toBe('rejected');
    expect(await settled(filter.forget('k'))).toBe('rejected');
  });
});
