import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { bitbucket, bitbucketAuthorization, bitbucketRepo } from '../../providers/bitbucket.js';
import { sha1Hex } from '../../providers/commit-status.js';
import { createHttpClient, DeliveryError } from '../../providers/http.js';
import type { ProviderConfig } from '../../providers/types.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';
import { startSink, type Sink, type SinkReply } from '../support/sink.js';

const SHA = '6f1d5e3c8a2b4f7e9d0c1b2a3f4e5d6c7b8a9f0e';
const KEY = sha1Hex('kustomization/apps/0c9c2e41');
const BASE = `/2.0/repositories/workspace/repo/commit/${SHA}/statuses/build`;

/** An error event with markdown, quotes, newlines and non-ASCII text, metadata prefix-stripped. */
function trickyEvent(overrides: Partial<FluxEvent> = {}): FluxEvent {
  return kustomizationEvent({
    severity: 'error',
    reason: 'HealthCheckFailed',
    message: '**Health check failed** for `apps`:\n> Deployment "web" — état <dégradé> & 日本語 ✅',
    metadata: { revision: `main/${SHA}`, summary: 'Cluster "prod-eu" — Zürich\nsecond line' },
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
  return testProviderConfig({ type: 'bitbucket', address: `${sink.url}/workspace/repo.git`, token: 'jane:app-p4ssw0rd-value', ...overrides });
}

async function send(event: FluxEvent, cfg = config()): Promise<void> {
  const http = createHttpClient(cfg);
  clients.push(http);
  await bitbucket.send(event, { config: cfg, http });
}

/** Answers the GET of the existing status with `existing`, and `post` to the POST. */
function respond(existing: SinkReply, post: SinkReply = { status: 201, body: '{}' }): void {
  sink.respondWith((req) => (req.method === 'GET' ? existing : post));
}

describe('bitbucket adapter', () => {
  it('looks up the status by key, then posts the build status (golden)', async () => {
    respond({ status: 404, body: '{"type":"error","error":{"message":"No such build status"}}' });
    await send(trickyEvent());

    const [get, post] = sink.requests;
    const basic = `Basic ${Buffer.from('jane:app-p4ssw0rd-value').toString('base64')}`;
    expect(get!.method).toBe('GET');
    expect(get!.url).toBe(`${BASE}/${KEY}`);
    expect(get!.headers['authorization']).toBe(basic);
    expect(post!.method).toBe('POST');
    expect(post!.url).toBe(BASE);
    expect(post!.headers['authorization']).toBe(basic);
    expect(post!.headers['content-type']).toBe('application/json');
    expect(post!.body).toBe(
      JSON.stringify({
        key: KEY,
        url: 'https://bitbucket.org',
        state: 'FAILED',
        name: 'kustomization/apps',
        description: 'health check failed',
      }),
    );
  });

  it('does not post when the existing status has the same state and description', async () => {
    respond({ status: 200, body: JSON.stringify({ key: KEY, state: 'FAILED', description: 'health check failed' }) });
    await send(trickyEvent());
    expect(sink.requests.map((r) => r.method)).toEqual(['GET']);

    respond({ status: 200, body: JSON.stringify({ key: KEY, state: 'FAILED', description: 'health check failed' }) });
    await send(trickyEvent({ severity: 'info', reason: 'ReconciliationSucceeded' }));
    expect(sink.requests.map((r) => r.method)).toEqual(['GET', 'GET', 'POST']);
    expect(JSON.parse(sink.requests[2]!.body)).toMatchObject({ state: 'SUCCESSFUL', description: 'reconciliation succeeded' });
  });

  it('uses a Bearer token for x-token-auth credentials', async () => {
    respond({ status: 404, body: '' });
    await send(trickyEvent(), config({ token: 'x-token-auth:repo-access-token' }));
    expect(sink.requests[1]!.headers['authorization']).toBe('Bearer repo-access-token');
    expect(bitbucketAuthorization('x-bitbucket-api-token-auth:t0k')).toBe('Bearer t0k');
  });

  it('skips Progressing; classifies failures', async () => {
    await send(trickyEvent({ reason: 'Progressing', severity: 'info' }));
    expect(sink.requests).toHaveLength(0);

    respond({ status: 500, body: '' });
    expect(((await send(trickyEvent()).catch((e: unknown) => e)) as DeliveryError).retryable).toBe(true);
    respond({ status: 404, body: '' }, { status: 400, body: '{"error":{"message":"bad"}}' });
    const err = (await send(trickyEvent()).catch((e: unknown) => e)) as DeliveryError;
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err.retryable).toBe(false);
  });

  it('uses api.bitbucket.org for bitbucket.org addresses', () => {
    expect(bitbucketRepo('https://bitbucket.org/workspace/repo')).toEqual({
      apiBase: 'https://api.bitbucket.org/2.0',
      owner: 'workspace',
      repo: 'repo',
    });
  });

  it('validate names the bad field', () => {
    expect(bitbucket.validate!(config())).toBeUndefined();
    expect(bitbucket.validate!(config({ token: undefined }))).toMatch(/token/);
    expect(bitbucket.validate!(config({ token: 'no-colon' }))).toMatch(/<username>:<app password>/);
    expect(bitbucket.validate!(config({ address: 'https://bitbucket.org/only' }))).toMatch(/spec\.address/);
    expect(bitbucket.validate!(config({ spec: { type: 'bitbucket', commitStatusExpr: 'x' } }))).toMatch(/commitStatusExpr/);
    expect(bitbucket.commitStatus).toBe(true);
  });
});
