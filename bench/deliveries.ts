/**
 * What a load delivered, from the sink's first receipt time per seq: the delivered rate, the
 * end-to-end latencies and the exactly-once check. Pure, so that its arithmetic is unit-tested.
 */
import type { LoadResult } from './load.js';
import { percentile, Samples } from './stats.js';

export interface DeliveryFigures {
  /**
   * Deliveries at the sink from the start of the measured window until the last event sent in
   * the window was delivered, per second of that span: what the pipeline sustains end to end
   * (an accepted backlog stretches the span instead of inflating the rate).
   */
  deliveredPerSec: number;
  /** Deliveries at the sink inside the measured window, per second. */
  deliveredPerSecDuringLoad: number;
  e2eP50: number;
  e2eP99: number;
  e2eMax: number;
  delivered: number;
  undelivered: number;
  duplicates: number;
  drained: boolean;
  drainMs: number;
}

/** The parts of a load result the count needs. */
export type LoadRecord = Pick<LoadResult, 'acceptedSeqs' | 'sendTimes' | 'measuredFrom' | 'measuredTo' | 'windowStartEpoch' | 'windowEndEpoch' | 'windowMs'>;

/** The delivery figures of one load from the sink's first receipt time per seq. */
export function countDeliveries(load: LoadRecord, receipts: Map<number, number>, duplicates: number, drained: boolean): DeliveryFigures {
  const e2e = new Samples();
  let undelivered = 0;
  let lastReceipt = 0;
  let lastWindowReceipt = 0;
  for (const seq of load.acceptedSeqs) {
    const received = receipts.get(seq);
    if (received === undefined) {
      undelivered++;
      continue;
    }
    lastReceipt = Math.max(lastReceipt, received);
    if (seq >= load.measuredFrom && seq < load.measuredTo) {
      e2e.push(received - (load.sendTimes.get(seq) as number));
      lastWindowReceipt = Math.max(lastWindowReceipt, received);
    }
  }
  const spanEnd = Math.max(load.windowEndEpoch, lastWindowReceipt);
  const accepted = new Set(load.acceptedSeqs);
  let deliveredInSpan = 0;
  let deliveredInWindow = 0;
  for (const [seq, at] of receipts) {
    if (!accepted.has(seq) || at < load.windowStartEpoch) continue;
    if (at <= spanEnd) deliveredInSpan++;
    if (at < load.windowEndEpoch) deliveredInWindow++;
  }
  const sorted = e2e.sorted();
  return {
    deliveredPerSec: deliveredInSpan / ((spanEnd - load.windowStartEpoch) / 1000),
    deliveredPerSecDuringLoad: deliveredInWindow / (load.windowMs / 1000),
    e2eP50: percentile(sorted, 50),
    e2eP99: percentile(sorted, 99),
    e2eMax: sorted.length ? (sorted[sorted.length - 1] as number) : NaN,
    delivered: load.acceptedSeqs.length - undelivered,
    undelivered,
    duplicates,
    drained,
    drainMs: Math.max(0, lastReceipt - load.windowEndEpoch),
  };
}
