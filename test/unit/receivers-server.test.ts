import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_RECEIVER_LIMITS } from '../../src/receivers/index.js';
import { PathRateLimiter } from '../../src/receivers/rate-limit.js';
import { RECEIVER_LISTENER_LIMITS } from '../../src/server/receivers.js';
import { TOKEN, gitRepository, receiverHarness, receiverManifest, type Harness } from '../support/receivers.js';

const harnesses: Harness[] = [];
afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.app.close()));
});
function harness(...args: Parameters<typeof receiverHarness>): Harness {
  const h = receiverHarness(...args);
  harnesses.push(h);
  return h;
}

const metric = async (h: Harness, outcome: string) =>
  (await h.registry.getSingleMetric('herald_receiver_requests_total')?.get())?.values.find((v) => v.labels.outcome === outcome)?.value ?? 0;

describe('receiver server answers', () => {
  it('404 with an empty body for an unknown path, a known path with a query, and any other path', async () => {
    const h = harness({ manifest: receiverManifest('generic') });
    for (const url of ['/hook/0000', `${h.path}?x=1`, '/', '/metrics']) {
      const res = await h.send({ url });
      expect(res.statusCode, url).toBe(404);
      expect(res.body).toBe('');
    }
    expect(await metric(h, 'not_found')).toBe(4);
  });

  it('503 for a suspended Receiver, and for one that is not Ready', async () => {
    const suspended = harness({ manifest: receiverManifest('generic', { suspend: true }) });
    expect((await suspended.send({})).statusCode).toBe(503);
    const notReady = harness({ manifest: receiverManifest('generic', { resourceFilter: 'res ==' }) });
    const res = await notReady.send({});
    expect(res.statusCode).toBe(503);
    expect(res.body).toBe('');
    expect(suspended.reconciled).toEqual([]);
    expect(notReady.reconciled).toEqual([]);
  });

  it('413 over the body bound, before verification', async () => {
    const h = harness({ manifest: receiverManifest('generic'), limits: { bodyBytes: 1024 } });
    expect((await h.send({ payload: 'x'.repeat(1025), headers: { 'content-type': 'application/json' } })).statusCode).toBe(413);
    expect((await h.send({ payload: 'x'.repeat(1024), headers: { 'content-type': 'application/json' } })).statusCode).toBe(200);
    expect(await metric(h, 'too_large')).toBe(1);
  });

  it("the body bound is Flux's 3 MiB by default", () => {
    expect(DEFAULT_RECEIVER_LIMITS.bodyBytes).toBe(3 * 1024 * 1024);
  });

  it('429 with Retry-After once a path spends its burst, and 200 again after the refill', async () => {
    let now = 1_000_000;
    const h = harness({ manifest: receiverManifest('generic'), limits: { burstPerPath: 3, perSecondPerPath: 0.5 }, now: () => now });
    for (let i = 0; i < 3; i++) expect((await h.send({})).statusCode).toBe(200);
    const limited = await h.send({});
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('2');
    expect(limited.body).toBe('');
    now += 2_000;
    expect((await h.send({})).statusCode).toBe(200);
    expect(h.reconciled).toHaveLength(4);
  });

  it('500 when a named object does not exist, and still reconciles the other resources', async () => {
    const h = harness({
      manifest: receiverManifest('generic', {
        resources: [
          { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: 'gone' },
          { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: 'webapp' },
        ],
      }),
    });
    expect((await h.send({})).statusCode).toBe(500);
    expect(h.reconciled).toEqual(['GitRepository/apps/webapp']);
  });

  it("500 for a kind without Flux's default apiVersion, and for * without matchLabels", async () => {
    for (const resource of [{ kind: 'Kustomization', name: 'apps' }, { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: '*' }]) {
      const h = harness({ manifest: receiverManifest('generic', { resources: [resource] }) });
      expect((await h.send({})).statusCode, JSON.stringify(resource)).toBe(500);
      expect(h.reconciled).toEqual([]);
    }
  });

  it('200 when * with matchLabels matches nothing (Flux logs it and carries on)', async () => {
    const h = harness({
      manifest: receiverManifest('generic', { resources: [{ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: '*', matchLabels: { team: 'none' } }] }),
    });
    expect((await h.send({})).statusCode).toBe(200);
    expect(h.reconciled).toEqual([]);
  });

  it('500 when the reconcile request fails', async () => {
    const h = harness({ manifest: receiverManifest('generic'), failReconcile: true });
    expect((await h.send({})).statusCode).toBe(500);
    expect(await metric(h, 'failed')).toBe(1);
  });
});

describe('resources across namespaces', () => {
  const manifest = receiverManifest('generic', {
    resources: [
      { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: 'shared', namespace: 'flux-system' },
      { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: '*', namespace: 'apps', matchLabels: { team: 'web' } },
    ],
  });
  const objects = [gitRepository('shared', 'flux-system'), gitRepository('webapp', 'apps', { team: 'web' }), gitRepository('webapp', 'other', { team: 'web' })];

  it('names objects in other namespaces by default', async () => {
    const h = harness({ manifest, objects });
    expect((await h.send({})).statusCode).toBe(200);
    expect(h.reconciled).toEqual(['GitRepository/flux-system/shared', 'GitRepository/apps/webapp']);
  });

  it('refuses them under --no-cross-namespace-refs (500, as Flux), still reconciling its own namespace', async () => {
    const h = harness({ manifest, objects, noCrossNamespaceRefs: true });
    expect((await h.send({})).statusCode).toBe(500);
    expect(h.reconciled).toEqual(['GitRepository/apps/webapp']);
  });
});

describe('the listener base', () => {
  it('refuses a body beyond the memory budget for bodies in flight with 503 and Retry-After, before it is read', async () => {
    const listener = { ...RECEIVER_LISTENER_LIMITS, maxBodyBytesInFlight: 1024 };
    const h = harness({ manifest: receiverManifest('generic'), listener });
    const res = await h.send({ payload: 'x'.repeat(2048), headers: { 'content-type': 'application/json' } });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(h.reconciled).toEqual([]);
    expect((await h.send({ payload: 'x'.repeat(512), headers: { 'content-type': 'application/json' } })).statusCode).toBe(200);
  });

  it('budgets bodies by default (the receiver shares the process with the events listener)', () => {
    expect(RECEIVER_LISTENER_LIMITS.maxBodyBytesInFlight).toBeGreaterThanOrEqual(DEFAULT_RECEIVER_LIMITS.bodyBytes);
  });

  it('observes each request in the request-duration histogram under the route pattern, never the path', async () => {
    const h = harness({ manifest: receiverManifest('generic') });
    expect((await h.send({})).statusCode).toBe(200);
    expect((await h.send({ url: '/hook/unknown' })).statusCode).toBe(404);
    const values = (await h.metrics.httpDuration.get()).values.filter((v) => v.metricName === 'herald_http_request_duration_seconds_count');
    expect(values.map((v) => [v.labels.server, v.labels.route, v.labels.code, v.value]).sort()).toEqual([
      ['receiver', '/hook/*', '200', 1],
      ['receiver', '/hook/*', '404', 1],
    ]);
    expect(JSON.stringify(values)).not.toContain(h.path.slice('/hook/'.length));
  });
});

describe('the per-path rate limiter', () => {
  it('tracks at most maxPaths paths, dropping the least recently used', () => {
    const limiter = new PathRateLimiter({ burst: 1, perSecond: 0.001, maxPaths: 2 }, () => 0);
    expect(limiter.take('/hook/a').allowed).toBe(true);
    expect(limiter.take('/hook/b').allowed).toBe(true);
    expect(limiter.take('/hook/a').allowed).toBe(false);
    expect(limiter.take('/hook/c').allowed).toBe(true);
    expect(limiter.trackedPaths).toBe(2);
    // b was the least recently used, so it starts again with a full bucket; a is still spent.
    expect(limiter.take('/hook/b').allowed).toBe(true);
    expect(limiter.take('/hook/c').allowed).toBe(false);
  });
});

describe('secrets stay out of answers and logs', () => {
  it('for every type, accepted or refused: no token, no webhook path, no signature', async () => {
    const types = ['generic', 'generic-hmac', 'github', 'gitlab', 'bitbucket', 'harbor', 'dockerhub', 'quay', 'gcr', 'nexus', 'acr', 'cdevents'];
    const signature = 'sha256=' + 'ab'.repeat(32);
    for (const type of types) {
      const h = harness({ manifest: receiverManifest(type), secret: { token: TOKEN, email: 'sa@example.com', audience: 'aud-secret-value' } });
      const digest = h.path.slice('/hook/'.length);
      const answers = [
        await h.send({ payload: '{}', headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature, 'x-signature': signature, 'x-gitlab-token': `${TOKEN}0`, authorization: `Bearer ${TOKEN}0`, 'x-nexus-webhook-signature': signature } }),
        await h.send({ url: `/hook/${digest.slice(0, -1)}0`, payload: '{}' }),
      ];
      for (const res of answers) {
        expect(res.body, type).toBe('');
        expect(JSON.stringify(res.headers)).not.toContain(TOKEN);
      }
      const logs = h.logs.join('\n');
      for (const secret of [TOKEN, digest, signature.slice(7), 'aud-secret-value']) expect(logs, `${type}: ${secret}`).not.toContain(secret);
    }
  });
});

describe('over a loopback socket', () => {
  function post(port: number, path: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const all = Object.fromEntries(Object.entries({ 'content-type': 'application/json', ...headers }).filter(([, v]) => v !== ''));
      const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: all }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
      req.end(body);
    });
  }

  it('accepts a request, refuses oversized headers with 431 and an oversized body with 413', async () => {
    const h = harness({ manifest: receiverManifest('generic'), limits: { bodyBytes: 64 * 1024 } });
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = h.app.server.address() as AddressInfo;
    expect(await post(port, h.path, '{}')).toEqual({ status: 200, body: '' });
    expect(h.reconciled).toEqual(['GitRepository/apps/webapp']);
    // No Content-Type at all (curl -d without -H): the body is still taken as bytes.
    expect((await post(port, h.path, 'x=1', { 'content-type': '' })).status).toBe(200);
    expect((await post(port, h.path, '{}', { 'x-padding': 'p'.repeat(RECEIVER_LISTENER_LIMITS.maxHeaderBytes ?? 0) })).status).toBe(431);
    expect((await post(port, h.path, 'x'.repeat(64 * 1024 + 1)).catch(() => ({ status: 413 }))).status).toBe(413);
    expect((await post(port, '/hook/unknown', '{}')).status).toBe(404);
  });
});
