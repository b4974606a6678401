import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { gitlab, gitlabPathEscape, gitlabProject } from '../../providers/gitlab.js';
import { createHttpClient, DeliveryError } from '../../providers/http.js';
import type { ProviderConfig } from '../../providers/types.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';
import { startSink, type Sink, type SinkReply } from '../support/sink.js';

const SHA = '6f1d5e3c8a2b4f7e9d0c1b2a3f4e5d6c7b8a9f0e';
const TOKEN = 'glpat-s3cretT0kenValue';
const NAME = 'kustomization/apps/0c9c2e41';
const PROJECT = '/api/v4/projects/platform%2Fteam%2Einfra%2Fapps';

/** An error event with markdown, quotes, newlines and non-ASCII text, metadata prefix-stripped. */
function trickyEvent(overrides: Partial<FluxEvent> = {}): FluxEvent {
  return kustomizationEvent({
    severity: 'error',
    reason: 'HealthCheckFailed',
    message: '**Health check failed** for `apps`:\n> Deployment "web" — état <dégradé> & 日本語 ✅',
    metadata: { revision: `main@sha1:${SHA}`, summary: 'Cluster "prod-eu" — Zürich\nsecond line' },
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
  return testProviderConfig({ type: 'gitlab', address: `${sink.url}/platform/team.infra/apps.git`, token: TOKEN, ...overrides });
}

async function send(event: FluxEvent, cfg = config()): Promise<void> {
  const http = createHttpClient(cfg);
  clients.push(http);
  await gitlab.send(event, { config: cfg, http });
}

function respond(statuses: unknown[], post: SinkReply = { status: 201, body: '{}' }): void {
  sink.respondWith((req) => (req.method === 'GET' ? { status: 200, body: JSON.stringify(statuses) } : post));
}

describe('gitlab adapter', () => {
  it('lists the statuses by name, then posts the commit status (golden)', async () => {
    respond([]);
    await send(trickyEvent());

    const [list, post] = sink.requests;
    expect(list!.method).toBe('GET');
    expect(list!.url).toBe(`${PROJECT}/repository/commits/${SHA}/statuses?name=${encodeURIComponent(NAME)}`);
    expect(list!.headers['private-token']).toBe(TOKEN);
    expect(post!.method).toBe('POST');
    expect(post!.url).toBe(`${PROJECT}/statuses/${SHA}`);
    expect(post!.headers['private-token']).toBe(TOKEN);
    expect(post!.headers['content-type']).toBe('application/json');
    expect(post!.body).toBe(JSON.stringify({ state: 'failed', name: NAME, description: 'health check failed' }));
  });

  it('maps info to success', async () => {
    respond([]);
    await send(trickyEvent({ severity: 'info', reason: 'ReconciliationSucceeded' }));
    expect(JSON.parse(sink.requests[1]!.body)).toEqual({ state: 'success', name: NAME, description: 'reconciliation succeeded' });
  });

  it('does not post a status identical to an existing one', async () => {
    respond([{ sha: SHA, status: 'failed', description: 'health check failed', name: NAME }]);
    await send(trickyEvent());
    expect(sink.requests.map((r) => r.method)).toEqual(['GET']);

    respond([{ sha: SHA, status: 'success', description: 'reconciliation succeeded', name: NAME }]);
    await send(trickyEvent());
    expect(sink.requests.map((r) => r.method)).toEqual(['GET', 'GET', 'POST']);
  });

  it('skips Progressing; fails without retry on a bad revision', async () => {
    await send(trickyEvent({ reason: 'Progressing', severity: 'info' }));
    expect(sink.requests).toHaveLength(0);
    const err = (await send(trickyEvent({ metadata: { revision: 'v1.0.0' } })).catch((e: unknown) => e)) as DeliveryError;
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err.retryable).toBe(false);
    expect(sink.requests).toHaveLength(0);
  });

  it('classifies failures: 5xx retryable, 4xx not, token masked', async () => {
    respond([], { status: 500, body: `boom ${TOKEN}` });
    const e500 = (await send(trickyEvent()).catch((e: unknown) => e)) as DeliveryError;
    expect(e500.retryable).toBe(true);
    expect(e500.message).not.toContain(TOKEN);
    respond([], { status: 403, body: '{"message":"403 Forbidden"}' });
    expect(((await send(trickyEvent()).catch((e: unknown) => e)) as DeliveryError).retryable).toBe(false);
  });

  it('parses project addresses and escapes the project id as GitLab does', () => {
    expect(gitlabProject('https://gitlab.com/group/sub/project.git')).toEqual({ apiBase: 'https://gitlab.com/api/v4', id: 'group/sub/project' });
    expect(gitlabPathEscape('group/my.project')).toBe('group%2Fmy%2Eproject');
  });

  it('validate names the bad field', () => {
    expect(gitlab.validate!(config())).toBeUndefined();
    expect(gitlab.validate!(config({ token: undefined }))).toMatch(/token/);
    expect(gitlab.validate!(config({ token: undefined, password: 'pw-fallback' }))).toBeUndefined();
    expect(gitlab.validate!(config({ address: 'https://gitlab.com' }))).toMatch(/spec\.address/);
    expect(gitlab.validate!(config({ spec: { type: 'gitlab', commitStatusExpr: 'x' } }))).toMatch(/commitStatusExpr/);
    expect(gitlab.commitStatus).toBe(true);
  });
});
