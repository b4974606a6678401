/**
 * Fault: the in-process queue's memory and CPU bounds (issue 8). Herald runs as a process in
 * memory mode:
 *
 * - unique ~3 MiB events to a working provider, with a 320 MB heap: completed deliveries keep
 *   no payload, so Herald neither dies of out-of-memory nor loses an accepted event;
 * - a queue cap: once `--max-queued-jobs` deliveries are pending, `POST /` answers 503 with
 *   `Retry-After` (never 202 for work that is not stored);
 * - a backlog of tens of thousands of events for a provider refusing connections: the event
 *   loop is never starved (`/healthz` answers fast, the process is idle between retries, and
 *   SIGTERM exits within `--shutdown-timeout`);
 * - a backlog for a provider resetting every connection: its circuit opens, so it gets a few
 *   probes instead of an attempt per job, and a healthy provider's latency stays near baseline.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { freePort, metricValue, startHerald, type HeraldProcess } from '../support/herald.js';
import { helmReleaseEvent, kustomizationEvent } from '../support/events.js';
import { startSink } from '../support/sink.js';
import { alertFor, alertForKustomization, kustomizationAlert, webhookProvider } from '../e2e/manifests.js';
import { faultFile, messageOf, percentile, postAll, tallyOf } from './fault-support.js';
import { sleep, until } from '../support/wait.js';

const { cleanups, captured } = faultFile('queue-bounds');

async function herald(manifests: Record<string, string>, extraArgs: string[], nodeArgs: string[] = []): Promise<HeraldProcess> {
  const h = await startHerald({ manifests, extraArgs: ['--log-level', 'warn', ...extraArgs], nodeArgs });
  cleanups.push(async () => (await h.stop('SIGKILL'), await h.cleanup()));
  return h;
}

/** A provider endpoint that counts requests and bytes and keeps nothing (the events are large). */
async function countingSink(): Promise<{ url: string; received: () => number; close: () => Promise<void> }> {
  let received = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received += 1;
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve())));
  cleanups.push(close);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received: () => received, close };
}


/** utime + stime of a process, in milliseconds (Linux /proc). */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks, USER_HZ = 100
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: Math.round(performance.now() - t0), value };
}

/** A TCP endpoint that accepts connections and never answers. */
async function blackHole(): Promise<{ url: string; connections: () => number }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createNetServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.resume();
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => (sockets.forEach((s) => s.destroy()), server.close(() => resolve()))));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections };
}

const BIG = 'x'.repeat(3 * 1024 * 1024 - 4096);

describe('in-process queue bounds', () => {
  it('keeps no payload of completed deliveries: unique 3 MiB events through a 320 MB heap, all delivered', async () => {
    const sink = await countingSink();
    const h = await herald(
      { 'p.yaml': webhookProvider({ address: `${sink.url}/hook` }), 'a.yaml': kustomizationAlert() },
      [],
      ['--max-old-space-size=320'],
    );
    const count = 180; // ≈ 540 MiB of events: kept whole, they do not fit the heap
    const bodies = (i: number) => JSON.stringify(kustomizationEvent({ message: `big ${i} ${BIG}` }));
    const { statuses } = await postAll(h, bodies, count, 3);
    const accepted = statuses.filter((s) => s === 202).length;
    await until(() => sink.received() >= accepted || h.child.exitCode !== null, { timeoutMs: 60_000, what: 'every accepted event delivered' }).catch(() => undefined);
    const alive = h.child.exitCode === null && h.child.signalCode === null;
    const heapMb = alive ? Math.round(metricValue(await h.metrics(), 'nodejs_heap_size_used_bytes') / 2 ** 20) : NaN;
    const rss = alive ? await rssMb(h.pid) : NaN;
    let completed: Array<{ data: { event: { message: string; involvedObject: { name: string } } } }> = [];
    if (alive) {
      const res = await fetch(`${h.adminUrl}/deliveries?state=completed&limit=500`);
      completed = ((await res.json()) as { deliveries: typeof completed }).deliveries;
      captured['admin completed (memory)'] = JSON.stringify(completed).slice(0, 100_000);
    }
    const keptBytes = completed.reduce((sum, d) => sum + JSON.stringify(d).length, 0);
    console.log(
      `[queue-bounds] memory mode, ${count} unique 3 MiB events: answers ${JSON.stringify(tallyOf(statuses))}, delivered ${sink.received()}, ` +
        `alive=${alive}, heap used ${heapMb} MB, RSS ${rss} MB, completed records listed ${completed.length} (${keptBytes} bytes, ` +
        `largest ${Math.max(0, ...completed.map((d) => JSON.stringify(d).length))} bytes)`,
    );
    if (!alive) console.log(`[queue-bounds] Herald exited:\n${h.output.slice(-15).join('\n')}`);
    expect(alive).toBe(true);
    expect(accepted).toBe(count);
    expect(sink.received()).toBe(accepted);
    expect(completed.length).toBe(count);
    // What the admin API needs stays: the involved object; the 3 MiB message does not.
    for (const d of completed) {
      expect(d.data.event.involvedObject.name).toBe('apps');
      expect(JSON.stringify(d).length).toBeLessThan(4096);
    }
  }, 180_000);

  it('answers 503 with Retry-After once --max-queued-jobs deliveries are pending, and never 202 for work not stored', async () => {
    const closedPort = await freePort();
    const h = await herald(
      { 'p.yaml': webhookProvider({ address: `http://127.0.0.1:${closedPort}/hook` }), 'a.yaml': kustomizationAlert() },
      ['--max-queued-jobs', '100', '--retry-base-delay', '10m'],
    );
    const bodies = (i: number) => JSON.stringify(kustomizationEvent({ message: `capped ${i}` }));
    const first = await postAll(h, bodies, 100, 4);
    const over = await postAll(h, (i) => bodies(100 + i), 20, 4);
    const metrics = await h.metrics();
    console.log(
      `[queue-bounds] queue cap 100: first 100 ${JSON.stringify(tallyOf(first.statuses))}, next 20 ${JSON.stringify(tallyOf(over.statuses))} ` +
        `retry-after=${over.retryAfter[0]}; pending=${metricValue(metrics, 'herald_queue_jobs', { state: 'delayed' }) + metricValue(metrics, 'herald_queue_jobs', { state: 'waiting' }) + metricValue(metrics, 'herald_queue_jobs', { state: 'active' })}`,
    );
    expect(first.statuses.every((s) => s === 202)).toBe(true);
    expect(over.statuses.every((s) => s === 503)).toBe(true);
    expect(over.retryAfter.every((r) => r !== null && Number(r) > 0)).toBe(true);
    // A copy of an event already stored is still accepted: its job exists, nothing new is stored.
    expect((await h.postEvent(undefined, { body: bodies(0) })).status).not.toBe(503);
  }, 60_000);

  it('does not starve the event loop with a large backlog for a provider that holds its slots', async () => {
    // The provider accepts connections and never answers (as a host behind a dead load balancer
    // does): its slots stay busy, so every other job for it cannot get one. Before parking, each
    // such job was re-run every 0.5–1.5 s (a defer loop through the whole backlog).
    const hole = await blackHole();
    const h = await herald(
      {
        'p.yaml': webhookProvider({ address: `${hole.url}/hook`, extra: '  timeout: 60s\n' }),
        'a.yaml': kustomizationAlert(),
      },
      ['--log-level', 'error', '--shutdown-timeout', '5s'],
    );
    const count = 30_000;
    const posting = timed(() => postAll(h, (i) => JSON.stringify(kustomizationEvent({ message: `stuck ${i}` })), count, 32));

    // While the backlog builds: /healthz stays answerable.
    const healthz: number[] = [];
    let done = false;
    void posting.then(() => (done = true));
    const probe = async () => {
      const t = await timed(() => fetch(`${h.healthUrl}/healthz`, { signal: AbortSignal.timeout(30_000) }).then((r) => r.status, () => 0));
      healthz.push(t.value === 200 ? t.ms : 30_000);
    };
    while (!done) await (probe(), sleep(250));
    const { ms: postMs, value: posted } = await posting;
    for (let i = 0; i < 8; i++) await (probe(), sleep(250));
    // Idle window: 8 deliveries hang, every other job waits for a slot; nothing should run.
    const cpuBefore = await cpuMs(h.pid);
    await sleep(3_000);
    const idleCpuMs = (await cpuMs(h.pid)) - cpuBefore;
    await probe();
    const metrics = await h.metrics();
    const pending = ['waiting', 'active', 'delayed'].reduce((n, state) => n + metricValue(metrics, 'herald_queue_jobs', { state }), 0);

    const stopped = await timed(() => h.stop('SIGTERM', 15_000));
    const sorted = [...healthz].sort((a, b) => a - b);
    console.log(
      `[queue-bounds] backlog for a provider holding its slots: ${count} events posted in ${postMs} ms ${JSON.stringify(tallyOf(posted.statuses))}; ` +
        `pending ${pending}; requests reaching the provider ${hole.connections()}; /healthz n=${healthz.length} p50=${sorted[Math.floor(sorted.length / 2)]}ms ` +
        `max=${sorted.at(-1)}ms; CPU over a 3 s idle window ${idleCpuMs} ms; SIGTERM → exit ${stopped.value} in ${stopped.ms} ms`,
    );
    expect(posted.statuses.every((s) => s === 202)).toBe(true);
    expect(pending).toBe(count);
    expect(Math.max(...healthz)).toBeLessThan(2_000);
    expect(idleCpuMs).toBeLessThan(300);
    expect(stopped.value).not.toBeNull();
    expect(stopped.ms).toBeLessThan(7_000);
  }, 180_000);

  it("opens a refusing provider's circuit: a few probes instead of an attempt per job, a healthy provider near its baseline", async () => {
    // Every connection is reset at once (as a host with nothing listening would refuse it), and counted.
    let connections = 0;
    const sockets = new Set<Socket>();
    const dead = createNetServer((socket) => {
      connections += 1;
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
      socket.resetAndDestroy();
    });
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => (sockets.forEach((s) => s.destroy()), dead.close(() => resolve()))));
    const healthy = await startSink();
    cleanups.push(() => healthy.close());
    const receipt = new Map<string, number>();
    healthy.respondWith((req) => (receipt.set(messageOf(req), req.receivedAt), { status: 200 }));
    const h = await herald(
      {
        'healthy.yaml': webhookProvider({ name: 'healthy', address: `${healthy.url}/hook` }),
        'dead.yaml': webhookProvider({ name: 'dead', address: `http://127.0.0.1:${(dead.address() as AddressInfo).port}/hook` }),
        'alerts.yaml': [
          alertForKustomization({ name: 'to-healthy', provider: 'healthy', kustomization: 'healthy-app' }),
          // The backlog: HelmReleases `dead-app-0` … `dead-app-49`, to the dead Provider.
          alertFor({ name: 'to-dead', provider: 'dead', kind: 'HelmRelease', source: "'*'" }),
        ].join('---\n'),
      },
      ['--log-level', 'error'],
    );
    const event = (name: string, message: string) =>
      JSON.stringify(kustomizationEvent({ message, involvedObject: { ...kustomizationEvent().involvedObject, name } }));
    async function measure(tag: string): Promise<number[]> {
      const sentAt = new Map<string, number>();
      const posts: Array<Promise<unknown>> = [];
      for (let i = 0; i < 100; i++) {
        const message = `healthy ${tag} ${i}`;
        sentAt.set(message, Date.now());
        posts.push(postAll(h, () => event('healthy-app', message), 1, 1));
        await sleep(30);
      }
      await Promise.all(posts);
      await until(() => [...sentAt.keys()].every((m) => receipt.has(m)), { timeoutMs: 60_000, what: `healthy deliveries (${tag})` });
      return [...sentAt].map(([m, t]) => (receipt.get(m) as number) - t);
    }
    const attempts = async () => {
      const metrics = await h.metrics();
      const deadAttempts = ['retry', 'failed'].reduce((n, outcome) => n + metricValue(metrics, 'herald_deliveries_total', { outcome }), 0);
      return { deadAttempts, deferred: metricValue(metrics, 'herald_deliveries_deferred_total', { provider_type: 'generic' }), open: metricValue(metrics, 'herald_provider_circuits_open', { provider_type: 'generic' }) };
    };

    const baseline = await measure('baseline');
    const backlog = 5_000;
    // Spread over 50 objects: per-object ordering alone would hold one object's backlog behind
    // its first failure; across objects only the Provider's circuit keeps the attempts down.
    const { statuses } = await postAll(h, (i) => JSON.stringify(helmReleaseEvent(`dead-app-${i % 50}`, `dead ${i}`)), backlog, 32);
    expect(tallyOf(statuses)).toEqual({ 202: backlog });
    const withBacklog = await measure('with-dead-backlog');
    const before = await attempts();
    const connectionsBefore = connections;
    const cpuBefore = await cpuMs(h.pid);
    await sleep(3_000);
    const idleCpuMs = (await cpuMs(h.pid)) - cpuBefore;
    const after = await attempts();
    const line = (v: number[]) => `p50=${percentile(v, 0.5)}ms p95=${percentile(v, 0.95)}ms max=${Math.max(...v)}ms`;
    console.log(
      `[queue-bounds] healthy provider, 100 events 30 ms apart: baseline ${line(baseline)}; with ${backlog} jobs for a provider resetting every connection ${line(withBacklog)}; ` +
        `attempts to it ${after.deadAttempts} in all (${connections} connections), ${after.deadAttempts - before.deadAttempts} over the next 3 s ` +
        `(${connections - connectionsBefore} connections), deliveries deferred by its open circuit ${after.deferred}, open circuits ${after.open}; CPU over those 3 s ${idleCpuMs} ms`,
    );
    // Without a circuit, each of the 5,000 jobs made its own attempts (its first at once, then on its own backoff).
    expect(after.deadAttempts).toBeLessThan(100);
    expect(after.deadAttempts - before.deadAttempts).toBeLessThan(10);
    expect(after.open).toBe(1);
    expect(after.deferred).toBeGreaterThan(0);
    expect(percentile(withBacklog, 0.5)).toBeLessThan(Math.max(100, 5 * percentile(baseline, 0.5)));
    expect(idleCpuMs).toBeLessThan(300);
  }, 180_000);
});
