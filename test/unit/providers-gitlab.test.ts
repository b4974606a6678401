import { describe, expect, it } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { gitlab, gitlabPathEscape, gitlabProject } from '../../providers/commit-status/gitlab.js';
import type { ProviderConfig } from '../../providers/types.js';
import { problemOf, answerListThenPost as respond, deliver, failureOf, SHA, trickyEvent, useSink } from '../support/adapter-harness.js';
import { testProviderConfig } from '../support/provider-config.js';

const TOKEN = 'glpat-s3cretT0kenValue';
const NAME = 'kustomization/apps/0c9c2e41';
const PROJECT = '/api/v4/projects/platform%2Fteam%2Einfra%2Fapps';

const sink = useSink();

function config(overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  return testProviderConfig({ type: 'gitlab', address: `${sink().url}/platform/team.infra/apps.git`, token: TOKEN, ...overrides });
}

const send = (event: FluxEvent, cfg = config()) => deliver(gitlab, cfg, event);

describe('gitlab adapter', () => {
  it('lists the statuses by name, then posts the commit status (golden)', async () => {
    respond([]);
    await send(trickyEvent());

    const [list, post] = sink().requests;
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
    expect(JSON.parse(sink().requests[1]!.body)).toEqual({ state: 'success', name: NAME, description: 'reconciliation succeeded' });
  });

  it('does not post a status identical to an existing one', async () => {
    respond([{ sha: SHA, status: 'failed', description: 'health check failed', name: NAME }]);
    await send(trickyEvent());
    expect(sink().requests.map((r) => r.method)).toEqual(['GET']);

    respond([{ sha: SHA, status: 'success', description: 'reconciliation succeeded', name: NAME }]);
    await send(trickyEvent());
    expect(sink().requests.map((r) => r.method)).toEqual(['GET', 'GET', 'POST']);
  });

  it('skips Progressing; fails without retry on a bad revision', async () => {
    await send(trickyEvent({ reason: 'Progressing', severity: 'info' }));
    expect(sink().requests).toHaveLength(0);
    const err = await failureOf(send(trickyEvent({ metadata: { revision: 'v1.0.0' } })));
    expect(err.retryable).toBe(false);
    expect(sink().requests).toHaveLength(0);
  });

  it('classifies failures: 5xx retryable, 4xx not, token masked', async () => {
    respond([], { status: 500, body: `boom ${TOKEN}` });
    const e500 = await failureOf(send(trickyEvent()));
    expect(e500.retryable).toBe(true);
    expect(e500.message).not.toContain(TOKEN);
    respond([], { status: 403, body: '{"message":"403 Forbidden"}' });
    expect((await failureOf(send(trickyEvent()))).retryable).toBe(false);
  });

  it('parses project addresses and escapes the project id as GitLab does', () => {
    expect(gitlabProject('https://gitlab.com/group/sub/project.git')).toEqual({ apiBase: 'https://gitlab.com/api/v4', id: 'group/sub/project' });
    expect(gitlabPathEscape('group/my.project')).toBe('group%2Fmy%2Eproject');
  });

  it('validate names the bad field', () => {
    expect(problemOf(gitlab, config())).toBeUndefined();
    expect(problemOf(gitlab, config({ token: undefined }))).toMatch(/token/);
    expect(problemOf(gitlab, config({ token: undefined, password: 'pw-fallback' }))).toBeUndefined();
    expect(problemOf(gitlab, config({ address: 'https://gitlab.com' }))).toMatch(/spec\.address/);
    expect(problemOf(gitlab, config({ spec: { type: 'gitlab', commitStatusExpr: 'x' } }))).toMatch(/commitStatusExpr/);
    expect(gitlab.commitStatus).toBe(true);
  });
});
