import { describe, expect, it } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { github, githubRepo } from '../../providers/commit-status/github.js';
import type { ProviderConfig } from '../../providers/types.js';
import { problemOf, answerListThenPost as respond, deliver, failureOf, SHA, trickyEvent, useSink } from '../support/adapter-harness.js';
import { testProviderConfig } from '../support/provider-config.js';

const TOKEN = 'ghp_s3cretT0kenValue';
const UID = '0c9c2e41-d2f9-4f9b-9c41-2e0a8e1a6c11';
const CONTEXT = 'kustomization/apps/0c9c2e41';

const sink = useSink();

function config(overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  return testProviderConfig({ type: 'github', uid: UID, address: `${sink().url}/org/repo`, token: TOKEN, ...overrides });
}

const send = (event: FluxEvent, cfg = config()) => deliver(github, cfg, event);

describe('github adapter: golden payload', () => {
  it('lists the statuses, then posts the commit status to the Enterprise API', async () => {
    respond([]);
    await send(trickyEvent());

    expect(sink().requests).toHaveLength(2);
    const [list, post] = sink().requests;
    expect(list!.method).toBe('GET');
    expect(list!.url).toBe(`/api/v3/repos/org/repo/commits/${SHA}/statuses?per_page=50`);
    expect(list!.headers['authorization']).toBe(`Bearer ${TOKEN}`);
    expect(list!.headers['accept']).toBe('application/vnd.github+json');
    expect(list!.headers['x-github-api-version']).toBe('2022-11-28');

    expect(post!.method).toBe('POST');
    expect(post!.url).toBe(`/api/v3/repos/org/repo/statuses/${SHA}`);
    expect(post!.headers['authorization']).toBe(`Bearer ${TOKEN}`);
    expect(post!.headers['content-type']).toBe('application/json');
    expect(post!.body).toBe(JSON.stringify({ state: 'failure', description: 'health check failed', context: CONTEXT }));
  });

  it('maps info events to success', async () => {
    respond([]);
    await send(trickyEvent({ severity: 'info', reason: 'ReconciliationSucceeded' }));
    expect(JSON.parse(sink().requests[1]!.body)).toEqual({ state: 'success', description: 'reconciliation succeeded', context: CONTEXT });
  });

  it('resolves github.com to api.github.com and any other host to <host>/api/v3', () => {
    expect(githubRepo('https://github.com/fluxcd/flux2')).toEqual({ apiBase: 'https://api.github.com', owner: 'fluxcd', repo: 'flux2' });
    expect(githubRepo('https://github.example.com/team/app.git')).toEqual({
      apiBase: 'https://github.example.com/api/v3',
      owner: 'team',
      repo: 'app',
    });
    expect(githubRepo('git@github.com:fluxcd/flux2.git')?.apiBase).toBe('https://api.github.com');
    expect(githubRepo('https://github.com/only-owner')).toBeUndefined();
    expect(githubRepo('https://github.com/a/b/c')).toBeUndefined();
  });
});

describe('github adapter: revisions', () => {
  it.each([
    [{ commit: SHA, revision: `main@sha1:${'f'.repeat(40)}` }],
    [{ originRevision: `sha1:${SHA}` }],
    [{ revision: `main/${SHA}` }],
    [{ revision: SHA }],
  ])('takes the SHA from %j', async (metadata) => {
    respond([]);
    await send(trickyEvent({ metadata }));
    expect(sink().requests[1]!.url).toBe(`/api/v3/repos/org/repo/statuses/${SHA}`);
  });

  it('fails without retry, and without a request, on a revision that holds no SHA-1', async () => {
    const err = await failureOf(send(trickyEvent({ metadata: { revision: 'main@sha1:abc' } })));
    expect(err.retryable).toBe(false);
    expect(sink().requests).toHaveLength(0);
  });

  it('fails without retry on an event with no revision', async () => {
    const err = await failureOf(send(trickyEvent({ metadata: {} })));
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/missing revision/);
  });

  it('skips Progressing events', async () => {
    await send(trickyEvent({ severity: 'info', reason: 'Progressing' }));
    expect(sink().requests).toHaveLength(0);
  });
});

describe('github adapter: duplicates', () => {
  it('does not post a status identical to the newest one with the same context', async () => {
    respond([
      { context: 'other/context', state: 'success', description: 'x' },
      { context: CONTEXT, state: 'failure', description: 'health check failed' },
      { context: CONTEXT, state: 'success', description: 'reconciliation succeeded' },
    ]);
    await send(trickyEvent());
    expect(sink().requests.map((r) => r.method)).toEqual(['GET']);
  });

  it('posts when the newest status with the same context differs, even if an older one matches', async () => {
    respond([
      { context: CONTEXT, state: 'success', description: 'reconciliation succeeded' },
      { context: CONTEXT, state: 'failure', description: 'health check failed' },
    ]);
    await send(trickyEvent());
    expect(sink().requests.map((r) => r.method)).toEqual(['GET', 'POST']);
  });
});

describe('github adapter: failures', () => {
  it('classifies 5xx as retryable and 4xx as not, and masks the token', async () => {
    respond([], { status: 502, body: `bad gateway for ${TOKEN}` });
    const retryable = await failureOf(send(trickyEvent()));
    expect(retryable.retryable).toBe(true);
    expect(retryable.message).not.toContain(TOKEN);

    respond([], { status: 422, body: '{"message":"Validation Failed"}' });
    const fatal = await failureOf(send(trickyEvent()));
    expect(fatal.retryable).toBe(false);
    expect(fatal.status).toBe(422);
  });

  it('fails when the status list cannot be read', async () => {
    sink().respondWith(() => ({ status: 401, body: '{"message":"Bad credentials"}' }));
    const err = await failureOf(send(trickyEvent()));
    expect(err.retryable).toBe(false);
    expect(sink().requests).toHaveLength(1);
  });
});

describe('github adapter: validate', () => {
  it('accepts a complete configuration', () => {
    expect(problemOf(github, config())).toBeUndefined();
    expect(github.commitStatus).toBe(true);
  });

  it('names the bad field', () => {
    expect(problemOf(github, config({ address: 'https://github.com/only-owner' }))).toMatch(/spec\.address/);
    expect(problemOf(github, config({ token: undefined }))).toMatch(/token/);
    expect(problemOf(github, config({ token: undefined, secret: { githubAppID: '1' } }))).toMatch(/GitHub App/);
    expect(problemOf(github, config({ spec: { type: 'github', commitStatusExpr: 'event.metadata.' } }))).toMatch(
      /^spec\.commitStatusExpr does not compile: /,
    );
  });

  it('falls back to the password as the token, as Flux does', () => {
    expect(problemOf(github, config({ token: undefined, password: 'from-password' }))).toBeUndefined();
  });
});
