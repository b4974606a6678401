/**
 * A small, bounded load generator for the process-fault suite, and the book-keeping that says
 * what was lost: N concurrent loops POST unique Flux events (each message carries a sequence
 * number) for a bounded time and count; every response status is recorded; the sink's requests
 * are read back into sequence numbers; then
 *
 *   sent / accepted (202) / delivered-unique / duplicates / lost = accepted − delivered
 *
 * with POST and accept→delivery latency percentiles. Loopback only.
 */
import type { FluxEvent } from '../../src/events/event.js';
import { kustomizationEvent } from '../support/events.js';
import type { ReceivedRequest, Sink } from '../support/sink.js';

export interface LoadOptions {
  /** Events URL (origin) to POST to, asked per request: it may change, or alternate between replicas. */
  target: (seq: number) => string;
  /** Concurrent closed loops. */
  loops: number;
  durationMs: number;
  /** Upper bound on requests per loop, whatever the time. */
  maxPerLoop?: number;
  /** Pause after each request in a loop, to pace the load (default 0). */
  pauseMs?: number;
  /** Distinguishes this run's events from any other's (and keeps events unique across runs). */
  runId: string;
  /** Per-request time limit (default 10 s). */
  requestTimeoutMs?: number;
  /** Called after each response (e.g. to fire a fault once enough was accepted). */
  onResponse?: (seq: number, status: string) => void;
  /** Stops all loops early when it returns true (checked before each request). */
  stop?: () => boolean;
}

export interface LoadResult {
  sent: number;
  /** Count by status: "202", "503", "error:ECONNREFUSED", … */
  statuses: Record<string, number>;
  /** Seqs answered 202: each of these must be delivered. */
  accepted: Set<number>;
  /** Send time (epoch ms) by seq. */
  sentAt: Map<number, number>;
  /** POST round-trip times, ms. */
  postLatencies: number[];
}

export const MESSAGE_PATTERN = /^fault-load (\S+) seq=(\d+)$/;

export function loadEvent(runId: string, seq: number): FluxEvent {
  return kustomizationEvent({ message: `fault-load ${runId} seq=${seq}` });
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const result: LoadResult = { sent: 0, statuses: {}, accepted: new Set(), sentAt: new Map(), postLatencies: [] };
  const deadline = Date.now() + opts.durationMs;
  const maxPerLoop = opts.maxPerLoop ?? 10_000;
  let nextSeq = 0;

  const loop = async (): Promise<void> => {
    for (let i = 0; i < maxPerLoop && Date.now() < deadline && !opts.stop?.(); i++) {
      const seq = nextSeq++;
      const body = JSON.stringify(loadEvent(opts.runId, seq));
      const t0 = performance.now();
      result.sentAt.set(seq, Date.now());
      result.sent++;
      let status: string;
      try {
        const res = await fetch(`${opts.target(seq)}/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(opts.requestTimeoutMs ?? 10_000),
        });
        await res.arrayBuffer();
        status = String(res.status);
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause;
        status = `error:${cause?.code ?? (err as Error).name}`;
      }
      result.postLatencies.push(performance.now() - t0);
      result.statuses[status] = (result.statuses[status] ?? 0) + 1;
      if (status === '202') result.accepted.add(seq);
      opts.onResponse?.(seq, status);
      // A refused connection fails at once: do not spin on it.
      const pause = status.startsWith('error:') ? Math.max(opts.pauseMs ?? 0, 20) : (opts.pauseMs ?? 0);
      if (pause > 0) await new Promise((r) => setTimeout(r, pause));
    }
  };
  await Promise.all(Array.from({ length: opts.loops }, loop));
  return result;
}

/** Deliveries per seq of one run, read from what the sink received (parsed incrementally). */
export class DeliveryLog {
  readonly counts = new Map<number, number>();
  readonly firstAt = new Map<number, number>();
  private read = 0;

  constructor(
    private readonly sink: Sink,
    private readonly runId: string,
  ) {}

  update(): this {
    const requests: ReceivedRequest[] = this.sink.requests;
    for (; this.read < requests.length; this.read++) {
      const req = requests[this.read] as ReceivedRequest;
      let message: unknown;
      try {
        message = (JSON.parse(req.body) as { message?: unknown }).message;
      } catch {
        continue;
      }
      const match = typeof message === 'string' ? MESSAGE_PATTERN.exec(message) : null;
      if (!match || match[1] !== this.runId) continue;
      const seq = Number(match[2]);
      this.counts.set(seq, (this.counts.get(seq) ?? 0) + 1);
      if (!this.firstAt.has(seq)) this.firstAt.set(seq, req.receivedAt);
    }
    return this;
  }

  missing(accepted: Iterable<number>): number[] {
    this.update();
    return [...accepted].filter((seq) => !this.counts.has(seq));
  }

  /** Polls until every accepted seq was delivered at least once, or the time is up. */
  async waitForAll(accepted: Iterable<number>, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.missing(accepted).length === 0) return true;
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export interface Tally {
  sent: number;
  accepted: number;
  deliveredUnique: number;
  /** Deliveries beyond the first, over all seqs. */
  duplicates: number;
  /** Seqs delivered more than once. */
  duplicatedSeqs: number[];
  /** Accepted seqs never delivered. */
  lost: number;
  lostSeqs: number[];
  /** Delivered although the sender never saw a 202 (its answer was cut off, e.g. by a kill): allowed. */
  deliveredUnacknowledged: number;
  statuses: Record<string, number>;
  postP50: number;
  postP99: number;
  deliveryP50: number;
  deliveryP99: number;
}

export function tally(load: LoadResult, log: DeliveryLog): Tally {
  log.update();
  const lostSeqs = [...load.accepted].filter((seq) => !log.counts.has(seq)).sort((a, b) => a - b);
  const duplicatedSeqs = [...log.counts].filter(([, n]) => n > 1).map(([seq]) => seq).sort((a, b) => a - b);
  const deliveryLatencies = [...log.firstAt].flatMap(([seq, at]) => {
    const sent = load.sentAt.get(seq);
    return sent === undefined ? [] : [at - sent];
  });
  return {
    sent: load.sent,
    accepted: load.accepted.size,
    deliveredUnique: log.counts.size,
    duplicates: [...log.counts.values()].reduce((sum, n) => sum + n - 1, 0),
    duplicatedSeqs,
    lost: lostSeqs.length,
    lostSeqs,
    deliveredUnacknowledged: [...log.counts.keys()].filter((seq) => !load.accepted.has(seq)).length,
    statuses: load.statuses,
    postP50: percentile(load.postLatencies, 0.5),
    postP99: percentile(load.postLatencies, 0.99),
    deliveryP50: percentile(deliveryLatencies, 0.5),
    deliveryP99: percentile(deliveryLatencies, 0.99),
  };
}

/** One line for the test log: what was sent, accepted, delivered, duplicated and lost. */
export function describeTally(name: string, t: Tally, extra: Record<string, unknown> = {}): string {
  const ms = (v: number) => (Number.isNaN(v) ? '-' : `${Math.round(v)}ms`);
  const statuses = Object.entries(t.statuses)
    .map(([s, n]) => `${s}:${n}`)
    .join(',');
  const more = Object.entries(extra)
    .map(([k, v]) => ` ${k}=${String(v)}`)
    .join('');
  const lostList = t.lost > 0 ? ` lostSeqs=[${t.lostSeqs.slice(0, 20).join(',')}${t.lost > 20 ? ',…' : ''}]` : '';
  return (
    `[fault] ${name}: sent=${t.sent} accepted=${t.accepted} delivered-unique=${t.deliveredUnique} duplicates=${t.duplicates}` +
    ` lost=${t.lost} delivered-unacknowledged=${t.deliveredUnacknowledged} statuses={${statuses}}` +
    ` post p50=${ms(t.postP50)} p99=${ms(t.postP99)} delivery p50=${ms(t.deliveryP50)} p99=${ms(t.deliveryP99)}${more}${lostList}`
  );
}

/** Nearest-rank q-quantile (0..1). */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}
