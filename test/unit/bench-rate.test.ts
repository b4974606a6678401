import { describe, expect, it } from 'vitest';
import { parseRates, RateSchedule } from '../../bench/rate.js';

describe('bench RateSchedule (open-loop offered load)', () => {
  it('holds rate × duration requests, due evenly from the start', () => {
    const s = new RateSchedule(1000, 1000);
    expect(s.total).toBe(1000);
    expect(s.dueAt(0)).toBe(0);
    expect(s.dueAt(1)).toBeCloseTo(1, 9);
    expect(s.dueAt(999)).toBeCloseTo(999, 9);
    expect(new RateSchedule(300, 2500).total).toBe(750);
    expect(new RateSchedule(3, 1000).total).toBe(3);
  });

  it('counts the requests due by an elapsed time, capped at the total', () => {
    const s = new RateSchedule(4, 1000); // due at 0, 250, 500, 750 ms
    expect(s.dueBy(-1)).toBe(0);
    expect(s.dueBy(0)).toBe(1);
    expect(s.dueBy(249.9)).toBe(1);
    expect(s.dueBy(250)).toBe(2);
    expect(s.dueBy(750)).toBe(4);
    expect(s.dueBy(10_000)).toBe(4);
  });

  it('does not fall behind or run ahead over a long schedule', () => {
    const s = new RateSchedule(3000, 10_000);
    for (const ms of [0, 1, 333.3, 1000, 5000.5, 9999.9]) {
      const due = s.dueBy(ms);
      // Every counted request is due by then, and the next one is not.
      expect(s.dueAt(due - 1)).toBeLessThanOrEqual(ms + 1e-9);
      if (due < s.total) expect(s.dueAt(due)).toBeGreaterThan(ms);
    }
    expect(s.dueBy(10_000)).toBe(30_000);
  });

  it('refuses rates and durations that make no schedule', () => {
    expect(() => new RateSchedule(0, 1000)).toThrow(/rate/);
    expect(() => new RateSchedule(-5, 1000)).toThrow(/rate/);
    expect(() => new RateSchedule(Number.NaN, 1000)).toThrow(/rate/);
    expect(() => new RateSchedule(100, -1)).toThrow(/duration/);
  });
});

describe('bench parseRates', () => {
  it('reads a sorted, distinct list with k for thousands', () => {
    expect(parseRates('2000, 500,1k,500')).toEqual([500, 1000, 2000]);
    expect(parseRates('1.5k')).toEqual([1500]);
  });

  it('names the bad entry', () => {
    expect(() => parseRates('500,fast')).toThrow(/"fast"/);
    expect(() => parseRates('0')).toThrow(/"0"/);
  });
});
