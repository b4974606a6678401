/**
 * Fault: providers that fail (issue 5, item 3). Herald runs in Redis mode on the shared Redis
 * with a prefix of its own. One Provider's address refuses connections, one answers 500 for a
 * while, one answers 429 with `Retry-After: 2`, one hangs past its `spec.timeout`, one is
 * healthy. Nothing accepted is lost (delivered, or a dead letter with a masked error that the
 * admin API shows), no request reaches the rate-limited provider before its Retry-After, and a
 * black-holed provider with a backlog does not slow deliveries to a healthy one. Every planted
 * secret is looked for in everything Herald said, and every generic-hmac request is verified.
 */
import { describe, expect, it } from 'vitest';
import { kustomizationEvent } from '../support/events.js';
import { freePort, metricValue, startHerald, type HeraldProcess } from '../support/herald.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { startSink, type ReceivedRequest, type Sink } from '../support/sink.js';
import { alertForKustomization, secret } from '../e2e/manifests.js';
import { faultFile, captureHerald, hmacVerifies, messageOf, percentile } from './fault-support.js';
import { sleep, until } from '../support/wait.js';

const { cleanups, planted, captured } = faultFile('provider-faults');

const RETRY_FLAGS = ['--retry-base-delay', '100ms', '--retry-max-delay', '1s', '--max-attempts', '6'];

function providerYaml(name: string, type: string, opts: { address?: string; secretName?: string; timeout?: string } = {}): string {
  return `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata:
  name: ${name}
  namespace: flux-system
spec:
  type: ${type}
${opts.address ? `  address: ${JSON.stringify(opts.address)}\n` : ''}${opts.secretName ? `  secretRef:\n    name: ${opts.secretName}\n` : ''}${opts.timeout ? `  timeout: ${opts.timeout}\n` : ''}`;
}

async function sink(): Promise<Sink> {
  const s = await startSink();
  cleanups.push(() => s.close());
  return s;
}

async function herald(manifests: Record<string, string>, adminToken: string, tag: string): Promise<HeraldProcess> {
  const prefix = uniquePrefix(`faults-${tag}`);
  cleanups.push(() => deletePrefix(prefix));
  const h = await startHerald({
    manifests,
    redisUrl: REDIS_URL,
    extraArgs: ['--redis-prefix', prefix, '--log-level', 'debug', ...RETRY_FLAGS],
    env: { HERALD_ADMIN_TOKEN: adminToken },
  });
  cleanups.push(async () => {
    Object.assign(captured, prefixed(tag, await captureHerald(h, adminToken)));
    await h.stop();
    captured[`${tag} logs after stop`] = h.output.join('\n');
    await h.cleanup();
  });
  return h;
}

function prefixed(tag: string, record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [`${tag} ${k}`, v]));
}

interface Delivery {
  id: string;
  state: string;
  attemptsMade: number;
  lastError?: string;
  data: { provider: string; alert: string; event: { message: string } };
}

function adminClient(h: HeraldProcess, token: string) {
  return async (path: string, init: RequestInit = {}): Promise<{ status: number; text: string; body: Record<string, unknown> }> => {
    // Requests that change something say they are JSON (the admin API's rule against cross-site forms).
    const json: Record<string, string> = init.method && init.method !== 'GET' ? { 'content-type': 'application/json' } : {};
    const res = await fetch(`${h.adminUrl}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...json } });
    const text = await res.text();
    captured[`admin ${init.method ?? 'GET'} ${path} #${Object.keys(captured).length}`] = text;
    return { status: res.status, text, body: JSON.parse(text) as Record<string, unknown> };
  };
}

/** Messages the sink answered with a 2xx, i.e. delivered. */
function deliveredTracker() {
  const delivered = new Map<string, number>();
  return {
    delivered,
    mark(req: ReceivedRequest) {
      const m = messageOf(req);
      delivered.set(m, (delivered.get(m) ?? 0) + 1);
    },
  };
}

async function postAll(h: HeraldProcess, kustomization: string, messages: string[], concurrency = 16): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < messages.length) {
        const message = messages[next++] as string;
        const res = await h.postEvent(kustomizationEvent({ message, involvedObject: { ...kustomizationEvent().involvedObject, name: kustomization } }));
        statuses.push(res.status);
      }
    }),
  );
  return statuses;
}

describe('provider faults (Redis queue)', () => {
  it('loses nothing to a refused, failing, rate-limiting or hanging provider, and honours Retry-After', async () => {
    const [flaky, limited, hanging, healthy] = [await sink(), await sink(), await sink(), await sink()];
    const refusedPort = await freePort(); // nothing listens there

    const adminToken = planted.plant('admintoken');
    const refusedUser = planted.plant('refuseduser');
    const refusedPass = planted.plant('refusedpass');
    const refusedPath = planted.plant('refusedpath');
    const hangUser = planted.plant('hanguser');
    const hangPass = planted.plant('hangpass');
    const flakyKey = planted.plant('flakyhmac');
    const flakyHeader = planted.plant('flakyheader');
    const limitedKey = planted.plant('limitedhmac');
    const healthyKey = planted.plant('healthyhmac');
    const healthyHeader = planted.plant('healthyheader');

    // 500 three times per event, then 200; the error body quotes the header secret it got.
    const flakySeen = new Map<string, number>();
    const flakyOk = deliveredTracker();
    flaky.respondWith((req) => {
      const m = messageOf(req);
      const n = (flakySeen.get(m) ?? 0) + 1;
      flakySeen.set(m, n);
      if (n <= 3) return { status: 500, body: `overloaded, try later (you sent x-api-key=${String(req.headers['x-api-key'])})` };
      flakyOk.mark(req);
      return { status: 200 };
    });
    // 429 with Retry-After: 2 on the first request of each event, then 200.
    const limitedSeen = new Set<string>();
    const limitedOk = deliveredTracker();
    limited.respondWith((req) => {
      const m = messageOf(req);
      if (!limitedSeen.has(m)) {
        limitedSeen.add(m);
        return { status: 429, headers: { 'retry-after': '2' }, body: 'slow down' };
      }
      limitedOk.mark(req);
      return { status: 200 };
    });
    hanging.respondWith(() => undefined);
    const healthyOk = deliveredTracker();
    healthy.respondWith((req) => (healthyOk.mark(req), { status: 200 }));

    const h = await herald(
      {
        'refused.yaml': providerYaml('refused', 'generic', { secretName: 'refused' }),
        'refused-secret.yaml': secret('refused', {
          address: `http://${refusedUser}:${refusedPass}@127.0.0.1:${refusedPort}/hook/${refusedPath}`,
        }),
        'flaky.yaml': providerYaml('flaky', 'generic-hmac', { address: `${flaky.url}/hook`, secretName: 'flaky' }),
        'flaky-secret.yaml': secret('flaky', { token: flakyKey, headers: `X-Api-Key: ${flakyHeader}\n` }),
        'limited.yaml': providerYaml('limited', 'generic-hmac', { address: `${limited.url}/hook`, secretName: 'limited' }),
        'limited-secret.yaml': secret('limited', { token: limitedKey }),
        'hanging.yaml': providerYaml('hanging', 'generic', { secretName: 'hanging', timeout: '1s' }),
        'hanging-secret.yaml': secret('hanging', { address: `http://${hangUser}:${hangPass}@127.0.0.1:${hanging.port}/hook` }),
        'healthy.yaml': providerYaml('healthy', 'generic-hmac', { address: `${healthy.url}/hook`, secretName: 'healthy' }),
        'healthy-secret.yaml': secret('healthy', { token: healthyKey, headers: `Authorization: Bearer ${healthyHeader}\n` }),
        'alerts.yaml': ['refused', 'flaky', 'limited', 'hanging', 'healthy']
          .map((p) => alertForKustomization({ name: `to-${p}`, provider: p, kustomization: `${p}-app` }))
          .join('---\n'),
      },
      adminToken,
      'faults',
    );
    const admin = adminClient(h, adminToken);

    const counts = { refused: 3, flaky: 5, limited: 5, hanging: 2, healthy: 10 };
    const messages = Object.fromEntries(
      Object.entries(counts).map(([p, n]) => [p, Array.from({ length: n }, (_, i) => `${p} event ${i}`)]),
    ) as Record<keyof typeof counts, string[]>;
    const started = Date.now();
    for (const [p, list] of Object.entries(messages)) {
      const statuses = await postAll(h, `${p}-app`, list);
      expect(statuses.every((s) => s === 202), `${p}: ${statuses.join(',')}`).toBe(true);
    }

    // Everything to the recovering providers is delivered.
    await until(() => healthyOk.delivered.size === counts.healthy, { timeoutMs: 10_000, what: 'healthy deliveries' });
    const healthyDoneMs = Date.now() - started;
    await until(() => flakyOk.delivered.size === counts.flaky, { timeoutMs: 20_000, what: 'flaky deliveries' });
    await until(() => limitedOk.delivered.size === counts.limited, { timeoutMs: 20_000, what: 'rate-limited deliveries' });

    // The refused and hanging ones end as dead letters, visible with a masked last error.
    const dead = await until(
      async () => {
        const list = (await admin('/deliveries?state=failed&limit=500')).body.deliveries as Delivery[];
        return list.length >= counts.refused + counts.hanging ? list : undefined;
      },
      { timeoutMs: 30_000, what: 'dead letters' },
    );
    const deadOf = (p: string) => dead.filter((d) => d.data.provider === `flux-system/${p}`);
    expect(dead).toHaveLength(counts.refused + counts.hanging);
    expect(deadOf('refused').map((d) => d.data.event.message).sort()).toEqual(messages.refused);
    expect(deadOf('hanging').map((d) => d.data.event.message).sort()).toEqual(messages.hanging);
    for (const d of dead) expect(d.attemptsMade).toBe(6);
    for (const d of deadOf('refused')) expect(d.lastError).toMatch(/ECONNREFUSED/);
    for (const d of deadOf('hanging')) expect(d.lastError).toMatch(/timed out after 1000ms/);
    const byProvider = (await admin('/deliveries?state=failed&provider=flux-system/hanging')).body.deliveries as Delivery[];
    expect(byProvider).toHaveLength(counts.hanging);
    // A hanging provider was asked once per attempt: 6 × 2.
    expect(hanging.requests).toHaveLength(6 * counts.hanging);

    // No request to the rate-limited provider before its Retry-After elapsed.
    const gaps: number[] = [];
    for (const m of messages.limited) {
      const times = limited.requests.filter((r) => messageOf(r) === m).map((r) => r.receivedAt);
      expect(times.length).toBeGreaterThanOrEqual(2);
      gaps.push((times[1] as number) - (times[0] as number));
    }
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(2000);

    // Every generic-hmac request verifies with the receiving side's check.
    const signed: Array<[Sink, string]> = [
      [flaky, flakyKey],
      [limited, limitedKey],
      [healthy, healthyKey],
    ];
    for (const [s, key] of signed) for (const req of s.requests) expect(hmacVerifies(req, key)).toBe(true);
    for (const req of flaky.requests) expect(req.headers['x-api-key']).toBe(flakyHeader);
    for (const req of healthy.requests) expect(req.headers.authorization).toBe(`Bearer ${healthyHeader}`);
    // The hanging provider's credentials travelled in the URL, not in the path the sink saw.
    expect(hanging.requests.every((r) => r.url === '/hook')).toBe(true);

    const metrics = await h.metrics();
    const duplicates = [flakyOk, limitedOk, healthyOk].reduce((n, t) => n + [...t.delivered.values()].filter((c) => c > 1).length, 0);
    console.log(
      `[provider-faults] faults: sent=${Object.values(counts).reduce((a, b) => a + b, 0)} accepted=all ` +
        `delivered healthy=${healthyOk.delivered.size}/${counts.healthy} (done in ${healthyDoneMs}ms) flaky=${flakyOk.delivered.size}/${counts.flaky} ` +
        `(requests ${flaky.requests.length}) 429=${limitedOk.delivered.size}/${counts.limited} (Retry-After gaps min ${Math.min(...gaps)}ms max ${Math.max(...gaps)}ms) ` +
        `dead refused=${deadOf('refused').length}/${counts.refused} hanging=${deadOf('hanging').length}/${counts.hanging} duplicates=${duplicates} ` +
        `dead_letters_total=${metricValue(metrics, 'herald_dead_letters_total')} total=${Date.now() - started}ms`,
    );
    expect(duplicates).toBe(0);
    expect(metricValue(metrics, 'herald_dead_letters_total')).toBe(counts.refused + counts.hanging);
  }, 60_000);

  it('keeps a healthy provider fast while another is black-holed with a backlog', async () => {
    const [healthy, blackhole] = [await sink(), await sink()];
    const adminToken = planted.plant('admintoken2');
    const healthyKey = planted.plant('latencyhmac');
    const holeToken = planted.plant('holetoken');

    const receipt = new Map<string, number>();
    healthy.respondWith((req) => (receipt.set(messageOf(req), req.receivedAt), { status: 200 }));
    let holeOpen = false;
    const holeOk = deliveredTracker();
    blackhole.respondWith((req) => {
      if (!holeOpen) return undefined;
      holeOk.mark(req);
      return { status: 200 };
    });

    const h = await herald(
      {
        'healthy.yaml': providerYaml('healthy', 'generic-hmac', { address: `${healthy.url}/hook`, secretName: 'healthy' }),
        'healthy-secret.yaml': secret('healthy', { token: healthyKey }),
        'hole.yaml': providerYaml('blackhole', 'generic', { address: `${blackhole.url}/hook`, secretName: 'hole', timeout: '3s' }),
        'hole-secret.yaml': secret('hole', { token: holeToken, headers: `X-Token: ${holeToken}\n` }),
        'alerts.yaml': [
          alertForKustomization({ name: 'to-healthy', provider: 'healthy', kustomization: 'healthy-app' }),
          alertForKustomization({ name: 'to-blackhole', provider: 'blackhole', kustomization: 'hole-app' }),
        ].join('---\n'),
      },
      adminToken,
      'latency',
    );
    const admin = adminClient(h, adminToken);

    /** Posts `n` healthy events ~`gapMs` apart; returns each one's POST→receipt latency. */
    async function measure(tag: string, n: number, gapMs: number): Promise<number[]> {
      const sentAt = new Map<string, number>();
      const posts: Array<Promise<Response>> = [];
      for (let i = 0; i < n; i++) {
        const message = `healthy ${tag} ${i}`;
        sentAt.set(message, Date.now());
        posts.push(h.postEvent(kustomizationEvent({ message, involvedObject: { ...kustomizationEvent().involvedObject, name: 'healthy-app' } })));
        await sleep(gapMs);
      }
      const statuses = await Promise.all(posts.map(async (p) => (await p).status));
      expect(statuses.every((s) => s === 202)).toBe(true);
      await until(() => [...sentAt.keys()].every((m) => receipt.has(m)), { timeoutMs: 15_000, what: `healthy deliveries (${tag})` });
      return [...sentAt].map(([m, t]) => (receipt.get(m) as number) - t);
    }

    const baseline = await measure('baseline', 100, 10);

    const holeMessages = Array.from({ length: 200 }, (_, i) => `blackhole event ${i}`);
    const holeStatuses = await postAll(h, 'hole-app', holeMessages, 20);
    expect(holeStatuses.every((s) => s === 202)).toBe(true);
    // The black hole holds its slots (8 per process) with requests that never get an answer.
    await until(() => blackhole.requests.length >= 8, { timeoutMs: 5_000, what: 'black hole saturated' });
    const during = await measure('blackholed', 100, 10);
    const holeRequestsDuring = blackhole.requests.length;

    const line = (name: string, v: number[]) => `${name} p50=${percentile(v, 0.5)}ms p99=${percentile(v, 0.99)}ms max=${Math.max(...v)}ms`;
    console.log(
      `[provider-faults] latency: healthy POST→receipt n=100 each; ${line('baseline', baseline)}; ` +
        `${line('with 200-event black-holed backlog', during)}; black-hole requests so far=${holeRequestsDuring}`,
    );
    expect(percentile(during, 0.99)).toBeLessThan(3_000);
    // Before the slow-provider short cut in ProviderSlots the median was ~220 ms (every black-hole
    // job held a worker slot for the full 250 ms slot wait); now it is the baseline's few ms.
    // Relative to the baseline measured on the same (shared) machine, not an absolute figure.
    expect(percentile(during, 0.5)).toBeLessThan(Math.max(100, 10 * percentile(baseline, 0.5)));

    // The black hole comes back: its whole backlog is delivered (replaying whatever died).
    holeOpen = true;
    const recoveredAt = Date.now();
    const deadline = Date.now() + 30_000;
    let replayed = 0;
    while (holeOk.delivered.size < holeMessages.length) {
      if (Date.now() > deadline) throw new Error(`black hole backlog: ${holeOk.delivered.size}/${holeMessages.length} delivered`);
      const dead = (await admin('/deliveries?state=failed&provider=flux-system/blackhole&limit=500')).body.deliveries as Delivery[];
      if (dead.length > 0) {
        for (const d of dead) expect(d.lastError).toMatch(/timed out after 3000ms/);
        replayed += Number((await admin('/dead-letters/replay?provider=flux-system/blackhole', { method: 'POST' })).body.replayed);
      }
      await sleep(250);
    }
    for (const req of healthy.requests) expect(hmacVerifies(req, healthyKey)).toBe(true);
    console.log(
      `[provider-faults] black hole recovery: ${holeOk.delivered.size}/${holeMessages.length} delivered ${Date.now() - recoveredAt}ms after it answered again; ` +
        `dead letters replayed=${replayed}; total requests to it=${blackhole.requests.length}`,
    );
  }, 60_000);
});
