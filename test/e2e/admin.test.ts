/**
 * The admin API end to end, in both queue modes: dead letters are listed with their last
 * error, replayed (one, or all of a Provider) and purged.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { kustomizationEvent } from '../support/events.js';
import { metricValue, startHerald, type HeraldProcess, type StartOptions } from '../support/herald.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { startSink, type Sink } from '../support/sink.js';
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
  lastError?: string;
  data: { provider: string; alert: string; event: { message: string } };
}

async function setup(mode: Partial<StartOptions>, extra: Partial<StartOptions> = {}): Promise<{ sink: Sink; herald: HeraldProcess; token: string }> {
  const sink = await startSink(() => ({ status: 400, body: 'rejected' }));
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
    const res = await fetch(`${herald.adminUrl}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...json } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
}

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
  });
});
