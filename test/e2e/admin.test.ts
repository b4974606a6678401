/**
 * The admin API end to end, in both queue modes: dead letters are listed with their last
 * error, replayed (one, or all of a Provider) and purged; a delayed delivery is retried now;
 * deliveries are filtered by Alert and object; resources carry each Provider's last delivery;
 * statistics move; a test notification goes through the real provider path.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { kustomizationEvent } from '../support/events.js';
import { metricValue, startHerald, type HeraldProcess, type StartOptions } from '../support/herald.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { startSink, type Sink, type SinkResponder } from '../support/sink.js';
import { kustomizationAlert, secret, webhookProvider } from './manifests.js';
import { until } from '../support/wait.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Delivery {
  id: string;
  state: string;
  attemptsMade: number;
  maxAttempts: number;
  nextAttemptAt?: number;
  lastError?: string;
  data: { provider: string; alert: string; event: { message: string } };
}

async function setup(
  mode: Partial<StartOptions>,
  extra: Partial<StartOptions> = {},
  responder: SinkResponder = () => ({ status: 400, body: 'rejected' }),
): Promise<{ sink: Sink; herald: HeraldProcess; token: string }> {
  const sink = await startSink(responder);
  cleanups.push(() => sink.close());
  const token = 'admin-token-secret-1f2e';
  const herald = await startHerald({
    ...mode,
    ...extra,
    manifests: {
      'p.yaml': webhookProvider({ address: `${sink.url}/a`, type: 'generic-hmac', secretName: 'hmac' }),
      'p2.yaml': webhookProvider({ name: 'other', address: `${sink.url}/b` }),
      's.yaml': secret('hmac', { token: 'hmac-key-for-admin-test' }),
      'a.yaml': kustomizationAlert(),
      'a2.yaml': kustomizationAlert({ name: 'to-other', provider: 'other' }),
    },
    extraArgs: [...(mode.extraArgs ?? []), '--max-attempts', '2', '--retry-base-delay', '50ms'],
    env: { HERALD_ADMIN_TOKEN: token },
  });
  cleanups.push(async () => (await herald.stop(), await herald.cleanup()));
  return { sink, herald, token };
}

function admin(herald: HeraldProcess, token: string) {
  return async (path: string, init: RequestInit = {}) => {
    // Requests that change something say they are JSON (a cross-site form cannot).
    const json: Record<string, string> = init.method && init.method !== 'GET' ? { 'content-type': 'application/json' } : {};
    const res = await fetch(`${herald.adminUrl}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...json, ...(init.headers as Record<string, string>) } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
}

/** The JSON log lines of the process whose message matches. */
function logLines(herald: HeraldProcess, msg: RegExp): Array<Record<string, unknown>> {
  return herald.output
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => msg.test(String(line.msg)));
}

interface Stats {
  queue: Record<'waiting' | 'active' | 'delayed' | 'completed' | 'failed', number>;
  rates: Record<'delivered' | 'retrying' | 'dead', number>;
  at: number;
}

interface ResourceEntry {
  kind: string;
  namespace: string;
  name: string;
  lastDelivery?: { at: number; outcome: string; alert: string; error?: string };
}

const HOUR_S = 3600;

const modes: Array<[string, () => Partial<StartOptions>]> = [
  ['in-process queue', () => ({})],
  [
    'Redis queue',
    () => {
      const prefix = uniquePrefix('admin');
      cleanups.push(() => deletePrefix(prefix));
      return { redisUrl: REDIS_URL, extraArgs: ['--redis-prefix', prefix] };
    },
  ],
];

describe.each(modes)('admin API with the %s', (_name, mode) => {
  it('lists dead letters by provider, replays one and all, purges', async () => {
    const { sink, herald, token } = await setup(mode());
    const call = admin(herald, token);
    for (const message of ['first', 'second']) {
      expect((await herald.postEvent(kustomizationEvent({ message }))).status).toBe(202);
    }
    // Two events × two Alerts = four deliveries, all rejected with a 400: four dead letters.
    const dead = await until(async () => {
      const { body } = await call('/deliveries?state=failed');
      const list = body.deliveries as Delivery[];
      return list.length === 4 ? list : undefined;
    }, { timeoutMs: 15_000, intervalMs: 50 });
    expect(dead.every((d) => d.attemptsMade === 1 && /provider answered 400: rejected/.test(d.lastError ?? ''))).toBe(true);

    const ofOther = (await call('/deliveries?state=failed&provider=flux-system/other')).body.deliveries as Delivery[];
    expect(ofOther.map((d) => d.data.provider)).toEqual(['flux-system/other', 'flux-system/other']);

    const one = await call(`/deliveries/${ofOther[0]?.id}`);
    expect(one.status).toBe(200);
    expect((one.body as unknown as Delivery).data.alert).toBe('flux-system/to-other');

    sink.respondWith(() => ({ status: 200 }));
    expect((await call(`/deliveries/${ofOther[0]?.id}/replay`, { method: 'POST' })).body).toEqual({ replayed: 1 });
    await until(async () => ((await call(`/deliveries/${ofOther[0]?.id}`)).body.state === 'completed' ? true : undefined), { timeoutMs: 15_000, intervalMs: 50 });
    expect((await call(`/deliveries/${ofOther[0]?.id}/replay`, { method: 'POST' })).status).toBe(409);

    expect((await call('/dead-letters/replay?provider=flux-system/sink', { method: 'POST' })).body).toEqual({ replayed: 2, skipped: 0 });
    await until(async () => (sink.requests.filter((r) => r.url === '/a').length === 4 ? true : undefined), { timeoutMs: 15_000, intervalMs: 50 });

    expect((await call('/dead-letters', { method: 'DELETE' })).body).toEqual({ purged: 1 });
    expect(((await call('/deliveries?state=failed')).body.deliveries as Delivery[]).length).toBe(0);

    const metrics = await herald.metrics();
    expect(metricValue(metrics, 'herald_replays_total')).toBe(3);
    expect(metricValue(metrics, 'herald_dead_letters_purged_total')).toBe(1);
    const everything = [...herald.output, metrics, JSON.stringify(dead)].join('\n');
    expect(everything).not.toContain(token);
    expect(everything).not.toContain('hmac-key-for-admin-test');
  });
});

describe.each(modes)('admin API operations with the %s', (_name, mode) => {
  it('retries a delayed delivery now (a 500 with a long Retry-After), filters by alert and object, and shows it in /resources and /stats', async () => {
    // /b (Provider "other") answers 500 once, asking for an hour; everything else is delivered.
    let refusedOnce = false;
    const { sink, herald, token } = await setup(mode(), {}, (req) => {
      if (req.url === '/b' && !refusedOnce) {
        refusedOnce = true;
        return { status: 500, headers: { 'retry-after': String(HOUR_S) }, body: 'overloaded' };
      }
      return { status: 200, body: '{}' };
    });
    const call = admin(herald, token);
    const before = Date.now();
    expect((await herald.postEvent(kustomizationEvent({ message: 'deploy' }))).status).toBe(202);
    const [delayed] = await until(async () => {
      const list = (await call('/deliveries?state=delayed&alert=flux-system/to-other')).body.deliveries as Delivery[];
      return list.length === 1 ? list : undefined;
    }, { timeoutMs: 15_000, intervalMs: 50, what: 'the delivery to "other" delayed for its retry' });
    if (!delayed) throw new Error('unreachable');
    expect(delayed).toMatchObject({ attemptsMade: 1, maxAttempts: 2, data: { provider: 'flux-system/other', alert: 'flux-system/to-other' } });
    expect(delayed.lastError).toMatch(/500/);
    // Due in about an hour, as the provider asked.
    expect(delayed.nextAttemptAt).toBeGreaterThan(before + (HOUR_S - 60) * 1000);
    expect(delayed.nextAttemptAt).toBeLessThan(Date.now() + (HOUR_S + 60) * 1000);

    // Filters: by Alert, by involved object, combined; bad values name the field.
    const ids = async (query: string) => ((await call(`/deliveries?${query}`)).body.deliveries as Delivery[]).map((d) => d.id);
    expect(await ids('state=delayed&object=Kustomization/flux-system/apps')).toEqual([delayed.id]);
    expect(await ids('state=delayed&object=Kustomization/flux-system/other')).toEqual([]);
    expect(await ids('state=delayed&alert=flux-system/all-kustomizations')).toEqual([]);
    await until(async () => ((await ids('state=completed&alert=flux-system/all-kustomizations')).length === 1 ? true : undefined), { what: 'the delivery to "sink" completed' });
    expect(await ids('state=completed&alert=flux-system/all-kustomizations&object=Kustomization/flux-system/apps&provider=flux-system/sink')).toHaveLength(1);
    const badAlert = await call('/deliveries?alert=no-namespace');
    expect(badAlert.status).toBe(400);
    expect(String(badAlert.body.message)).toMatch(/alert/);
    const badObject = await call('/deliveries?object=Kustomization');
    expect(badObject.status).toBe(400);
    expect(String(badObject.body.message)).toMatch(/object/);

    // The last delivery of each Provider, and the numbers moving.
    const resources = (await call('/resources')).body.resources as ResourceEntry[];
    const providerEntry = (name: string) => resources.find((r) => r.kind === 'Provider' && r.name === name);
    expect(providerEntry('other')?.lastDelivery).toMatchObject({ outcome: 'retrying', alert: 'flux-system/to-other' });
    expect(providerEntry('other')?.lastDelivery?.error).toMatch(/500/);
    expect(providerEntry('sink')?.lastDelivery).toMatchObject({ outcome: 'delivered', alert: 'flux-system/all-kustomizations' });
    expect(resources.find((r) => r.kind === 'Alert')?.lastDelivery).toBeUndefined();
    const stats = (await call('/stats')).body as unknown as Stats;
    expect(stats.queue).toMatchObject({ delayed: 1, completed: 1, waiting: 0, active: 0, failed: 0 });
    expect(stats.rates).toEqual({ delivered: round3(1 / 60), retrying: round3(1 / 60), dead: 0 });
    expect(Math.abs(stats.at - Date.now())).toBeLessThan(5_000);

    // Retry now: delivered at once, the failed attempt still counted; then nothing to retry.
    expect(await call(`/deliveries/${delayed.id}/retry-now`, { method: 'POST' })).toEqual({ status: 200, body: { id: delayed.id, state: 'waiting' } });
    await until(() => (sink.requests.filter((r) => r.url === '/b').length === 2 ? true : undefined), { what: 'the retried delivery at the sink' });
    const done = await until(async () => {
      const record = (await call(`/deliveries/${delayed.id}`)).body as unknown as Delivery;
      return record.state === 'completed' ? record : undefined;
    }, { what: 'completed after retry-now' });
    expect(done.attemptsMade).toBe(2);
    expect(done.nextAttemptAt).toBeUndefined();
    const again = await call(`/deliveries/${delayed.id}/retry-now`, { method: 'POST' });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: 'Conflict', message: expect.stringMatching(/completed/) });
    expect((await call('/deliveries/nope/retry-now', { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${herald.adminUrl}/deliveries/${delayed.id}/retry-now`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status).toBe(415);
    expect((await fetch(`${herald.adminUrl}/deliveries/${delayed.id}/retry-now`, { method: 'POST', headers: { 'content-type': 'application/json' } })).status).toBe(401);

    const after = (await call('/stats')).body as unknown as Stats;
    expect(after.queue).toMatchObject({ delayed: 0, completed: 2 });
    expect(after.rates.delivered).toBe(round3(2 / 60));
    await until(async () => {
      const list = (await call('/resources')).body.resources as ResourceEntry[];
      return list.find((r) => r.name === 'other' && r.kind === 'Provider')?.lastDelivery?.outcome === 'delivered' ? true : undefined;
    }, { what: 'the last delivery of "other" is now delivered' });

    // One structured line per outcome, at info level.
    const retrying = logLines(herald, /^delivery failed; will retry$/);
    expect(retrying).toHaveLength(1);
    expect(retrying[0]).toMatchObject({ outcome: 'retrying', provider: 'flux-system/other', alert: 'flux-system/to-other', attempt: 1 });
    expect(Date.parse(String(retrying[0]?.nextAttemptAt))).toBeGreaterThan(before + (HOUR_S - 60) * 1000);
    const delivered = logLines(herald, /^notification delivered$/);
    expect(delivered.map((l) => [l.provider, l.outcome, l.level])).toEqual(
      expect.arrayContaining([
        ['flux-system/sink', 'delivered', 'info'],
        ['flux-system/other', 'delivered', 'info'],
      ]),
    );
    expect(delivered).toHaveLength(2);
    expect(logLines(herald, /^delayed delivery made due now$/)).toHaveLength(1);
  });

  it('purges one dead letter (409 for any other state) and retries one now', async () => {
    let answerA = 400;
    const { sink, herald, token } = await setup(mode(), {}, (req) => (req.url === '/a' ? { status: answerA, body: 'rejected' } : { status: 200 }));
    const call = admin(herald, token);
    for (const message of ['one', 'two']) expect((await herald.postEvent(kustomizationEvent({ message }))).status).toBe(202);
    const dead = await until(async () => {
      const list = (await call('/deliveries?state=failed')).body.deliveries as Delivery[];
      return list.length === 2 ? list : undefined;
    }, { timeoutMs: 15_000, intervalMs: 50, what: 'two dead letters' });
    const completed = await until(async () => {
      const list = (await call('/deliveries?state=completed')).body.deliveries as Delivery[];
      return list.length === 2 ? list : undefined;
    }, { what: 'two delivered' });
    const [first, second] = dead as [Delivery, Delivery];

    const conflict = await call(`/deliveries/${completed[0]?.id}`, { method: 'DELETE' });
    expect(conflict).toMatchObject({ status: 409, body: { error: 'Conflict' } });
    expect((await fetch(`${herald.adminUrl}/deliveries/${first.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })).status).toBe(415);
    expect(await call(`/deliveries/${first.id}`, { method: 'DELETE' })).toEqual({ status: 200, body: { purged: 1 } });
    expect((await call(`/deliveries/${first.id}`, { method: 'DELETE' })).status).toBe(404);
    expect((await call(`/deliveries/${first.id}`)).status).toBe(404);

    // Retry now of a dead letter replays it.
    answerA = 200;
    expect(await call(`/deliveries/${second.id}/retry-now`, { method: 'POST' })).toEqual({ status: 200, body: { id: second.id, state: 'waiting' } });
    await until(async () => ((await call(`/deliveries/${second.id}`)).body.state === 'completed' ? true : undefined), { what: 'the dead letter delivered' });
    expect(sink.requests.filter((r) => r.url === '/a')).toHaveLength(3);

    const stats = (await call('/stats')).body as unknown as Stats;
    expect(stats.queue).toMatchObject({ failed: 0, completed: 3 });
    expect(stats.rates.dead).toBe(round3(2 / 60));
    const metrics = await herald.metrics();
    expect(metricValue(metrics, 'herald_dead_letters_purged_total')).toBe(1);
    expect(metricValue(metrics, 'herald_replays_total')).toBe(1);
    expect(logLines(herald, /^delivery failed for good/).map((l) => l.outcome)).toEqual(['dead', 'dead']);
  });

  it('sends a test notification through the real provider path: the answer masked and cut, a 500 as an error, one at a time', async () => {
    let release: (() => void) | undefined;
    const { sink, herald, token } = await setup(mode(), {}, async (req) => {
      if (req.url === '/b') return { status: 500, body: 'provider is down' };
      if (req.body.includes('hold me')) await new Promise<void>((resolve) => (release = resolve));
      // The answer quotes the provider's secret and runs long: what comes back is masked and cut.
      return { status: 200, body: `accepted; key hmac-key-for-admin-test; ${'x'.repeat(5_000)}` };
    });
    const call = admin(herald, token);
    const test = (provider: string, body: unknown = {}) => call(`/providers/${provider}/test`, { method: 'POST', body: JSON.stringify(body) });

    const ok = await test('flux-system/sink', { message: 'hello from the admin test' });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ ok: true, status: 200 });
    const answer = String(ok.body.answer);
    expect(answer).toMatch(/^accepted; key \*{5}; x+… \(cut\)$/);
    expect(Buffer.byteLength(answer)).toBeLessThanOrEqual(1024);
    expect(typeof ok.body.durationMs).toBe('number');
    const sent = JSON.parse(sink.requests.at(-1)?.body ?? '{}') as { message: string; involvedObject: { kind: string; name: string }; reason: string };
    expect(sent).toMatchObject({ message: 'hello from the admin test', involvedObject: { kind: 'Provider', name: 'sink' }, reason: 'TestNotification' });
    // generic-hmac signs with the Secret's key: the real adapter made this request.
    expect(sink.requests.at(-1)?.headers['x-signature']).toMatch(/^sha256=/);

    // An empty body is fine; a provider answering 500 is an error, not a failed request.
    const failed = await fetch(`${herald.adminUrl}/providers/flux-system/other/test`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
    expect(failed.status).toBe(200);
    const failedBody = (await failed.json()) as Record<string, unknown>;
    expect(failedBody).toMatchObject({ ok: false, error: expect.stringMatching(/500/) });
    expect(failedBody.status).toBeUndefined();

    expect((await test('flux-system/missing')).status).toBe(404);
    const bad = await test('flux-system/sink', { text: 'wrong field' });
    expect(bad.status).toBe(400);
    expect(String(bad.body.message)).toMatch(/text|additional/);
    expect((await test('flux-system/sink', { message: 42 })).status).toBe(400);

    // One at a time per Provider.
    const held = test('flux-system/sink', { message: 'hold me' });
    await until(() => release, { what: 'the held test at the sink' });
    expect((await test('flux-system/sink')).status).toBe(429);
    release?.();
    expect((await held).body).toMatchObject({ ok: true, status: 200 });

    // Tests are not deliveries: nothing queued, nothing counted.
    const stats = (await call('/stats')).body as unknown as Stats;
    expect(stats.queue.completed + stats.queue.failed + stats.queue.waiting).toBe(0);
    expect(stats.rates).toEqual({ delivered: 0, retrying: 0, dead: 0 });
    const everything = herald.output.join('\n') + JSON.stringify(ok.body) + JSON.stringify(failedBody);
    expect(everything).not.toContain('hmac-key-for-admin-test');
    // Log lines reach stdout within GATHER_MS.
    const testLines = await until(() => {
      const lines = logLines(herald, /^test notification (sent|failed)$/);
      return lines.length >= 3 ? lines : undefined;
    }, { what: 'three test notification log lines' });
    expect(testLines.map((l) => [l.provider, l.ok])).toEqual([
      ['flux-system/sink', true],
      ['flux-system/other', false],
      ['flux-system/sink', true],
    ]);
  });
});

describe('in-process queue at shutdown', () => {
  it('says how many deliveries were still pending, and that they are lost', async () => {
    const { herald } = await setup({}, {}, () => ({ status: 503, headers: { 'retry-after': String(HOUR_S) } }));
    expect((await herald.postEvent(kustomizationEvent({ message: 'pending' }))).status).toBe(202);
    await until(async () => ((await herald.metrics()).match(/herald_queue_jobs\{state="delayed"\} 2/) ? true : undefined), { what: 'two deliveries delayed' });
    expect(await herald.stop()).toBe(0);
    const [line] = logLines(herald, /^in-process queue stopped/);
    expect(line).toMatchObject({ level: 'warn', pending: 2, delayed: 2, deadLetters: 0 });
    expect(String(line?.msg)).toMatch(/2 deliveries pending .* lost/);
  });
});

describe('admin API access and input', () => {
  it('requires the bearer token when one is set, and names bad query fields', async () => {
    const { herald, token } = await setup({});
    expect((await fetch(`${herald.adminUrl}/deliveries`)).status).toBe(401);
    expect((await fetch(`${herald.adminUrl}/deliveries`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const call = admin(herald, token);
    expect((await call('/deliveries')).status).toBe(200);
    const bad = await call('/deliveries?state=lost');
    expect(bad.status).toBe(400);
    expect(String(bad.body.message)).toMatch(/state/);
    expect((await call('/deliveries?limit=100000')).status).toBe(400);
    expect((await call('/deliveries/nope')).status).toBe(404);
    expect((await call('/deliveries/nope/replay', { method: 'POST' })).status).toBe(404);
    expect((await call('/deliveries/nope', { method: 'DELETE' })).status).toBe(404);

    // Every new endpoint sits behind the same token.
    const json = { 'content-type': 'application/json' };
    for (const [method, path] of [
      ['GET', '/resources'],
      ['GET', '/stats'],
      ['POST', '/deliveries/nope/retry-now'],
      ['DELETE', '/deliveries/nope'],
      ['POST', '/providers/flux-system/sink/test'],
    ] as const) {
      const res = await fetch(`${herald.adminUrl}${path}`, { method, headers: { ...json, authorization: 'Bearer wrong' } });
      expect(res.status, `${method} ${path}`).toBe(401);
    }
    expect((await call('/stats')).status).toBe(200);
    expect((await call('/resources')).status).toBe(200);
  });
});

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
