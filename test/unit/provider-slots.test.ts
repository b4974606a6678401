import { describe, expect, it } from 'vitest';
import { ProviderSlots } from '../../src/delivery/provider-slots.js';

describe('ProviderSlots', () => {
  it('grants up to the limit per provider, independently', async () => {
    const slots = new ProviderSlots(2);
    expect(await slots.acquire('a', 0)).toBe(true);
    expect(await slots.acquire('a', 0)).toBe(true);
    expect(await slots.acquire('b', 0)).toBe(true);
    expect(await slots.acquire('a', 10)).toBe(false);
  });

  it('hands a released slot to the longest waiter', async () => {
    const slots = new ProviderSlots(1);
    await slots.acquire('a', 0);
    const order: string[] = [];
    const first = slots.acquire('a', 1000).then((ok) => order.push(`first:${ok}`));
    const second = slots.acquire('a', 1000).then((ok) => order.push(`second:${ok}`));
    slots.release('a');
    await first;
    expect(order).toEqual(['first:true']);
    slots.release('a');
    await second;
    expect(order).toEqual(['first:true', 'second:true']);
    slots.release('a');
    expect(await slots.acquire('a', 0)).toBe(true);
  });

  it('a waiter that timed out does not take a later slot', async () => {
    const slots = new ProviderSlots(1);
    await slots.acquire('a', 0);
    expect(await slots.acquire('a', 20)).toBe(false);
    slots.release('a');
    expect(await slots.acquire('a', 0)).toBe(true);
    expect(await slots.acquire('a', 0)).toBe(false);
  });

  it('once a wait timed out, sends the next jobs of that provider back at once until a slot frees unclaimed', async () => {
    const slots = new ProviderSlots(1);
    await slots.acquire('a', 0);
    expect(await slots.acquire('a', 20)).toBe(false);
    const started = performance.now();
    expect(await slots.acquire('a', 1000)).toBe(false);
    expect(performance.now() - started).toBeLessThan(500); // at once, not after the 1000 ms wait
    expect(await slots.acquire('b', 0)).toBe(true);
    slots.release('a');
    expect(await slots.acquire('a', 0)).toBe(true);
    const waiting = slots.acquire('a', 1000);
    slots.release('a');
    expect(await waiting).toBe(true);
  });

  it("spreads the jobs sent back at a busy provider's pace, within bounds", () => {
    const slots = new ProviderSlots(2);
    // Deliveries to 'a' hold a slot for 1 s: with 2 slots, one job's turn every 500 ms.
    slots.release('a', 1000);
    const now = 1_000_000;
    const delays = Array.from({ length: 5 }, () => slots.deferDelay('a', 100, 1800, now));
    expect(delays).toEqual([500, 1000, 1500, 1800, 1800]);
    // Later, the turns already handed out have passed: back to the pace from now.
    expect(slots.deferDelay('a', 100, 1800, now + 10_000)).toBe(500);
    // A provider whose deliveries are quick gets the minimum.
    slots.release('b', 2);
    expect(slots.deferDelay('b', 100, 1800, now)).toBe(100);
  });
});
