/**
 * Faults at Herald's listeners and exits (issue 8):
 *
 * - slow senders: sockets trickling 3 MiB bodies are cut at the request timeout, or refused
 *   before their body once the bodies being received reach their budget; memory is reused,
 *   `/healthz` and a normal `POST /` keep answering meanwhile, and connections beyond the events
 *   listener's cap (kept below `ulimit -n`) are closed at once;
 * - the admin API from a browser: a cross-site page (foreign `Origin`, `text/plain` body) cannot
 *   replay, a DNS-rebound `Host` cannot purge; curl-style use works; the token check takes the
 *   `Bearer` scheme in any case;
 * - exit: with stdout a pipe nobody reads, or one whose reader is gone, SIGTERM still exits
 *   within `--shutdown-timeout`.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { kustomizationAlert, webhookProvider } from '../e2e/manifests.js';
import { kustomizationEvent } from '../support/events.js';
import { freePort, heraldMain, metricValue, startHerald, type HeraldProcess } from '../support/herald.js';
import { startSink } from '../support/sink.js';
import { makeTempDir } from '../support/tmp.js';
import { tokenChecker } from '../../src/server/admin.js';
import { sleep, until } from '../support/wait.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

function rssMiB(pid: number): number {
  const kb = /^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Math.round(Number(kb) / 1024);
}

async function startWithSink(extraArgs: string[], sinkStatus = 200): Promise<HeraldProcess> {
  const sink = await startSink(() => ({ status: sinkStatus, body: sinkStatus === 200 ? 'ok' : 'rejected' }));
  cleanups.push(() => sink.close());
  const herald = await startHerald({
    manifests: { 'p.yaml': webhookProvider({ address: `${sink.url}/hook` }), 'a.yaml': kustomizationAlert() },
    extraArgs,
  });
  cleanups.push(async () => (await herald.stop('SIGTERM', 10_000), await herald.cleanup()));
  return herald;
}

interface SlowSender {
  socket: Socket;
  closedAt?: number;
  answer: string;
}

/** Opens `count` connections that send the headers of a POST (of 3 MiB unless told) and then trickle its body. */
function slowSenders(port: number, count: number, chunkBytes: number, everyMs: number, forMs: number, declared = 3 * 1024 * 1024): SlowSender[] {
  const chunk = Buffer.alloc(chunkBytes, 'a');
  const stopAt = Date.now() + forMs;
  return Array.from({ length: count }, () => {
    const socket = connect(port, '127.0.0.1');
    const sender: SlowSender = { socket, answer: '' };
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => (sender.answer += d.toString('latin1')));
    socket.on('close', () => (sender.closedAt ??= Date.now()));
    socket.on('connect', () => {
      socket.write(`POST / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${declared}\r\n\r\n{"x":"`);
      const timer = setInterval(() => {
        if (socket.destroyed || Date.now() > stopAt) return clearInterval(timer);
        socket.write(chunk);
      }, everyMs);
    });
    return sender;
  });
}

describe('slow request bodies on the events port', () => {
  it('cuts 300 trickling 3 MiB bodies at the request timeout while /healthz and POST / keep answering; memory is reused', async () => {
    const herald = await startWithSink(['--request-timeout', '3s', '--log-level', 'warn']);
    const port = Number(new URL(herald.eventsUrl).port);
    const before = rssMiB(herald.pid);

    /** One wave of 300 senders, 16 KiB every 200 ms each: never finishing a 3 MiB body within 15 s. */
    const wave = async () => {
      const startedAt = Date.now();
      const senders = slowSenders(port, 300, 16 * 1024, 200, 15_000);
      cleanups.push(async () => senders.forEach((s) => s.socket.destroy()));
      await until(() => senders.every((s) => s.socket.readyState === 'open' || s.closedAt !== undefined), { timeoutMs: 5_000, what: 'senders connected' });
      await sleep(1_000);
      // Under attack: health and a real event still answer promptly.
      const healthStart = Date.now();
      expect((await fetch(`${herald.healthUrl}/healthz`, { signal: AbortSignal.timeout(5_000) })).status).toBe(200);
      const healthMs = Date.now() - healthStart;
      expect((await herald.postEvent(kustomizationEvent({ message: `during the attack ${startedAt}` }))).status).toBe(202);
      let peak = rssMiB(herald.pid);
      // Every sender is cut once the 3 s deadline passed (Node checks it every second).
      await until(() => ((peak = Math.max(peak, rssMiB(herald.pid))), senders.every((s) => s.closedAt !== undefined)), { timeoutMs: 10_000, what: 'every slow sender cut off' });
      const cutAfter = Math.max(...senders.map((s) => (s.closedAt as number) - startedAt));
      const answered408 = senders.filter((s) => s.answer.startsWith('HTTP/1.1 408')).length;
      const answered503 = senders.filter((s) => s.answer.startsWith('HTTP/1.1 503')).length;
      await sleep(2_000);
      return { cutAfter, answered408, answered503, healthMs, peak, after: rssMiB(herald.pid) };
    };

    const first = await wave();
    const second = await wave();
    for (const [name, w] of [['first', first], ['second', second]] as const) {
      process.stdout.write(
        `slowloris ${name} wave: 300 senders cut within ${w.cutAfter} ms (${w.answered503} refused with 503 by the 256 MiB body budget, ${w.answered408} admitted and cut with 408); ` +
          `/healthz took ${w.healthMs} ms under attack; RSS peak ${w.peak}, after ${w.after} MiB (started at ${before})\n`,
      );
      expect(w.cutAfter).toBeLessThan(8_000);
      // 256 MiB of declared 3 MiB bodies: 85 admitted at once, the rest refused before their body.
      expect(w.answered408).toBeLessThanOrEqual(85);
      expect(w.answered408 + w.answered503).toBe(300);
    }
    // What the first wave held is released and reused: a second wave does not add to it.
    expect(first.after).toBeLessThan(before + 150);
    expect(second.after).toBeLessThan(first.after + 60);
    expect((await herald.postEvent(kustomizationEvent({ message: 'after the attack' }))).status).toBe(202);
  }, 60_000);

  it('closes connections beyond --events-max-connections at once; /healthz is unaffected', async () => {
    const herald = await startWithSink(['--events-max-connections', '50', '--log-level', 'warn']);
    const port = Number(new URL(herald.eventsUrl).port);
    // Small declared bodies, so the cap and not the body budget is what turns them away.
    const senders = slowSenders(port, 120, 16, 500, 8_000, 64 * 1024);
    cleanups.push(async () => senders.forEach((s) => s.socket.destroy()));
    await sleep(1_500);
    const open = senders.filter((s) => s.closedAt === undefined).length;
    process.stdout.write(`connection cap 50: ${open} of 120 connections still open after 1.5 s\n`);
    expect(open).toBeLessThanOrEqual(50);
    expect(open).toBeGreaterThan(0);
    expect((await fetch(`${herald.healthUrl}/healthz`, { signal: AbortSignal.timeout(3_000) })).status).toBe(200);
  });
});

/** An admin request with any headers, Host included (fetch cannot set Host). */
function adminRequest(
  herald: HeraldProcess,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; body: string }> {
  const url = new URL(herald.adminUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, method, path, headers, timeout: 5_000 }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the admin API against cross-site requests (loopback, no token)', () => {
  it('refuses a foreign Origin, a text/plain replay and a DNS-rebound Host; curl-style use works', async () => {
    const herald = await startWithSink(['--max-attempts', '1'], 400);
    const adminPort = new URL(herald.adminUrl).port;
    for (const message of ['one', 'two']) expect((await herald.postEvent(kustomizationEvent({ message }))).status).toBe(202);
    const deadLetters = async () => {
      const res = await adminRequest(herald, 'GET', '/deliveries?state=failed', { host: `127.0.0.1:${adminPort}` });
      return (JSON.parse(res.body) as { deliveries: unknown[] }).deliveries.length;
    };
    await until(async () => (await deadLetters()) === 2, { timeoutMs: 10_000, what: 'two dead letters' });

    // The replay: a page on evil.example posting text/plain (no preflight needed).
    const crossSite = await adminRequest(
      herald,
      'POST',
      '/dead-letters/replay',
      { host: `127.0.0.1:${adminPort}`, origin: 'http://evil.example', 'content-type': 'text/plain' },
      'x',
    );
    expect(crossSite.status).toBe(403);
    // The same without an Origin (an older browser, a form): still not JSON, so refused.
    const form = await adminRequest(herald, 'POST', '/dead-letters/replay', { host: `localhost:${adminPort}`, 'content-type': 'text/plain' }, 'x');
    expect(form.status).toBe(415);
    const fetchMetadata = await adminRequest(herald, 'POST', '/dead-letters/replay', {
      host: `localhost:${adminPort}`,
      'content-type': 'application/json',
      'sec-fetch-site': 'cross-site',
    });
    expect(fetchMetadata.status).toBe(403);
    // The purge: DNS rebinding makes evil.example resolve to 127.0.0.1.
    const rebound = await adminRequest(herald, 'DELETE', '/dead-letters', { host: `evil.example:${adminPort}`, 'content-type': 'application/json' });
    expect(rebound.status).toBe(403);
    const reboundRead = await adminRequest(herald, 'GET', '/deliveries', { host: `evil.example:${adminPort}` });
    expect(reboundRead.status).toBe(403);
    expect(await deadLetters()).toBe(2);
    expect(metricValue(await herald.metrics(), 'herald_replays_total')).toBe(0);

    // What an operator does: curl on the machine (Host 127.0.0.1 or localhost, JSON for changes).
    const replay = await adminRequest(herald, 'POST', '/dead-letters/replay', {
      host: `localhost:${adminPort}`,
      origin: `http://localhost:${adminPort}`,
      'content-type': 'application/json',
    });
    expect(replay.status).toBe(200);
    expect(JSON.parse(replay.body)).toEqual({ replayed: 2, skipped: 0 });
    await until(async () => (await deadLetters()) === 2, { timeoutMs: 10_000, what: 'replayed deliveries failing again' });
    const purge = await adminRequest(herald, 'DELETE', '/dead-letters', { host: `[::1]:${adminPort}`, 'content-type': 'application/json' });
    expect(purge.status).toBe(200);
    expect(JSON.parse(purge.body)).toEqual({ purged: 2 });
  });

  it('compares the token whatever its length and takes the Bearer scheme in any case', () => {
    const matches = tokenChecker('s3cret-token');
    for (const ok of ['Bearer s3cret-token', 'bearer s3cret-token', 'BEARER  s3cret-token']) expect(matches(ok)).toBe(true);
    for (const bad of [undefined, '', 'Bearer', 'Bearer ', 'Bearer s3cret-toke', 'Bearer s3cret-tokenx', 'Basic s3cret-token', 's3cret-token', 'Bearer s3cret token']) {
      expect(matches(bad)).toBe(false);
    }
  });
});

/** Starts Herald on free ports with stdout a pipe; optionally under a lower open-file limit (`ulimit -n`). */
async function spawnHerald(args: string[], stderr: 'ignore' | 'pipe', openFiles?: number) {
  const dir = await makeTempDir('herald-spawn-');
  const ports = [await freePort(), await freePort(), await freePort(), await freePort()];
  const argv = [
    heraldMain,
    '--config-dir',
    dir,
    '--events-addr',
    `127.0.0.1:${ports[0]}`,
    '--metrics-addr',
    `127.0.0.1:${ports[1]}`,
    '--health-addr',
    `127.0.0.1:${ports[2]}`,
    '--admin-addr',
    `127.0.0.1:${ports[3]}`,
    '--receiver-addr',
    `127.0.0.1:${await freePort()}`,
    ...args,
  ];
  const child =
    openFiles === undefined
      ? spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', stderr] })
      : spawn('sh', ['-c', `ulimit -n ${openFiles} && exec "$0" "$@"`, process.execPath, ...argv], { stdio: ['ignore', 'pipe', stderr] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  cleanups.push(async () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));
  if (!child.stdout) throw new Error('stdout is not a pipe');
  return { child, stdout: child.stdout, ports: ports as [number, number, number, number], exited };
}

describe('a connection flood under a low open-file limit', () => {
  it('keeps the events cap below ulimit -n, so /healthz answers while 900 connections are tried', async () => {
    const { stdout, ports } = await spawnHerald(['--log-level', 'warn'], 'ignore', 700);
    let output = '';
    stdout.on('data', (d: Buffer) => (output += d.toString()));
    await until(async () => (await fetch(`http://127.0.0.1:${ports[2]}/healthz`).catch(() => undefined))?.status === 200, { timeoutMs: 15_000, what: 'herald live' });
    const senders = slowSenders(ports[0], 900, 16, 1_000, 8_000, 64 * 1024);
    cleanups.push(async () => senders.forEach((s) => s.socket.destroy()));
    await sleep(2_000);
    const open = senders.filter((s) => s.closedAt === undefined).length;
    const health = await fetch(`http://127.0.0.1:${ports[2]}/healthz`, { signal: AbortSignal.timeout(3_000) }).then(
      (r) => r.status,
      (err: Error) => err.message,
    );
    process.stdout.write(`ulimit -n 700: ${open} of 900 flood connections held; /healthz ${health}\n`);
    expect(output).toMatch(/events connection cap does not fit the open-file limit/);
    expect(health).toBe(200);
    expect(open).toBeLessThan(300);
  });
});

describe('exit with stdout a pipe that nobody reads', () => {
  it.each([['stalled (reader alive, not reading)'], ['closed (reader gone)']])(
    'SIGTERM exits within --shutdown-timeout when stdout is %s',
    async (how) => {
      const { child, stdout, ports, exited } = await spawnHerald(['--shutdown-timeout', '2s', '--log-level', 'debug'], 'ignore');
      stdout.pause();
      await until(
        async () => (await fetch(`http://127.0.0.1:${ports[2]}/healthz`).catch(() => undefined))?.status === 200,
        { timeoutMs: 15_000, what: 'herald live' },
      );
      // Enough debug lines (one per unmatched event) to fill the pipe's buffer many times.
      for (let i = 0; i < 600; i++) {
        const event = kustomizationEvent({ message: `${'m'.repeat(400)} ${i}` });
        await fetch(`http://127.0.0.1:${ports[0]}/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(event),
          signal: AbortSignal.timeout(3_000),
        }).catch(() => undefined);
      }
      if (how.startsWith('closed')) stdout.destroy();
      const signalledAt = Date.now();
      child.kill('SIGTERM');
      const code = await Promise.race([exited, sleep(10_000).then(() => 'still running' as const)]);
      const tookMs = Date.now() - signalledAt;
      process.stdout.write(`exit with stdout ${how}: ${code} after ${tookMs} ms\n`);
      expect(code).not.toBe('still running');
      expect(tookMs).toBeLessThan(5_000);
    },
    40_000,
  );
});
