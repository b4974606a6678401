/**
 * The load loop: N concurrent senders on an undici Pool of N keep-alive connections, each
 * POSTing one unique Flux event, awaiting the answer and sending the next, until the time is
 * up (closed loop, like a fleet of Flux controllers that each wait for their 202). With `rate`,
 * open loop instead: requests leave on a fixed schedule (bench/rate.ts) over the same pool,
 * whether or not the earlier ones were answered, and latencies count from the scheduled time.
 *
 * Written by hand rather than with autocannon because every request body must carry its own
 * token and the exact send time must be kept per token, to measure delivery latency at the
 * sink; undici is already a dependency, so nothing new is installed.
 */
import { Pool } from 'undici';
import { RateSchedule } from './rate.js';
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
  /** Request path (default `/`). */
  path?: string;
  /** The status that means "accepted, must be delivered" (default 202; Alertmanager answers 200). */
  acceptStatus?: number;
  /**
   * Offered requests/s, open loop, over warm-up and measured time; the in-flight requests are
   * bounded by what the schedule holds (rate × time). Without it: closed loop.
   */
  rate?: number;
}

export interface LoadResult {
  /** Length of the measured window (after warm-up), ms. */
  windowMs: number;
  /** The measured window in epoch ms. */
  windowStartEpoch: number;
  windowEndEpoch: number;
  /** Responses completed inside the measured window, by status ("202", "503", "error:ECONNRESET"). */
  statuses: Map<string, number>;
  /** Accepted answers (202, or acceptStatus) completed inside the measured window. */
  accepted: number;
  /** POST latency, ms: of every response completed inside the measured window (closed loop), of every request due in it (open loop). */
  latencies: Samples;
  /** Requests sent in all (warm-up and the tail after the window included). */
  sent: number;
  /** Every seq answered as accepted (warm-up included): these must all be delivered. */
  acceptedSeqs: number[];
  /** Wall-clock send time (epoch ms, sub-ms precision; the scheduled time with `rate`) by seq, when keepSendTimes. */
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
  const path = opts.path ?? '/';
  const acceptStatus = String(opts.acceptStatus ?? 202);

  /** Sends request `seq` (due at `t0`, performance.now() ms) and records its answer. */
  const send = async (pool: Pool, seq: number, t0: number): Promise<void> => {
    if (t0 >= windowStart && t0 < windowEnd) {
      if (measuredFrom < 0) measuredFrom = seq;
      measuredTo = seq + 1;
    }
    const body = opts.body(seq);
    if (opts.keepSendTimes) sendTimes.set(seq, performance.timeOrigin + t0);
    let status: string;
    try {
      const res = await pool.request({ path, method: 'POST', headers: HEADERS, body });
      await res.body.dump();
      status = String(res.statusCode);
    } catch (err) {
      status = `error:${(err as NodeJS.ErrnoException).code ?? (err as Error).name}`;
      // Do not spin on a refused connection.
      await new Promise((r) => setTimeout(r, 10));
    }
    const t1 = performance.now();
    if (status === acceptStatus) acceptedSeqs.push(seq);
    // Open loop: the latency of every request due in the window, however late its answer (an
    // overloaded server's slowest answers come after the window); closed loop: of every answer
    // inside it, as before.
    if (opts.rate !== undefined ? t0 >= windowStart && t0 < windowEnd : t1 >= windowStart && t1 < windowEnd) latencies.push(t1 - t0);
    if (t1 >= windowStart && t1 < windowEnd) {
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status === acceptStatus) accepted++;
    }
  };

  const sender = async (_: unknown, index: number): Promise<void> => {
    const pool = pools[index % pools.length] as Pool;
    for (;;) {
      const t0 = performance.now();
      if (t0 >= windowEnd) return;
      await send(pool, nextSeq++, t0);
    }
  };

  /** Open loop: fires every request when due (checked every millisecond or so). */
  const scheduler = async (rate: number): Promise<void> => {
    const schedule = new RateSchedule(rate, opts.warmupMs + opts.durationMs);
    const inFlight = new Set<Promise<void>>();
    let fired = 0;
    while (fired < schedule.total) {
      const due = schedule.dueBy(performance.now() - start);
      for (; fired < due; fired++) {
        const pool = pools[fired % pools.length] as Pool;
        const sending = send(pool, nextSeq++, start + schedule.dueAt(fired));
        inFlight.add(sending);
        void sending.finally(() => inFlight.delete(sending));
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    // Bounded: each request times out within the pool's headers/body timeouts.
    await Promise.all(inFlight);
  };

  if (opts.rate !== undefined) await scheduler(opts.rate);
  else await Promise.all(Array.from({ length: opts.connections }, sender));
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
