/**
 * The load loop: N concurrent senders on an undici Pool of N keep-alive connections, each
 * POSTing one unique Flux event, awaiting the answer and sending the next, until the time is
 * up (closed loop, like a fleet of Flux controllers that each wait for their 202).
 *
 * Written by hand rather than with autocannon because every request body must carry its own
 * token and the exact send time must be kept per token, to measure delivery latency at the
 * sink; undici is already a dependency, so nothing new is installed.
 */
import { Pool } from 'undici';
import { Samples } from './stats.js';

export interface LoadOptions {
  /** e.g. http://127.0.0.1:9090 */
  origin: string;
  /**
   * Several servers (replicas) to load instead of `origin`: the connections are spread evenly
   * across them (the first `connections % origins.length` get one more), one pool each.
   */
  origins?: string[];
  connections: number;
  warmupMs: number;
  durationMs: number;
  /** The request body for sequence number `seq`; must be unique per seq. */
  body: (seq: number) => string;
  /** First sequence number to use (lower ones are left to the caller, e.g. a probe). */
  firstSeq?: number;
  /** Keep the send time of every seq (for end-to-end latency); off for the bare handler. */
  keepSendTimes?: boolean;
}

export interface LoadResult {
  /** Length of the measured window (after warm-up), ms. */
  windowMs: number;
  /** The measured window in epoch ms. */
  windowStartEpoch: number;
  windowEndEpoch: number;
  /** Responses completed inside the measured window, by status ("202", "503", "error:ECONNRESET"). */
  statuses: Map<string, number>;
  /** 202s completed inside the measured window. */
  accepted: number;
  /** POST latency of every response completed inside the measured window, ms. */
  latencies: Samples;
  /** Requests sent in all (warm-up and the tail after the window included). */
  sent: number;
  /** Every seq answered 202 (warm-up included): these must all be delivered. */
  acceptedSeqs: number[];
  /** Wall-clock send time (epoch ms, sub-ms precision) by seq, when keepSendTimes. */
  sendTimes: Map<number, number>;
  /** Seqs whose request was sent inside the measured window. */
  measuredFrom: number;
  measuredTo: number;
  /** CPU seconds this process (load generator and any worker threads) spent during the run. */
  loadGenCpuSeconds: number;
}

const HEADERS = { 'content-type': 'application/json' };

/** Epoch milliseconds with sub-millisecond precision, comparable across threads and processes. */
export function nowEpochMs(): number {
  return performance.timeOrigin + performance.now();
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const origins = opts.origins && opts.origins.length > 0 ? opts.origins : [opts.origin];
  if (opts.connections < origins.length) {
    throw new Error(`${opts.connections} connections cannot be spread over ${origins.length} servers`);
  }
  // Sender i uses pool i % origins.length, so each pool gets exactly as many senders as connections.
  const pools = origins.map(
    (origin, i) =>
      new Pool(origin, {
        connections: Math.floor(opts.connections / origins.length) + (i < opts.connections % origins.length ? 1 : 0),
        pipelining: 1,
        headersTimeout: 30_000,
        bodyTimeout: 30_000,
        keepAliveTimeout: 60_000,
      }),
  );
  const statuses = new Map<string, number>();
  const latencies = new Samples();
  const acceptedSeqs: number[] = [];
  const sendTimes = new Map<number, number>();
  let accepted = 0;
  let nextSeq = opts.firstSeq ?? 0;
  let measuredFrom = -1;
  let measuredTo = -1;

  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const windowStart = start + opts.warmupMs;
  const windowEnd = windowStart + opts.durationMs;

  const sender = async (_: unknown, index: number): Promise<void> => {
    const pool = pools[index % pools.length] as Pool;
    for (;;) {
      const t0 = performance.now();
      if (t0 >= windowEnd) return;
      const seq = nextSeq++;
      if (t0 >= windowStart) {
        if (measuredFrom < 0) measuredFrom = seq;
        measuredTo = seq + 1;
      }
      const body = opts.body(seq);
      if (opts.keepSendTimes) sendTimes.set(seq, performance.timeOrigin + t0);
      let status: string;
      try {
        const res = await pool.request({ path: '/', method: 'POST', headers: HEADERS, body });
        await res.body.dump();
        status = String(res.statusCode);
      } catch (err) {
        status = `error:${(err as NodeJS.ErrnoException).code ?? (err as Error).name}`;
        // Do not spin on a refused connection.
        await new Promise((r) => setTimeout(r, 10));
      }
      const t1 = performance.now();
      if (status === '202') acceptedSeqs.push(seq);
      if (t1 >= windowStart && t1 < windowEnd) {
        latencies.push(t1 - t0);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status === '202') accepted++;
      }
    }
  };

  await Promise.all(Array.from({ length: opts.connections }, sender));
  const cpu = process.cpuUsage(cpuBefore);
  await Promise.all(pools.map((pool) => pool.close()));

  return {
    windowMs: opts.durationMs,
    windowStartEpoch: performance.timeOrigin + windowStart,
    windowEndEpoch: performance.timeOrigin + windowEnd,
    statuses,
    accepted,
    latencies,
    sent: nextSeq - (opts.firstSeq ?? 0),
    acceptedSeqs,
    sendTimes,
    measuredFrom,
    measuredTo,
    loadGenCpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}
