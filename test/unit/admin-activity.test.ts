/**
 * The admin API's recent-delivery figures: the per-second ring behind `/stats` rates (a fixed
 * window, stale slots never counted) and the last delivery per Provider behind `/resources`
 * (only existing Providers, dropped when they go), plus the 1 KiB cut of a test answer.
 */
import { describe, expect, it } from 'vitest';
import { DeliveryActivity, DeliveryRates, LastDeliveries, RATE_WINDOW_SECONDS } from '../../src/server/admin-activity.js';
import { cutToBytes, TEST_ANSWER_BYTES } from '../../src/server/admin-test-send.js';

const T0 = 1_800_000_000_000; // a whole second

describe('DeliveryRates', () => {
  it('averages each outcome over the last 60 seconds, the current one included', () => {
    const rates = new DeliveryRates();
    for (let i = 0; i < 30; i++) rates.record('delivered', T0 + i * 1000);
    rates.record('dead', T0 + 10_500);
    rates.record('retrying', T0 + 29_999);
    rates.record('retrying', T0 + 29_999);
    expect(rates.perSecond(T0 + 29_999)).toEqual({ delivered: 0.5, retrying: round3(2 / 60), dead: round3(1 / 60) });
  });

  it('forgets what is older than the window, slot by slot', () => {
    const rates = new DeliveryRates();
    rates.record('delivered', T0);
    rates.record('delivered', T0 + 1_000);
    expect(rates.perSecond(T0 + (RATE_WINDOW_SECONDS - 1) * 1000)).toMatchObject({ delivered: round3(2 / 60) });
    expect(rates.perSecond(T0 + RATE_WINDOW_SECONDS * 1000)).toMatchObject({ delivered: round3(1 / 60) });
    expect(rates.perSecond(T0 + (RATE_WINDOW_SECONDS + 1) * 1000)).toMatchObject({ delivered: 0 });
    // Nothing recorded for hours: old slots are stale, not counted again on a later lap.
    expect(rates.perSecond(T0 + 3 * 3600_000)).toEqual({ delivered: 0, retrying: 0, dead: 0 });
  });

  it('reuses a slot a lap later: its old counts are cleared, not added', () => {
    const rates = new DeliveryRates();
    for (let i = 0; i < 5; i++) rates.record('dead', T0);
    const lapLater = T0 + RATE_WINDOW_SECONDS * 1000;
    rates.record('delivered', lapLater);
    expect(rates.perSecond(lapLater)).toEqual({ delivered: round3(1 / 60), retrying: 0, dead: 0 });
  });
});

describe('LastDeliveries', () => {
  it('keeps one entry per existing Provider, the latest, and drops those of deleted Providers', () => {
    const existing = new Set(['ns/a', 'ns/b']);
    const last = new LastDeliveries((p) => existing.has(p));
    last.record({ provider: 'ns/a', alert: 'ns/x', outcome: 'retrying', at: 1, error: 'provider answered 500' });
    last.record({ provider: 'ns/a', alert: 'ns/y', outcome: 'delivered', at: 2 });
    last.record({ provider: 'ns/b', alert: 'ns/x', outcome: 'dead', at: 3, error: 'provider answered 400' });
    // A Provider the store does not know (deleted while its delivery ran) is not kept: the map cannot grow past the Providers.
    for (let i = 0; i < 1000; i++) last.record({ provider: `ns/gone-${i}`, alert: 'ns/x', outcome: 'delivered', at: 4 });
    expect(last.size).toBe(2);
    expect(last.of('ns/a')).toEqual({ at: 2, outcome: 'delivered', alert: 'ns/y' });
    expect(last.of('ns/b')).toEqual({ at: 3, outcome: 'dead', alert: 'ns/x', error: 'provider answered 400' });
    existing.delete('ns/b');
    last.prune();
    expect(last.size).toBe(1);
    expect(last.of('ns/b')).toBeUndefined();
  });

  it('is fed with the rates by one function', () => {
    const activity = new DeliveryActivity(() => true);
    const feed = activity.record; // passed around unbound, as main.ts hands it to the processor
    feed({ provider: 'ns/a', alert: 'ns/x', outcome: 'dead', at: T0, error: 'gone' });
    expect(activity.lastDeliveries.of('ns/a')).toMatchObject({ outcome: 'dead' });
    expect(activity.rates.perSecond(T0)).toMatchObject({ dead: round3(1 / 60) });
  });
});

describe('cutToBytes', () => {
  it('keeps short answers whole and cuts long ones to the byte bound without breaking a character', () => {
    expect(cutToBytes('short', TEST_ANSWER_BYTES)).toBe('short');
    const exact = 'a'.repeat(TEST_ANSWER_BYTES);
    expect(cutToBytes(exact, TEST_ANSWER_BYTES)).toBe(exact);
    const long = '€'.repeat(2_000); // 3 bytes each
    const cut = cutToBytes(long, TEST_ANSWER_BYTES);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(TEST_ANSWER_BYTES);
    expect(cut).toMatch(/^€+… \(cut\)$/);
  });
});

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
