/**
 * Deliveries end to end: Herald as a process, a local sink as the provider, in both queue modes.
 */
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { kustomizationEvent } from '../support/events.js';
import { freePort, heraldMain, metricValue, startHerald, type HeraldProcess, type StartOptions } from '../support/herald.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { startSink, type Sink } from '../support/sink.js';
import { kustomizationAlert, secret, webhookProvider } from './manifests.js';
import { until } from '../support/wait.js';

const running: Array<{ stop(): Promise<unknown> }> = [];
const prefixes: string[] = [];

afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.stop();
  for (const p of prefixes.splice(0)) await deletePrefix(p);
});

async function sink(): Promise<Sink> {
  const s = await startSink();
  running.push({ stop: () => s.close() });
  return s;
}

async function herald(opts: StartOptions): Promise<HeraldProcess> {
  const h = await startHerald({ ...opts, extraArgs: ['--retry-base-delay', '100ms', '--retry-max-delay', '400ms', ...(opts.extraArgs ?? [])] });
  running.push({ stop: async () => (await h.stop(), await h.cleanup()) });
  return h;
}

const modes: Array<[string, () => Partial<StartOptions>]> = [
  ['in-process queue', () => ({})],
  [
    'Redis queue',
    () => {
      const prefix = uniquePrefix('e2e');
      prefixes.push(prefix);
      return { redisUrl: REDIS_URL, extraArgs: ['--redis-prefix', prefix] };
    },
  ],
];

describe.each(modes)('delivery with the %s', (_mode, modeOptions) => {
  it('keeps the order per object: a later notification waits behind an earlier one answered 500 until it is delivered', async () => {
    let answered500 = false;
    const s = await startSink((req) => {
      if (!answered500 && req.body.includes('trigger')) {
        answered500 = true;
        return { status: 500, headers: { 'retry-after': '1' }, body: 'try again' };
      }
      return { status: 200 };
    });
    running.push({ stop: () => s.close() });
    const h = await herald({
      ...modeOptions(),
      manifests: { 'p.yaml': webhookProvider({ address: `${s.url}/hook` }), 'a.yaml': kustomizationAlert() },
    });
    expect((await h.postEvent(kustomizationEvent({ message: 'trigger' }))).status).toBe(202);
    await s.waitFor(1);
    // Sent while the first waits a second for its retry: without the order rule it arrives first.
    expect((await h.postEvent(kustomizationEvent({ message: 'resolve' }))).status).toBe(202);
    const requests = await s.waitFor(3);
    const messages = requests.map((r) => (JSON.parse(r.body) as { message: string }).message);
    expect(messages).toEqual(['trigger', 'trigger', 'resolve']);
  });

  it('sends the notification with the Alert metadata merged and the controller prefix stripped', async () => {
    const s = await sink();
    const mode = modeOptions();
    const h = await herald({
      ...mode,
      manifests: {
        'p.yaml': webhookProvider({ address: `${s.url}/hook` }),
        'a.yaml': kustomizationAlert({ extra: '  eventMetadata:\n    cluster: prod-eu\n' }),
      },
    });
    const event = kustomizationEvent({
      message: 'Applied revision: ünïcode "quoted"\n**markdown**',
      metadata: {
        'kustomize.toolkit.fluxcd.io/revision': 'main@sha1:6f1d5e3c8a2b4f7e9d0c1b2a3f4e5d6c7b8a9f0e',
        'kustomize.toolkit.fluxcd.io/checksum': 'dropped',
        'event.toolkit.fluxcd.io/env': 'staging',
      },
    });
    expect((await h.postEvent(event)).status).toBe(202);
    const [req] = await s.waitFor(1);
    expect(req?.url).toBe('/hook');
    expect(req?.headers['gotk-component']).toBe('kustomize-controller');
    const body = JSON.parse(req?.body ?? '{}');
    expect(body.message).toBe(event.message);
    expect(body.metadata).toEqual({ revision: 'main@sha1:6f1d5e3c8a2b4f7e9d0c1b2a3f4e5d6c7b8a9f0e', cluster: 'prod-eu', env: 'staging' });
    await until(async () => metricValue(await h.metrics(), 'herald_deliveries_total', { outcome: 'success' }) === 1, { timeoutMs: 15_000, intervalMs: 50 });
  });

  it('delivers after the provider recovers from failures', async () => {
    const s = await sink();
    s.respondWith((_req, i) => (i < 2 ? { status: 503 } : { status: 200 }));
    const h = await herald({ ...modeOptions(), manifests: { 'p.yaml': webhookProvider({ address: s.url }), 'a.yaml': kustomizationAlert() } });
    expect((await h.postEvent(kustomizationEvent({ message: 'flaky' }))).status).toBe(202);
    await s.waitFor(3);
    await until(async () => {
      const text = await h.metrics();
      return metricValue(text, 'herald_deliveries_total', { outcome: 'success' }) === 1 && metricValue(text, 'herald_deliveries_total', { outcome: 'retry' }) === 2;
    }, { timeoutMs: 15_000, intervalMs: 50 });
    const text = await h.metrics();
    expect(metricValue(text, 'herald_jobs_enqueued_total', { provider_type: 'generic' })).toBe(1);
    expect(metricValue(text, 'herald_delivery_duration_seconds_count', { outcome: 'retry' })).toBe(2);
    expect(metricValue(text, 'herald_delivery_duration_seconds_count', { outcome: 'success' })).toBe(1);
    // One delivery that took three attempts, counted once with its attempts as the observed value.
    expect(metricValue(text, 'herald_delivery_attempts_count', { outcome: 'success' })).toBe(1);
    expect(metricValue(text, 'herald_delivery_attempts_sum', { outcome: 'success' })).toBe(3);
    expect(metricValue(text, 'herald_delivery_latency_seconds_count')).toBe(1);
  });

  it('keeps a notification the provider rejects (4xx) as a dead letter without retrying', async () => {
    const s = await sink();
    s.respondWith(() => ({ status: 400, body: 'bad payload' }));
    const h = await herald({ ...modeOptions(), manifests: { 'p.yaml': webhookProvider({ address: s.url }), 'a.yaml': kustomizationAlert() } });
    expect((await h.postEvent(kustomizationEvent({ message: 'rejected' }))).status).toBe(202);
    await until(async () => metricValue(await h.metrics(), 'herald_dead_letters_total') === 1, { timeoutMs: 15_000, intervalMs: 50 });
    await until(async () => metricValue(await h.metrics(), 'herald_queue_jobs', { state: 'failed' }) === 1, { timeoutMs: 15_000, intervalMs: 50 });
    expect(s.requests).toHaveLength(1);
  });
});

describe('generic-hmac and secrets', () => {
  it('signs the body with the Secret token and never logs secret values', async () => {
    const s = await sink();
    const token = 'hmac-key-e2e-7d1f0a';
    const headerSecret = 'header-secret-value-91b2';
    s.respondWith((_req, i) => (i === 0 ? { status: 500, body: `echo ${token}` } : { status: 200 }));
    const h = await herald({
      manifests: {
        'p.yaml': webhookProvider({ address: s.url, type: 'generic-hmac', secretName: 'hmac' }),
        's.yaml': secret('hmac', { token, headers: `X-Api-Key: ${headerSecret}\n` }),
        'a.yaml': kustomizationAlert(),
      },
      extraArgs: ['--log-level', 'debug'],
    });
    expect((await h.postEvent(kustomizationEvent({ message: 'signed' }))).status).toBe(202);
    const requests = await s.waitFor(2);
    for (const req of requests) {
      expect(req.headers['x-signature']).toBe(`sha256=${createHmac('sha256', token).update(req.body).digest('hex')}`);
      expect(req.headers['x-api-key']).toBe(headerSecret);
    }
    await until(async () => metricValue(await h.metrics(), 'herald_deliveries_total', { outcome: 'success' }) === 1, { timeoutMs: 15_000, intervalMs: 50 });
    const status = await (await fetch(`${h.healthUrl}/resources`)).text();
    const everything = [...h.output, status, await h.metrics()].join('\n');
    expect(h.output.some((l) => l.includes('will retry'))).toBe(true);
    expect(everything).not.toContain(token);
    expect(everything).not.toContain(headerSecret);
  });
});

describe('resources', () => {
  it('reports invalid manifests over HTTP and keeps serving the valid ones', async () => {
    const s = await sink();
    const h = await herald({
      manifests: {
        'p.yaml': webhookProvider({ address: s.url }),
        'a.yaml': kustomizationAlert(),
        'bad.yaml': `${webhookProvider({ name: 'unknown-type', address: s.url, type: 'carrier-pigeon' })}---\n${kustomizationAlert({
          name: 'bad-regex',
          extra: "  inclusionList:\n    - '(unclosed'\n",
        })}---\n${kustomizationAlert({ name: 'to-unknown-type', provider: 'unknown-type' })}---\nthis: [is not yaml\n`,
      },
    });
    const status = (await (await fetch(`${h.healthUrl}/resources`)).json()) as unknown;
    const text = JSON.stringify(status);
    expect(text).toMatch(/carrier-pigeon/);
    expect(text).toMatch(/InvalidRegex|inclusionList/);
    expect(text).toMatch(/bad\.yaml/);
    expect((await h.postEvent(kustomizationEvent({ message: 'still works' }))).status).toBe(202);
    await s.waitFor(1);
    // The job for the unusable Provider is kept (and retried); its metric label stays bounded.
    const metrics = await h.metrics();
    expect(metricValue(metrics, 'herald_jobs_enqueued_total', { provider_type: 'unsupported' })).toBe(1);
    expect(metrics).not.toContain('carrier-pigeon');
  });

  it('picks up manifest changes without a restart', async () => {
    const s = await sink();
    const h = await herald({ manifests: { 'p.yaml': webhookProvider({ address: s.url }) } });
    expect((await h.postEvent(kustomizationEvent({ message: 'before the alert' }))).status).toBe(202);
    await h.writeManifest('a.yaml', kustomizationAlert({ extra: "  exclusionList:\n    - '^skip'\n" }));
    await until(async () => {
      const text = JSON.stringify(await (await fetch(`${h.healthUrl}/resources`)).json());
      return text.includes('all-kustomizations');
    }, { timeoutMs: 15_000, intervalMs: 50 });
    expect((await h.postEvent(kustomizationEvent({ message: 'skip me' }))).status).toBe(202);
    expect((await h.postEvent(kustomizationEvent({ message: 'after the alert' }))).status).toBe(202);
    const [req] = await s.waitFor(1);
    expect(JSON.parse(req?.body ?? '').message).toBe('after the alert');
    await h.removeManifest('a.yaml');
    await until(async () => !JSON.stringify(await (await fetch(`${h.healthUrl}/resources`)).json()).includes('all-kustomizations'), { timeoutMs: 15_000, intervalMs: 50 });
    expect((await h.postEvent(kustomizationEvent({ message: 'after removal' }))).status).toBe(202);
    await new Promise((r) => setTimeout(r, 500));
    expect(s.requests.map((r) => JSON.parse(r.body).message)).toEqual(['after the alert']);
  });
});

describe('Redis unavailable', () => {
  it('answers 503, never 202, and /readyz says why', async () => {
    const deadPort = await freePort();
    const h = await herald({
      redisUrl: `redis://127.0.0.1:${deadPort}`,
      manifests: { 'p.yaml': webhookProvider({ address: 'http://127.0.0.1:9/' }), 'a.yaml': kustomizationAlert() },
      waitFor: 'live',
    });
    const res = await h.postEvent(kustomizationEvent({ message: 'nowhere to store' }));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    const ready = await fetch(`${h.healthUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.stringify(await ready.json())).toMatch(/redis queue not reachable/);
    // Once refused, the same event is not taken for a duplicate on the sender's retry.
    expect((await h.postEvent(kustomizationEvent({ message: 'nowhere to store' }))).status).toBe(503);
  });
});

describe('lifecycle', () => {
  it.each([
    [['--config-dir', '/nonexistent-herald-dir'], /--config-dir: manifests directory \/nonexistent-herald-dir does not exist/],
    [['--config-dir', 'examples/manifests', '--rate-limit-interval', 'soon'], /--rate-limit-interval: "soon" is not a duration/],
  ])('exits 2 with a message naming the flag: %j', (args, message) => {
    const result = spawnSync(process.execPath, [heraldMain, ...args], { encoding: 'utf8', timeout: 10_000 });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 1 (a runtime failure, not a usage error) naming the flag when an address is taken', async () => {
    const s = await sink();
    const result = spawnSync(process.execPath, [heraldMain, '--config-dir', 'examples/manifests', '--events-addr', `127.0.0.1:${s.port}`], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`--events-addr 127.0.0.1:${s.port}: address already in use`);
  });

  it('exits 0 on SIGTERM', async () => {
    const h = await startHerald({ manifests: {} });
    expect(await h.stop('SIGTERM')).toBe(0);
    await h.cleanup();
    expect(h.output.some((l) => l.includes('herald stopped'))).toBe(true);
  });
});
