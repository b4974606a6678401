import { describe, expect, it } from 'vitest';
import { MemoryDuplicateFilter } from '../../src/server/duplicate-filter.js';

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
