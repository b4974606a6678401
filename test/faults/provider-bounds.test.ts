/**
 * Fault: providers that answer too much, forever, or are Herald itself (issue 8). Herald runs
 * as a process with the in-process queue. A provider answering 500 with a 1 GiB body (made
 * lazily, as fast as Herald reads) must cost neither memory nor time: the attempt fails at
 * once with a cut, masked error. A provider answering 200 with an endless body is never a
 * delivery: cut at the bound and failed for good, or, if it trickles, failed at the timeout.
 * A Provider addressed at Herald's own admin `/dead-letters/replay` is refused for good and
 * replays nothing.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { kustomizationEvent } from '../support/events.js';
import { metricValue, startHerald, type HeraldProcess } from '../support/herald.js';
import { startSink } from '../support/sink.js';
import { alertForKustomization, secret, webhookProvider } from '../e2e/manifests.js';
import { captureHerald, faultFile } from './fault-support.js';
import { sleep, until } from '../support/wait.js';

const { cleanups, planted, captured } = faultFile('provider-bounds');

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

interface StreamingProvider {
  url: string;
  port: number;
  requests: number;
  /** Bytes written to all answers so far. */
  written: number;
}

/**
 * A provider answering `status` with `prefix(req)` and then 64 KiB chunks of `x`, lazily and
 * only as fast as the reader takes them (or one byte every `trickleMs`), up to `maxBytes` per
 * answer or for 60 s.
 */
async function streamingProvider(
  status: number,
  maxBytes: number,
  opts: { prefix?: (req: IncomingMessage) => string; trickleMs?: number } = {},
): Promise<StreamingProvider> {
  const chunk = Buffer.alloc(opts.trickleMs ? 1 : 64 * 1024, 'x');
  const state: StreamingProvider = { url: '', port: 0, requests: 0, written: 0 };
  const server: Server = createServer((req, res) => {
    state.requests++;
    req.resume();
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.write(opts.prefix?.(req) ?? '');
    let sent = 0;
    const until = Date.now() + 60_000;
    const pump = () => {
      while (sent < maxBytes && Date.now() < until && !res.destroyed) {
        sent += chunk.length;
        state.written += chunk.length;
        if (opts.trickleMs) return void (res.write(chunk), setTimeout(pump, opts.trickleMs));
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  state.url = `http://127.0.0.1:${state.port}`;
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return state;
}

/** Resident memory of a process, in bytes (Linux). */
function rss(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

/** Samples a process's RSS every 50 ms until stopped; returns the peak. */
function rssPeak(pid: number): () => number {
  let peak = rss(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rss(pid));
    } catch {
      // exited
    }
  }, 50);
  return () => (clearInterval(timer), peak);
}

async function herald(manifests: Record<string, string>, tag: string, extraArgs: string[] = []): Promise<HeraldProcess> {
  const h = await startHerald({ manifests, extraArgs: ['--log-level', 'debug', '--retry-base-delay', '100ms', '--retry-max-delay', '200ms', ...extraArgs] });
  cleanups.push(async () => {
    Object.assign(captured, Object.fromEntries(Object.entries(await captureHerald(h)).map(([k, v]) => [`${tag} ${k}`, v])));
    await h.stop();
    captured[`${tag} logs after stop`] = h.output.join('\n');
    await h.cleanup();
  });
  return h;
}

interface Delivery {
  id: string;
  state: string;
  attemptsMade: number;
  lastError?: string;
  data: { provider: string };
}

async function deadLetters(h: HeraldProcess, count: number, ms: number, provider?: string): Promise<Delivery[]> {
  return until(
    async () => {
      const list = ((await (await fetch(`${h.adminUrl}/deliveries?state=failed&limit=500`)).json()) as { deliveries: Delivery[] }).deliveries;
      const mine = list.filter((d) => provider === undefined || d.data.provider === `flux-system/${provider}`);
      return mine.length >= count ? mine : undefined;
    },
    { timeoutMs: ms, what: `${count} dead letters${provider ? ` of ${provider}` : ''}` },
  );
}

function post(h: HeraldProcess, kustomization: string, message: string): Promise<Response> {
  return h.postEvent(kustomizationEvent({ message, involvedObject: { ...kustomizationEvent().involvedObject, name: kustomization } }));
}

describe('provider bounds', () => {
  it('keeps memory flat and fails at once on a 1 GiB error answer, with a cut and masked error', async () => {
    const apiKey = planted.plant('boundsapikey');
    // The answer quotes the header secret first, then a gigabyte of filler.
    const huge = await streamingProvider(500, GiB, { prefix: (req) => `rejected x-api-key=${String(req.headers['x-api-key'])} ` });
    const h = await herald(
      {
        'huge.yaml': webhookProvider({ name: 'huge', address: `${huge.url}/hook`, secretName: 'huge', extra: '  timeout: 60s\n' }),
        'huge-secret.yaml': secret('huge', { headers: `X-Api-Key: ${apiKey}\n` }),
        'alerts.yaml': alertForKustomization({ name: 'to-huge', provider: 'huge', kustomization: 'huge-app' }),
      },
      'huge',
      ['--max-attempts', '2'],
    );
    const before = rss(h.pid);
    const peak = rssPeak(h.pid);
    const started = Date.now();
    const events = 3;
    for (let i = 0; i < events; i++) expect((await post(h, 'huge-app', `huge ${i}`)).status).toBe(202);
    const dead = await deadLetters(h, events, 30_000);
    const elapsedMs = Date.now() - started;
    await sleep(300);
    const peakRss = peak();
    console.log(
      `[provider-bounds] 1 GiB 500 answers: ${huge.requests} attempts in ${elapsedMs} ms, provider wrote ${(huge.written / MiB).toFixed(1)} MiB, ` +
        `Herald RSS ${(before / MiB).toFixed(0)} → peak ${(peakRss / MiB).toFixed(0)} MiB; error: ${dead[0]?.lastError?.slice(0, 100)}…`,
    );
    expect(huge.requests).toBe(events * 2);
    // Each answer is dropped after its first 64 KiB (plus what the socket buffers held).
    expect(huge.written).toBeLessThan(huge.requests * 16 * MiB);
    expect(peakRss - before).toBeLessThan(150 * MiB);
    expect(elapsedMs).toBeLessThan(15_000);
    for (const d of dead) {
      expect(d.lastError).toMatch(/provider answered 500: rejected x-api-key=\*\*\*\*\* x+…$/);
      expect((d.lastError ?? '').length).toBeLessThan(1_024);
    }
  }, 60_000);

  it('never counts an endless 200 answer delivered: cut at the bound at once, or failed at the timeout if it trickles', async () => {
    const [endless, trickling] = [
      await streamingProvider(200, Number.MAX_SAFE_INTEGER),
      await streamingProvider(200, Number.MAX_SAFE_INTEGER, { trickleMs: 50 }),
    ];
    const h = await herald(
      {
        'endless.yaml': webhookProvider({ name: 'endless', address: `${endless.url}/hook`, extra: '  timeout: 2s\n' }),
        'trickling.yaml': webhookProvider({ name: 'trickling', address: `${trickling.url}/hook`, extra: '  timeout: 2s\n' }),
        'alerts.yaml': [
          alertForKustomization({ name: 'to-endless', provider: 'endless', kustomization: 'endless-app' }),
          alertForKustomization({ name: 'to-trickling', provider: 'trickling', kustomization: 'trickling-app' }),
        ].join('---\n'),
      },
      'endless',
      ['--max-attempts', '2'],
    );
    const before = rss(h.pid);
    const peak = rssPeak(h.pid);
    const started = Date.now();
    expect((await post(h, 'endless-app', 'endless')).status).toBe(202);
    const [cut] = await deadLetters(h, 1, 30_000, 'endless');
    const cutMs = Date.now() - started;
    expect((await post(h, 'trickling-app', 'trickling')).status).toBe(202);
    const [timedOut] = await deadLetters(h, 1, 30_000, 'trickling');
    const timedOutMs = Date.now() - started - cutMs;
    const peakRss = peak();
    const metrics = await h.metrics();
    console.log(
      `[provider-bounds] endless 200 answer: dead letter after ${cutMs} ms, ${endless.requests} attempt(s), provider wrote ${(endless.written / MiB).toFixed(1)} MiB; ` +
        `trickling 200 answer: dead letter after ${timedOutMs} ms, ${trickling.requests} attempts; Herald RSS ${(before / MiB).toFixed(0)} → peak ${(peakRss / MiB).toFixed(0)} MiB`,
    );
    // Longer than any answer Herald reads: not delivered, not retried (the provider may have it).
    expect(cut?.lastError).toContain('provider answered 200 with more than 65536 bytes: not counted as delivered');
    expect(cut?.attemptsMade).toBe(1);
    expect(cutMs).toBeLessThan(2_000);
    expect(endless.written).toBeLessThan(16 * MiB);
    // Still arriving at the timeout: a failed attempt, retried.
    expect(timedOut?.lastError).toContain('provider answered 200 but its answer did not arrive whole: timed out after 2000ms');
    expect(timedOut?.attemptsMade).toBe(2);
    expect(timedOutMs).toBeGreaterThanOrEqual(4_000);
    expect(metricValue(metrics, 'herald_deliveries_total', { outcome: 'success' })).toBe(0);
    expect(peakRss - before).toBeLessThan(150 * MiB);
  }, 60_000);

  it("refuses a Provider addressed at Herald's own admin replay, replaying nothing", async () => {
    // A dead letter of another team: its provider rejects for good.
    const rejecting = await startSink(() => ({ status: 400, body: 'no' }));
    cleanups.push(() => rejecting.close());
    const h = await herald(
      {
        'rejecting.yaml': webhookProvider({ name: 'rejecting', address: `${rejecting.url}/hook` }),
        'alerts.yaml': [
          alertForKustomization({ name: 'to-rejecting', provider: 'rejecting', kustomization: 'other-team-app' }),
          alertForKustomization({ name: 'to-sneaky', provider: 'sneaky', kustomization: 'sneaky-app' }),
        ].join('---\n'),
      },
      'ssrf',
    );
    expect((await post(h, 'other-team-app', 'other team')).status).toBe(202);
    const [victim] = await deadLetters(h, 1, 15_000, 'rejecting');
    expect(rejecting.requests).toHaveLength(1);

    // The admin address is known once Herald runs: the sneaky Provider arrives with a reload.
    await h.writeManifest('sneaky.yaml', webhookProvider({ name: 'sneaky', address: `${h.adminUrl}/dead-letters/replay` }));
    await until(
      async () => {
        const resources = (await (await fetch(`${h.healthUrl}/resources`)).json()) as { resources: Array<{ name: string; kind: string; ready: { status: string } }> };
        return resources.resources.some((r) => r.kind === 'Provider' && r.name === 'sneaky' && r.ready.status === 'True');
      },
      { timeoutMs: 15_000, what: 'sneaky Provider ready' },
    );
    for (let i = 0; i < 3; i++) expect((await post(h, 'sneaky-app', `sneaky ${i}`)).status).toBe(202);
    const refused = await deadLetters(h, 3, 15_000, 'sneaky');
    await sleep(500);

    console.log(`[provider-bounds] Provider at the admin replay: ${refused.length} deliveries refused; error: ${refused[0]?.lastError}`);
    for (const d of refused) {
      expect(d.lastError).toContain("refused: the provider address reaches Herald's own --admin-addr listener");
      expect(d.attemptsMade).toBe(1);
    }
    // Nothing was replayed: the other team's dead letter is still there, its provider asked once.
    expect(rejecting.requests).toHaveLength(1);
    const stillDead = await deadLetters(h, 1, 1_000, 'rejecting');
    expect(stillDead.map((d) => d.id)).toEqual([victim?.id]);
    expect(metricValue(await h.metrics(), 'herald_replays_total')).toBe(0);
  }, 60_000);
});
