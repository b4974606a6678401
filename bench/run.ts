/**
 * `npm run bench`: Herald's throughput and latency against a bare Fastify handler, and the
 * matcher's cost with 10 vs 10,000 Alerts. Everything on loopback, bounded in time (about
 * 1–1.5 minutes with the defaults).
 *
 *   npm run bench -- --duration 15s --connections 32
 *   BENCH_DURATION=5s BENCH_ONLY=herald,bare npm run bench
 *   npm run bench -- --only herald --replicas 2   # 2 Herald processes on one Redis prefix
 *
 * Herald runs in Redis mode on a Redis database (default redis://127.0.0.1:6379/15) under a
 * key prefix unique to this run; only keys under that prefix are deleted afterwards.
 */
import { spawn } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { parseDuration } from '../src/config.js';
import { kustomizationEvent } from '../test/support/events.js';
import { metricValue, startHerald, type HeraldProcess } from '../test/support/herald.js';
import { nowEpochMs, runLoad, type LoadResult } from './load.js';
import { runMatchBenchmark, type MatchResult } from './match.js';
import { MemoryWatcher, readCpuSeconds } from './proc.js';
import { startBenchSink } from './sink.js';
import { fmtCounts, fmtInt, fmtMiB, fmtMs, fmtRatio, percentile, Samples } from './stats.js';

// ---------------------------------------------------------------------------------------------
// Options

const OPTIONS = {
  duration: { type: 'string', default: '15s', env: 'BENCH_DURATION', help: 'measured load time per target' },
  warmup: { type: 'string', default: '2s', env: 'BENCH_WARMUP', help: 'load before measuring starts' },
  connections: { type: 'string', default: '32', env: 'BENCH_CONNECTIONS', help: 'concurrent keep-alive connections' },
  replicas: { type: 'string', default: '1', env: 'BENCH_REPLICAS', help: 'Herald processes sharing one Redis prefix (connections spread evenly)' },
  'drain-timeout': { type: 'string', default: '45s', env: 'BENCH_DRAIN_TIMEOUT', help: 'max wait for every delivery' },
  'redis-url': { type: 'string', default: 'redis://127.0.0.1:6379/15', env: 'BENCH_REDIS_URL', help: 'Redis for Herald' },
  only: { type: 'string', default: 'herald,bare,match', env: 'BENCH_ONLY', help: 'phases to run' },
  'match-iterations': { type: 'string', default: '200000', env: 'BENCH_MATCH_ITERATIONS', help: 'match calls per round' },
  'match-rounds': { type: 'string', default: '7', env: 'BENCH_MATCH_ROUNDS', help: 'timed rounds per index size' },
  'herald-log-level': { type: 'string', default: 'info', env: 'BENCH_HERALD_LOG_LEVEL', help: "Herald's --log-level" },
  'herald-args': { type: 'string', env: 'BENCH_HERALD_ARGS', help: 'extra Herald flags, space-separated: --herald-args="--worker-concurrency 1"' },
  'herald-cpu-prof': { type: 'string', env: 'BENCH_HERALD_CPU_PROF', help: "directory for Herald's --cpu-prof output" },
  help: { type: 'boolean', default: false, help: 'print this help' },
} as const;

interface BenchOptions {
  durationMs: number;
  warmupMs: number;
  connections: number;
  replicas: number;
  drainTimeoutMs: number;
  redisUrl: string;
  phases: Set<string>;
  matchIterations: number;
  matchRounds: number;
  heraldLogLevel: string;
  heraldCpuProf?: string;
  heraldArgs: string[];
}

/** A duration as Go writes it (`15s`, `500ms`), or a bare number of seconds. */
function duration(text: string, flag: string): number {
  return /^\d+(\.\d+)?$/.test(text) ? Number(text) * 1000 : parseDuration(text, flag);
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag}: "${text}" must be a whole number ≥ 1`);
  return n;
}

function parseOptions(): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: Object.fromEntries(Object.entries(OPTIONS).map(([k, o]) => [k, { type: o.type }])),
    strict: true,
  });
  if (values.help) return 'help';
  const read = (flag: keyof typeof OPTIONS): string | undefined => {
    const o = OPTIONS[flag];
    const given = values[flag] ?? ('env' in o ? process.env[o.env] : undefined);
    if (given !== undefined) return String(given);
    return 'default' in o ? String(o.default) : undefined;
  };
  const connections = positiveInt(read('connections') as string, 'connections');
  const replicas = positiveInt(read('replicas') as string, 'replicas');
  if (replicas > connections) throw new Error(`--replicas ${replicas}: more replicas than --connections ${connections}`);
  const phases = new Set((read('only') ?? '').split(',').map((p) => p.trim()).filter(Boolean));
  for (const p of phases) if (!['herald', 'bare', 'match'].includes(p)) throw new Error(`--only: unknown phase "${p}"`);
  return {
    durationMs: duration(read('duration') as string, 'duration'),
    warmupMs: duration(read('warmup') as string, 'warmup'),
    connections,
    replicas,
    drainTimeoutMs: duration(read('drain-timeout') as string, 'drain-timeout'),
    redisUrl: read('redis-url') as string,
    phases,
    matchIterations: positiveInt(read('match-iterations') as string, 'match-iterations'),
    matchRounds: positiveInt(read('match-rounds') as string, 'match-rounds'),
    heraldLogLevel: read('herald-log-level') as string,
    heraldCpuProf: read('herald-cpu-prof'),
    heraldArgs: (read('herald-args') ?? '').split(/\s+/).filter(Boolean),
  };
}

function usage(): string {
  const lines = Object.entries(OPTIONS).map(([name, o]) => {
    const def = 'default' in o && o.type === 'string' ? ` (default ${o.default})` : '';
    const env = 'env' in o ? ` [${o.env}]` : '';
    return `  --${name.padEnd(18)} ${o.help}${def}${env}`;
  });
  return `Usage: npm run bench -- [flags]\n\n${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// Helpers

const log = (msg: string) => process.stdout.write(`[bench] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Processes and resources to release however the run ends (newest first). */
const cleanups: Array<() => Promise<unknown>> = [];
async function runCleanups(): Promise<void> {
  while (cleanups.length > 0) {
    const fn = cleanups.pop() as () => Promise<unknown>;
    await fn().catch((err: Error) => log(`cleanup failed: ${err.message}`));
  }
}

async function checkRedis(url: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(`Redis does not answer at ${url} (${(err as Error).message}); start redis-server or pass --redis-url`);
  } finally {
    redis.disconnect();
  }
}

/** Redis server CPU seconds (user + sys) so far, from INFO cpu; undefined if unreadable. */
async function redisCpuSeconds(url: string): Promise<number | undefined> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  try {
    const info = await redis.info('cpu');
    const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1]);
    const total = field('used_cpu_user') + field('used_cpu_sys');
    return Number.isFinite(total) ? total : undefined;
  } catch {
    return undefined;
  } finally {
    redis.disconnect();
  }
}

/** Deletes the keys under `prefix:` (and nothing else); returns how many. */
async function deletePrefix(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      const ours = keys.filter((k) => k.startsWith(`${prefix}:`));
      if (ours.length > 0) deleted += await redis.unlink(...ours);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

interface LoadSummary {
  eventsPerSec: number;
  p50: number;
  p99: number;
  nonAccepted: Map<string, number>;
  cpuCores?: number;
  loadGenCores: number;
  peakRss?: number;
}

function summarizeLoad(load: LoadResult, serverCpuSeconds: number | undefined, peakRss: number | undefined, wallMs: number): LoadSummary {
  const sorted = load.latencies.sorted();
  const nonAccepted = new Map([...load.statuses].filter(([status]) => status !== '202'));
  return {
    eventsPerSec: load.accepted / (load.windowMs / 1000),
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    nonAccepted,
    cpuCores: serverCpuSeconds === undefined ? undefined : serverCpuSeconds / (wallMs / 1000),
    loadGenCores: load.loadGenCpuSeconds / (wallMs / 1000),
    peakRss,
  };
}

// ---------------------------------------------------------------------------------------------
// Phase 1: Herald

/** User + system CPU seconds of all the processes so far; undefined if any is unreadable. */
function sumCpuSeconds(heralds: HeraldProcess[]): number | undefined {
  let total = 0;
  for (const h of heralds) {
    const cpu = readCpuSeconds(h.pid);
    if (cpu === undefined) return undefined;
    total += cpu;
  }
  return total;
}

interface HeraldResult extends LoadSummary {
  replicas: number;
  /** Peak RSS of each replica (peakRss is the largest). */
  peakRssPerReplica: Array<number | undefined>;
  exitCodes: Array<number | null>;
  redisCores?: number;
  acceptedTotal: number;
  delivered: number;
  undelivered: number;
  duplicates: number;
  e2eP50: number;
  e2eP99: number;
  e2eMax: number;
  deliveredPerSecDuringLoad: number;
  drainMs: number;
  drained: boolean;
  metrics: string;
  keysDeleted: number;
}

function manifests(sinkUrl: string): Record<string, string> {
  return {
    'bench.yaml': `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata:
  name: bench-sink
  namespace: flux-system
spec:
  type: generic
  address: ${sinkUrl}/bench
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata:
  name: bench
  namespace: flux-system
spec:
  providerRef:
    name: bench-sink
  eventSeverity: info
  eventSources:
    - kind: Kustomization
      name: '*'
  exclusionList:
    - '^Dependencies do not meet ready condition'
`,
  };
}

/** The event body for each seq: a real Flux event whose message carries `bench-<run>-<seq>`. */
function bodyFactory(runId: string): (seq: number) => string {
  const template = JSON.stringify(
    kustomizationEvent({ message: `Reconciliation finished in 1.2s, next run in 10m0s (bench-${runId}-__SEQ__)` }),
  );
  const [head, tail] = template.split('__SEQ__') as [string, string];
  return (seq) => head + seq + tail;
}

async function heraldPhase(opts: BenchOptions): Promise<HeraldResult> {
  await checkRedis(opts.redisUrl);
  const runId = Date.now().toString(36);
  const prefix = `herald-bench-${process.pid}-${runId}`;
  const body = bodyFactory(runId);

  const sink = await startBenchSink();
  cleanups.push(() => sink.close());
  // Registered before Herald starts, so it runs after Herald is stopped.
  let keysDeleted = 0;
  cleanups.push(async () => {
    keysDeleted = await deletePrefix(opts.redisUrl, prefix);
  });

  const nodeArgs = opts.heraldCpuProf ? ['--cpu-prof', `--cpu-prof-dir=${opts.heraldCpuProf}`] : [];
  const extra = [...nodeArgs, ...opts.heraldArgs].join(' ');
  const replicaNote = opts.replicas > 1 ? `${opts.replicas} replicas, ` : '';
  log(`starting Herald (${replicaNote}Redis ${opts.redisUrl}, prefix ${prefix}${extra ? `, with ${extra}` : ''})`);
  // Every replica gets the same manifests (each its own config directory and ports) and the same prefix.
  const heralds: HeraldProcess[] = [];
  const exitCodes: Array<number | null> = [];
  const stoppers: Array<() => Promise<void>> = [];
  for (let i = 0; i < opts.replicas; i++) {
    const herald: HeraldProcess = await startHerald({
      manifests: manifests(sink.url),
      redisUrl: opts.redisUrl,
      extraArgs: ['--redis-prefix', prefix, '--log-level', opts.heraldLogLevel, '--shutdown-timeout', '10s', ...opts.heraldArgs],
      nodeArgs,
    });
    heralds.push(herald);
    exitCodes.push(null);
    let stopped = false;
    const stopHerald = async () => {
      if (stopped) return;
      stopped = true;
      exitCodes[i] = await herald.stop();
      await herald.cleanup();
    };
    stoppers.push(stopHerald);
    cleanups.push(stopHerald);
    if (opts.replicas > 1) log(`  replica ${i + 1}: pid ${herald.pid}, events ${herald.eventsUrl}`);
  }
  const memories = heralds.map((h) => new MemoryWatcher(h.pid));

  // One probe end to end first through each replica: no point loading a pipeline that does not deliver.
  for (const [i, herald] of heralds.entries()) {
    const probe = await fetch(`${herald.eventsUrl}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(i) });
    if (probe.status !== 202) {
      throw new Error(`probe event answered ${probe.status}: ${await probe.text()}\n${herald.output.slice(-20).join('\n')}`);
    }
    for (const deadline = Date.now() + 15_000; (await sink.stats()).unique < i + 1; await sleep(50)) {
      if (Date.now() > deadline) throw new Error(`probe event not delivered within 15s\n${herald.output.slice(-20).join('\n')}`);
    }
  }

  log(`Herald: ${opts.connections} connections${opts.replicas > 1 ? ` over ${opts.replicas} replicas` : ''}, ${opts.warmupMs / 1000}s warm-up + ${opts.durationMs / 1000}s measured`);
  const redisBefore = await redisCpuSeconds(opts.redisUrl);
  const cpuBefore = sumCpuSeconds(heralds);
  const loadStart = performance.now();
  const load = await runLoad({
    origin: (heralds[0] as HeraldProcess).eventsUrl,
    origins: heralds.map((h) => h.eventsUrl),
    connections: opts.connections,
    warmupMs: opts.warmupMs,
    durationMs: opts.durationMs,
    body,
    firstSeq: heralds.length,
    keepSendTimes: true,
  });
  const loadEnd = nowEpochMs();
  const loadWallMs = performance.now() - loadStart;
  const cpuAfter = sumCpuSeconds(heralds);
  const redisAfter = await redisCpuSeconds(opts.redisUrl);
  const heraldCpu = cpuBefore !== undefined && cpuAfter !== undefined ? cpuAfter - cpuBefore : undefined;

  // Every accepted event (and the probes) must reach the sink before Herald is stopped.
  const expected = load.acceptedSeqs.length + heralds.length;
  log(`load done: ${fmtInt(load.sent)} sent, ${fmtInt(load.acceptedSeqs.length)} accepted; waiting for deliveries to drain`);
  let stats = await sink.stats();
  let lastReport = Date.now();
  const drainDeadline = Date.now() + opts.drainTimeoutMs;
  while (stats.unique < expected && Date.now() < drainDeadline) {
    await sleep(100);
    stats = await sink.stats();
    if (Date.now() - lastReport > 5_000) {
      log(`  delivered ${fmtInt(stats.unique)} / ${fmtInt(expected)}`);
      lastReport = Date.now();
    }
  }
  const drained = stats.unique >= expected;
  if (!drained) log(`drain timed out after ${opts.drainTimeoutMs / 1000}s: ${fmtInt(expected - stats.unique)} not delivered`);

  const peakRssPerReplica = memories.map((m) => m.stop());
  const knownRss = peakRssPerReplica.filter((r): r is number => r !== undefined);
  const peakRss = knownRss.length > 0 ? Math.max(...knownRss) : undefined;
  // Concatenated exposition: metricValue sums a sample over every replica's lines.
  const metrics = (await Promise.all(heralds.map((h) => h.metrics().catch(() => '')))).join('\n');
  for (const stop of stoppers) await stop();

  const receipts = await sink.receipts();
  const e2e = new Samples();
  let undelivered = 0;
  let lastReceipt = 0;
  for (const seq of load.acceptedSeqs) {
    const received = receipts.get(seq);
    if (received === undefined) {
      undelivered++;
      continue;
    }
    lastReceipt = Math.max(lastReceipt, received);
    if (seq >= load.measuredFrom && seq < load.measuredTo) e2e.push(received - (load.sendTimes.get(seq) as number));
  }
  let deliveredInWindow = 0;
  for (const at of receipts.values()) if (at >= load.windowStartEpoch && at < load.windowEndEpoch) deliveredInWindow++;
  const e2eSorted = e2e.sorted();

  return {
    ...summarizeLoad(load, heraldCpu, peakRss, loadWallMs),
    replicas: heralds.length,
    peakRssPerReplica,
    exitCodes,
    redisCores: redisBefore !== undefined && redisAfter !== undefined ? (redisAfter - redisBefore) / (loadWallMs / 1000) : undefined,
    acceptedTotal: load.acceptedSeqs.length,
    delivered: load.acceptedSeqs.length - undelivered,
    undelivered,
    duplicates: stats.total - stats.unique,
    e2eP50: percentile(e2eSorted, 50),
    e2eP99: percentile(e2eSorted, 99),
    e2eMax: e2eSorted.length ? (e2eSorted[e2eSorted.length - 1] as number) : NaN,
    deliveredPerSecDuringLoad: deliveredInWindow / (load.windowMs / 1000),
    drainMs: Math.max(0, lastReceipt - loadEnd),
    drained,
    metrics,
    get keysDeleted() {
      return keysDeleted;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Phase 2: the bare Fastify handler

async function barePhase(opts: BenchOptions): Promise<LoadSummary> {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'bare-server.js');
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const running = () => child.exitCode === null && child.signalCode === null;
  cleanups.push(async () => {
    if (running()) child.kill('SIGTERM');
    const timer = setTimeout(() => running() && child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const match = /port (\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`bare server exited with ${code}`)));
    setTimeout(() => reject(new Error('bare server did not start within 10s')), 10_000).unref();
  });
  const pid = child.pid as number;
  const memory = new MemoryWatcher(pid);
  log(`bare Fastify: ${opts.connections} connections, ${opts.warmupMs / 1000}s warm-up + ${opts.durationMs / 1000}s measured`);
  const cpuBefore = readCpuSeconds(pid);
  const start = performance.now();
  const load = await runLoad({
    origin: `http://127.0.0.1:${port}`,
    connections: opts.connections,
    warmupMs: opts.warmupMs,
    durationMs: opts.durationMs,
    body: bodyFactory('bare'),
  });
  const wallMs = performance.now() - start;
  const cpuAfter = readCpuSeconds(pid);
  const summary = summarizeLoad(load, cpuBefore !== undefined && cpuAfter !== undefined ? cpuAfter - cpuBefore : undefined, memory.stop(), wallMs);
  await (cleanups.pop() as () => Promise<unknown>)();
  return summary;
}

// ---------------------------------------------------------------------------------------------
// Output

type Row = [label: string, value: string, note?: string];

function printTable(title: string, rows: Row[]): void {
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const out = [`\n${title}`, '-'.repeat(Math.min(100, title.length))];
  for (const [label, value, note] of rows) out.push(`  ${label.padEnd(w0)}  ${value.padStart(w1)}${note ? `   ${note}` : ''}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

function verdict(ok: boolean): string {
  return ok ? 'ok' : 'MISSED';
}

/** CPU µs the server spent per accepted event over the load (warm-up included in both terms). */
function cpuPerEvent(s: LoadSummary): string {
  if (s.cpuCores === undefined || s.eventsPerSec === 0) return 'n/a';
  return `${((s.cpuCores / s.eventsPerSec) * 1e6).toFixed(0)} µs`;
}

function heraldRows(h: HeraldResult): Row[] {
  const m = h.metrics;
  const outcomes = ['accepted', 'unmatched', 'duplicate', 'invalid', 'too_large', 'unavailable']
    .map((o) => [o, metricValue(m, 'herald_events_received_total', { outcome: o })] as const)
    .filter(([, v]) => v > 0)
    .map(([o, v]) => `${o} ${fmtInt(v)}`)
    .join(', ');
  const deliveries = ['success', 'retry', 'failed']
    .map((o) => [o, metricValue(m, 'herald_deliveries_total', { outcome: o })] as const)
    .filter(([, v]) => v > 0)
    .map(([o, v]) => `${o} ${fmtInt(v)}`)
    .join(', ');
  return [
    ['Herald accepted events/s', fmtInt(h.eventsPerSec)],
    ['Herald POST latency p50 / p99', `${fmtMs(h.p50)} / ${fmtMs(h.p99)}`],
    ['Herald non-202 answers', fmtCounts(h.nonAccepted)],
    ['Herald delivery e2e p50 / p99', `${fmtMs(h.e2eP50)} / ${fmtMs(h.e2eP99)}`, `max ${fmtMs(h.e2eMax)}; POST sent → sink received`],
    ['Herald deliveries/s during load', fmtInt(h.deliveredPerSecDuringLoad)],
    [
      'Herald delivered / accepted',
      `${fmtInt(h.delivered)} / ${fmtInt(h.acceptedTotal)}`,
      `${h.drained ? 'drained' : 'NOT drained'} ${fmtMs(h.drainMs)} after load; ${fmtInt(h.duplicates)} duplicate deliveries`,
    ],
    h.replicas > 1
      ? ['Herald peak RSS per replica', h.peakRssPerReplica.map((r) => fmtMiB(r)).join(' / ')]
      : ['Herald peak RSS', fmtMiB(h.peakRss)],
    h.replicas > 1
      ? ['Herald CPU per accepted event', cpuPerEvent(h), `${h.replicas} Herald processes summed (their workers delivering meanwhile)`]
      : ['Herald CPU per accepted event', cpuPerEvent(h), 'Herald process only (its worker delivering meanwhile)'],
    [h.replicas > 1 ? `Herald CPU during load (${h.replicas} summed)` : 'Herald CPU during load', h.cpuCores === undefined ? 'n/a' : `${h.cpuCores.toFixed(2)} cores`, `redis-server ${h.redisCores === undefined ? 'n/a' : h.redisCores.toFixed(2)}, load generator + sink ${h.loadGenCores.toFixed(2)} cores`],
    ['Herald metrics: events', outcomes || 'n/a'],
    ['Herald metrics: deliveries', deliveries || 'n/a'],
    [h.replicas > 1 ? 'Herald exit codes' : 'Herald exit code', h.exitCodes.map(String).join(', '), `${fmtInt(h.keysDeleted)} bench keys deleted from Redis`],
  ];
}

function bareRows(b: LoadSummary): Row[] {
  return [
    ['Bare Fastify events/s', fmtInt(b.eventsPerSec)],
    ['Bare POST latency p50 / p99', `${fmtMs(b.p50)} / ${fmtMs(b.p99)}`],
    ['Bare non-202 answers', fmtCounts(b.nonAccepted)],
    ['Bare peak RSS', fmtMiB(b.peakRss)],
    ['Bare CPU per event', cpuPerEvent(b)],
    ['Bare CPU during load', b.cpuCores === undefined ? 'n/a' : `${b.cpuCores.toFixed(2)} cores`, `load generator ${b.loadGenCores.toFixed(2)} cores`],
  ];
}

function matchRows(r: MatchResult): Row[] {
  return [
    [`Match, ${fmtInt(r.small.alerts)} alerts`, `${r.small.nsPerEvent.toFixed(0)} ns/event`],
    [`Match, ${fmtInt(r.large.alerts)} alerts`, `${r.large.nsPerEvent.toFixed(0)} ns/event`],
    [
      'Match ratio 10,000 / 10',
      fmtRatio(r.ratio),
      `target ≤ 1.2×: ${verdict(r.ratio <= 1.2)} (median of ${r.rounds} rounds × ${fmtInt(r.eventsPerRound)} events)`,
    ],
  ];
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  let opts: BenchOptions | 'help';
  try {
    opts = parseOptions();
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n\n${usage()}`);
    return 2;
  }
  if (opts === 'help') {
    process.stdout.write(usage());
    return 0;
  }
  log(
    `node ${process.version}, ${availableParallelism()} CPUs, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );

  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping what the benchmark started`);
    void runCleanups().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let herald: HeraldResult | Error | undefined;
  let bare: LoadSummary | Error | undefined;
  let match: MatchResult | Error | undefined;

  if (opts.phases.has('herald')) {
    try {
      herald = await heraldPhase(opts);
    } catch (err) {
      herald = err as Error;
      log(`Herald phase failed: ${herald.message}`);
    } finally {
      await runCleanups();
    }
  }
  if (opts.phases.has('bare')) {
    try {
      bare = await barePhase(opts);
    } catch (err) {
      bare = err as Error;
      log(`bare phase failed: ${bare.message}`);
    } finally {
      await runCleanups();
    }
  }
  if (opts.phases.has('match')) {
    log(`matching: 10 vs 10,000 alerts, ${opts.matchRounds} rounds × ${fmtInt(opts.matchIterations)} events`);
    try {
      match = await runMatchBenchmark({ iterations: opts.matchIterations, rounds: opts.matchRounds });
    } catch (err) {
      match = err as Error;
      log(`matching phase failed: ${match.message}`);
    }
  }

  const rows: Row[] = [];
  if (herald instanceof Error) rows.push(['Herald', 'FAILED', herald.message.split('\n')[0]]);
  else if (herald) rows.push(...heraldRows(herald));
  if (bare instanceof Error) rows.push(['Bare Fastify', 'FAILED', bare.message.split('\n')[0]]);
  else if (bare) rows.push(...bareRows(bare));
  if (herald && bare && !(herald instanceof Error) && !(bare instanceof Error)) {
    const ratio = herald.eventsPerSec / bare.eventsPerSec;
    rows.push(['Ratio Herald / bare events/s', fmtRatio(ratio), `target ≥ 0.5×: ${verdict(ratio >= 0.5)}`]);
  }
  if (match instanceof Error) rows.push(['Match', 'FAILED', match.message.split('\n')[0]]);
  else if (match) rows.push(...matchRows(match));

  printTable(
    `Herald benchmark — ${opts.connections} connections${opts.replicas > 1 && opts.phases.has('herald') ? ` (Herald: ${opts.replicas} replicas)` : ''}, ${opts.durationMs / 1000}s measured after ${opts.warmupMs / 1000}s warm-up, ` +
      `${availableParallelism()} CPUs, node ${process.version}`,
    rows,
  );
  const failed = [herald, bare, match].some((r) => r instanceof Error);
  return failed ? 1 : 0;
}

process.exit(await main());
