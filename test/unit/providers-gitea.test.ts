import { describe, expect, it } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { gitea } from '../../providers/commit-status/gitea.js';
import type { ProviderConfig } from '../../providers/types.js';
import { problemOf, answerListThenPost as respond, deliver, failureOf, SHA, trickyEvent as tricky, useSink } from '../support/adapter-harness.js';
import { testProviderConfig } from '../support/provider-config.js';

const TOKEN = 'gitea-s3cretT0kenValue';
const CONTEXT = 'kustomization/apps/0c9c2e41';

/** The tricky event with its revision in `originRevision`. */
const trickyEvent = (overrides: Partial<FluxEvent> = {}) => tricky({ metadata: { originRevision: `sha1:${SHA}` }, ...overrides });

const sink = useSink();

function config(overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  return testProviderConfig({ type: 'gitea', address: `${sink().url}/org/repo.git`, token: TOKEN, ...overrides });
}

const send = (event: FluxEvent, cfg = config()) => deliver(gitea, cfg, event);

describe('gitea adapter', () => {
  it('lists the statuses, then posts the commit status (golden)', async () => {
    respond([]);
    await send(trickyEvent());

    const [list, post] = sink().requests;
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
    expect(JSON.parse(sink().requests[1]!.body)).toMatchObject({ state: 'pending', description: 'progressing' });
    await send(trickyEvent({ severity: 'info', reason: 'ReconciliationSucceeded' }));
    expect(JSON.parse(sink().requests[3]!.body)).toMatchObject({ state: 'success', description: 'reconciliation succeeded' });
  });

  it('does not post a status identical to the newest one with the same context', async () => {
    respond([{ context: CONTEXT, state: 'failure', description: 'health check failed' }]);
    await send(trickyEvent());
    expect(sink().requests.map((r) => r.method)).toEqual(['GET']);
  });

  it('passes over listed statuses with an empty field, as Flux does for Gitea', async () => {
    respond([
      { context: CONTEXT, state: 'success', description: '' },
      { context: CONTEXT, state: 'failure', description: 'health check failed' },
    ]);
    await send(trickyEvent());
    expect(sink().requests.map((r) => r.method)).toEqual(['GET']);
  });

  it('fails without retry on a bad revision; classifies HTTP failures', async () => {
    const bad = await failureOf(send(trickyEvent({ metadata: { revision: 'main@sha1:xyz' } })));
    expect(bad.retryable).toBe(false);
    expect(sink().requests).toHaveLength(0);

    respond([], { status: 502, body: '' });
    expect((await failureOf(send(trickyEvent()))).retryable).toBe(true);
    respond([], { status: 404, body: '{"message":"not found"}' });
    expect((await failureOf(send(trickyEvent()))).retryable).toBe(false);
  });

  it('validate names the bad field', () => {
    expect(problemOf(gitea, config())).toBeUndefined();
    expect(problemOf(gitea, config({ token: undefined }))).toMatch(/token/);
    expect(problemOf(gitea, config({ token: undefined, password: 'pw-fallback' }))).toBeUndefined();
    expect(problemOf(gitea, config({ address: `${sink().url}/org/sub/repo` }))).toMatch(/spec\.address/);
    expect(problemOf(gitea, config({ spec: { type: 'gitea', commitStatusExpr: 'x' } }))).toMatch(/commitStatusExpr/);
    expect(gitea.commitStatus).toBe(true);
  });
});
