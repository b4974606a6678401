import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/delivery/group-commit.js';

interface Work {
  name: string;
  items: number;
  bytes: number;
}

/** A store whose writes the test finishes (or fails) by hand, recording what each one held. */
function manualStore() {
  const writes: Array<{ names: string[]; finish: () => void; fail: (err: Error) => void }> = [];
  const store = (submissions: Work[]) =>
    new Promise<string[]>((resolve, reject) => {
      const names = submissions.map((s) => s.name);
      writes.push({ names, finish: () => resolve(names.map((n) => `stored ${n}`)), fail: reject });
    });
  return { writes, store };
}

const work = (name: string, items = 1, bytes = 100): Work => ({ name, items, bytes });
const tick = () => new Promise((r) => setImmediate(r));

describe('GroupCommit', () => {
  it('stores at once, alone, with nothing in flight; groups what arrives meanwhile into the next store', async () => {
    const { writes, store } = manualStore();
    const commit = new GroupCommit(store, { maxItems: 100, maxBytes: 1_000_000 });
    const a = commit.submit(work('a'));
    expect(writes.map((w) => w.names)).toEqual([['a']]);
    const rest = ['b', 'c', 'd'].map((n) => commit.submit(work(n)));
    expect(writes).toHaveLength(1);
    writes[0]?.finish();
    expect(await a).toBe('stored a');
    await tick();
    expect(writes.map((w) => w.names)).toEqual([['a'], ['b', 'c', 'd']]);
    writes[1]?.finish();
    expect(await Promise.all(rest)).toEqual(['stored b', 'stored c', 'stored d']);
  });

  it('fails every submission of a failed store, and only those', async () => {
    const { writes, store } = manualStore();
    const commit = new GroupCommit(store, { maxItems: 100, maxBytes: 1_000_000 });
    const first = commit.submit(work('a'));
    const grouped = [commit.submit(work('b')), commit.submit(work('c'))];
    writes[0]?.finish();
    await first;
    await tick();
    const later = commit.submit(work('d'));
    writes[1]?.fail(new Error('OOM command not allowed'));
    const outcomes = await Promise.allSettled(grouped);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    await tick();
    expect(writes[2]?.names).toEqual(['d']);
    writes[2]?.finish();
    expect(await later).toBe('stored d');
  });

  it('bounds a group by items and bytes, never splitting a submission', async () => {
    const { writes, store } = manualStore();
    const commit = new GroupCommit(store, { maxItems: 3, maxBytes: 1_000 });
    void commit.submit(work('in-flight'));
    void commit.submit(work('a', 2));
    void commit.submit(work('b', 2)); // 4 items > 3: the group of 'a' goes now
    void commit.submit(work('c', 1, 900)); // 2 + 1 items, 1,000 bytes: fits
    void commit.submit(work('d', 1, 1)); // 4 items: the group of 'b', 'c' goes now
    void commit.submit(work('e', 1, 1_000)); // 1,001 bytes: the group of 'd' goes now
    void commit.submit(work('huge', 10)); // alone over the bound: a group of its own
    expect(writes.map((w) => w.names)).toEqual([['in-flight'], ['a'], ['b', 'c'], ['d'], ['e']]);
    writes[0]?.finish();
    await tick();
    expect(writes.map((w) => w.names).at(-1)).toEqual(['huge']);
  });
});
