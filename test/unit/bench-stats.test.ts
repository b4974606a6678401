import { describe, expect, it } from 'vitest';
import { countDeliveries, type LoadRecord } from '../../bench/deliveries.js';
import { median, percentile, Samples } from '../../bench/stats.js';
import { seqsInBody } from '../../bench/tokens.js';

describe('bench percentile (nearest rank)', () => {
  it('takes the value at rank ceil(p × n)', () => {
    const hundred = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile(hundred, 0)).toBe(1);
    expect(percentile([1, 2, 3], 50)).toBe(2);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it('sorts samples numerically, not as text', () => {
    const s = new Samples();
    for (const v of [10, 9, 100, 1.5, 2]) s.push(v);
    expect([...s.sorted()]).toEqual([1.5, 2, 9, 10, 100]);
    expect(median([10, 9, 100])).toBe(10);
  });

  it('keeps every sample past its initial capacity', () => {
    const s = new Samples();
    for (let i = 10_000; i > 0; i--) s.push(i);
    expect(s.length).toBe(10_000);
    expect(percentile(s.sorted(), 99)).toBe(9900);
  });
});

describe('bench countDeliveries', () => {
  /** 10 events sent 100 ms apart from epoch 0; seqs 2..9 in the measured window [200, 1000). */
  function load(accepted: number[]): LoadRecord {
    return {
      acceptedSeqs: accepted,
      sendTimes: new Map(accepted.map((seq) => [seq, seq * 100])),
      measuredFrom: 2,
      measuredTo: 10,
      windowStartEpoch: 200,
      windowEndEpoch: 1000,
      windowMs: 800,
    };
  }
  const all = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

  it('delivered/s over the window when delivery keeps up, latency from the send time', () => {
    const receipts = new Map(all.map((seq) => [seq, seq * 100 + 10]));
    const d = countDeliveries(load(all), receipts, 0, true);
    // Receipts at 210..910 are in the window: 8 in 0.8 s.
    expect(d.deliveredPerSec).toBeCloseTo(10, 9);
    expect(d.deliveredPerSecDuringLoad).toBeCloseTo(10, 9);
    expect(d.e2eP50).toBe(10);
    expect(d.e2eP99).toBe(10);
    expect(d).toMatchObject({ delivered: 10, undelivered: 0, duplicates: 0, drained: true, drainMs: 0 });
  });

  it('a backlog stretches the span instead of counting as delivered/s', () => {
    // Delivery at 4/s from 200 ms: seq i received at 200 + 250 i.
    const receipts = new Map(all.map((seq) => [seq, 200 + 250 * seq]));
    const d = countDeliveries(load(all), receipts, 0, true);
    // The last windowed event (9) arrives at 2450: all 10 deliveries in the 2.25 s since 200.
    expect(d.deliveredPerSec).toBeCloseTo(10 / 2.25, 9);
    expect(d.deliveredPerSecDuringLoad).toBeCloseTo(4 / 0.8, 9); // 200, 450, 700, 950
    expect(d.e2eMax).toBe(2450 - 900);
    expect(d.drainMs).toBe(1450);
  });

  it('counts lost and duplicate deliveries and ignores seqs that were not accepted', () => {
    const accepted = all.filter((seq) => seq !== 5);
    const receipts = new Map(accepted.filter((seq) => seq !== 7).map((seq) => [seq, seq * 100 + 10]));
    receipts.set(5, 510); // delivered although refused (a 503 after part of the work was stored)
    const d = countDeliveries(load(accepted), receipts, 2, false);
    expect(d).toMatchObject({ delivered: 8, undelivered: 1, duplicates: 2, drained: false });
    expect(d.deliveredPerSecDuringLoad).toBeCloseTo(6 / 0.8, 9); // 2, 3, 4, 6, 8, 9
  });
});

describe('bench seqsInBody', () => {
  it('reads the seq of a Herald delivery', () => {
    expect([...seqsInBody('{"message":"Reconciliation finished (bench-m1abc-42)"}')]).toEqual([42]);
  });

  it('counts an Alertmanager notification once per alert although its labels repeat', () => {
    const labels = { alertname: 'HeraldBench', token: 'bench-m1abc-7' };
    const body = JSON.stringify({
      groupKey: '{}:{alertname="HeraldBench", token="bench-m1abc-7"}',
      groupLabels: labels,
      commonLabels: labels,
      alerts: [{ labels }],
    });
    expect([...seqsInBody(body)]).toEqual([7]);
    const two = JSON.stringify({ alerts: [{ labels }, { labels: { ...labels, token: 'bench-m1abc-8' } }] });
    expect([...seqsInBody(two)].sort()).toEqual([7, 8]);
  });

  it('finds nothing in a body without a token', () => {
    expect(seqsInBody('{"message":"bench-"}').size).toBe(0);
  });
});
