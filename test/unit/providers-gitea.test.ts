import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { gitea } from '../../providers/gitea.js';
import { createHttpClient, DeliveryError } from '../../providers/http.js';
import type { ProviderConfig } from '../../providers/types.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';
import { startSink, type Sink, type SinkReply } from '../support/sink.js';

const SHA = '6f1d5e3c8a2b4f7e9d0c1b2a3f4e5d6c7b8a9f0e';
const TOKEN = 'gitea-s3cretT0kenValue';
const CONTEXT = 'kustomization/apps/0c9c2e41';

/** An error event with markdown, quotes, newlines and non-ASCII text, metadata prefix-stripped. */
function trickyEvent(overrides: Partial<FluxEvent> = {}): FluxEvent {
  return kustomizationEvent({
    severity: 'error',
    reason: 'HealthCheckFailed',
    message: '**Health check failed** for `apps`:\n> Deployment "web" — état <dégradé> & 日本語 ✅',
    metadata: { originRevision: `sha1:${SHA}`, summary: 'Cluster "prod-eu" — Zürich\nsecond line' },
    ...overrides,
  });
}

let sink: Sink;
const clients: Array<{ close(): Promise<void> }> = [];

beforeEach(async () => {
  sink = await startSink();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await sink.close();
});

function config(overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  return testProviderConfig({ type: 'gitea', address: `${sink.url}/org/repo.git`, token: TOKEN, ...overrides });
}

async function send(event: FluxEvent, cfg = config()): Promise<void> {
  const http = createHttpClient(cfg);
  clients.push(http);
  await gitea.send(event, { config: cfg, http });
}

function respond(statuses: unknown[], post: SinkReply = { status: 201, body: '{}' }): void {
  sink.respondWith((req) => (req.method === 'GET' ? { status: 200, body: JSON.stringify(statuses) } : post));
}

describe('gitea adapter', () => {
  it('lists the statuses, then posts the commit status (golden)', async () => {
    respond([]);
    await send(trickyEvent());

    const [list, post] = sink.requests;
    expect(list!.method).toBe('GET');
    expect(list!.url).toBe(`/api/v1/repos/org/repo/commits/${SHA}/statuses?limit=50&page=1`);
    expect(list!.headers['authorization']).toBe(`token ${TOKEN}`);
    expect(post!.method).toBe('POST');
    expect(post!.url).toBe(`/api/v1/repos/org/repo/statuses/${SHA}`);
    expect(post!.headers['authorization']).toBe(`token ${TOKEN}`);
    expect(post!.headers['content-type']).toBe('application/json');
    expect(post!.body).toBe(JSON.stringify({ state: 'failure', target_url: '', description: 'health check failed', context: CONTEXT }));
  });

  it('posts Progressing events as pending, and info as success', async () => {
    respond([]);
    await send(trickyEvent({ severity: 'info', reason: 'Progressing' }));
    expect(JSON.parse(sink.requests[1]!.body)).toMatchObject({ state: 'pending', description: 'progressing' });
    await send(trickyEvent({ severity: 'info', reason: 'ReconciliationSucceeded' }));
    expect(JSON.parse(sink.requests[3]!.body)).toMatchObject({ state: 'success', description: 'reconciliation succeeded' });
  });

  it('does not post a status identical to the newest one with the same context', async () => {
    respond([{ context: CONTEXT, state: 'failure', description: 'health check failed' }]);
    await send(trickyEvent());
    expect(sink.requests.map((r) => r.method)).toEqual(['GET']);
  });

  it('fails without retry on a bad revision; classifies HTTP failures', async () => {
    const bad = (await send(trickyEvent({ metadata: { revision: 'main@sha1:xyz' } })).catch((e: unknown) => e)) as DeliveryError;
    expect(bad).toBeInstanceOf(DeliveryError);
    expect(bad.retryable).toBe(false);
    expect(sink.requests).toHaveLength(0);

    respond([], { status: 502, body: '' });
    expect(((await send(trickyEvent()).catch((e: unknown) => e)) as DeliveryError).retryable).toBe(true);
    respond([], { status: 404, body: '{"message":"not found"}' });
    expect(((await send(trickyEvent()).catch((e: unknown) => e)) as DeliveryError).retryable).toBe(false);
  });

  it('validate names the bad field', () => {
    expect(gitea.validate!(config())).toBeUndefined();
    expect(gitea.validate!(config({ token: undefined }))).toMatch(/token/);
    expect(gitea.validate!(config({ token: undefined, password: 'pw-fallback' }))).toBeUndefined();
    expect(gitea.validate!(config({ address: `${sink.url}/org/sub/repo` }))).toMatch(/spec\.address/);
    expect(gitea.validate!(config({ spec: { type: 'gitea', commitStatusExpr: 'x' } }))).toMatch(/commitStatusExpr/);
    expect(gitea.commitStatus).toBe(true);
  });
});
