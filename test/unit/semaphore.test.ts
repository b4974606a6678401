import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Semaphore } from '../../src/delivery/semaphore.js';

describe('Semaphore', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  it('grants up to its limit at once; the others get it first come, first served as holders let go', async () => {
    const turns = new Semaphore(2);
    expect(await turns.acquire()).toBe(true);
    expect(await turns.acquire()).toBe(true);
    const order: string[] = [];
    const third = turns.acquire().then((granted) => order.push(`third ${granted}`));
    const fourth = turns.acquire().then((granted) => order.push(`fourth ${granted}`));
    expect(turns.idle).toBe(false);
    turns.release();
    await third;
    turns.release();
    await fourth;
    expect(order).toEqual(['third true', 'fourth true']);
    turns.release();
    turns.release();
    expect(turns.idle).toBe(true);
  });

  it('a waiter behind stuck holders gives up once they have not moved for the stall time, and is no longer queued', async () => {
    const turns = new Semaphore(1);
    await turns.acquire();
    let answer: boolean | undefined;
    void turns.acquire(250, 2_000).then((granted) => (answer = granted));
    await vi.advanceTimersByTimeAsync(249);
    expect(answer).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(answer).toBe(false);
    // Gone from the queue: the next release frees the turn instead of handing it to nobody.
    turns.release();
    expect(turns.idle).toBe(true);
  });

  it('a waiter behind holders that keep finishing waits past the stall time, up to its limit in all', async () => {
    const turns = new Semaphore(1);
    await turns.acquire();
    const answers: boolean[] = [];
    // A long line: each waiter that gets the turn lets go 180 ms later (under the 250 ms stall time).
    const line = Array.from({ length: 20 }, () =>
      turns.acquire(250, 1_000).then(async (granted) => {
        answers.push(granted);
        if (granted) setTimeout(() => turns.release(), 180);
      }),
    );
    setTimeout(() => turns.release(), 180);
    await vi.advanceTimersByTimeAsync(5_000);
    await Promise.all(line);
    // The turn passed every 180 ms: the first five waiters (at 180, 360, 540, 720, 900 ms) got
    // theirs though most waited past 250 ms; the rest gave up at 1 s, the longest any may wait.
    expect(answers.filter(Boolean)).toHaveLength(5);
    expect(answers.filter((granted) => !granted)).toHaveLength(15);
  });

  it('keeps no timer once nobody waits, and gives each waiter its own time with one timer for all', async () => {
    const turns = new Semaphore(1);
    await turns.acquire();
    const answers: Array<boolean | undefined> = [undefined, undefined];
    void turns.acquire(250, 2_000).then((granted) => (answers[0] = granted));
    await vi.advanceTimersByTimeAsync(100);
    void turns.acquire(250, 2_000).then((granted) => (answers[1] = granted));
    expect(vi.getTimerCount()).toBe(1);
    // Nobody let go: the first gives up 250 ms after it came, the second 250 ms after it did.
    await vi.advanceTimersByTimeAsync(150);
    expect(answers).toEqual([false, undefined]);
    await vi.advanceTimersByTimeAsync(100);
    expect(answers).toEqual([false, false]);
    expect(vi.getTimerCount()).toBe(0);
    // A waiter granted before its time leaves no timer behind.
    const granted = turns.acquire(250, 2_000);
    expect(vi.getTimerCount()).toBe(1);
    turns.release();
    expect(await granted).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a waiter with a shorter bound than those before it is not held to their timer', async () => {
    const turns = new Semaphore(1);
    await turns.acquire();
    let patient: boolean | undefined;
    let hasty: boolean | undefined;
    void turns.acquire(1_000, 5_000).then((granted) => (patient = granted));
    void turns.acquire(100, 100).then((granted) => (hasty = granted));
    await vi.advanceTimersByTimeAsync(100);
    expect(hasty).toBe(false);
    expect(patient).toBeUndefined();
    await vi.advanceTimersByTimeAsync(900);
    expect(patient).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });
});
