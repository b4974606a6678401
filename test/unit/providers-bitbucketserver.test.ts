import { describe, expect, it } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { bitbucketServer, bitbucketServerRepo } from '../../providers/commit-status/bitbucketserver.js';
import { sha1Hex } from '../../providers/commit-status/shared.js';
import type { ProviderConfig } from '../../providers/types.js';
import { problemOf, answerLookupThenPost, deliver, failureOf, SHA, trickyEvent, useSink } from '../support/adapter-harness.js';
import { testProviderConfig } from '../support/provider-config.js';
import type { SinkReply } from '../support/sink.js';

const TOKEN = 'BBDC-s3cretT0kenValue';
const KEY = sha1Hex('kustomization/apps/0c9c2e41');
const PATH = `/rest/api/latest/projects/PRJ/repos/my-repo/commits/${SHA}/builds`;

const sink = useSink();

function config(overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  return testProviderConfig({ type: 'bitbucketserver', address: `${sink().url}/scm/PRJ/my-repo.git`, token: TOKEN, ...overrides });
}

const send = (event: FluxEvent, cfg = config()) => deliver(bitbucketServer, cfg, event);

/** Answers the look-up with `existing`, and the post with `post` (204 by default, as the server does). */
function respond(existing: SinkReply, post: SinkReply = { status: 204, body: '' }): void {
  answerLookupThenPost(existing, post);
}

describe('bitbucketserver adapter', () => {
  it('looks up the build status by key, then posts it (golden)', async () => {
    respond({ status: 404, body: '' });
    const cfg = config();
    await send(trickyEvent(), cfg);

    const [get, post] = sink().requests;
    for (const req of [get!, post!]) {
      expect(req.headers['authorization']).toBe(`Bearer ${TOKEN}`);
      expect(req.headers['x-atlassian-token']).toBe('no-check');
      expect(req.headers['x-requested-with']).toBe('XMLHttpRequest');
    }
    expect(get!.method).toBe('GET');
    expect(get!.url).toBe(`${PATH}?key=${KEY}`);
    expect(post!.method).toBe('POST');
    expect(post!.url).toBe(PATH);
    expect(post!.headers['content-type']).toBe('application/json');
    expect(post!.body).toBe(
      JSON.stringify({
        description: 'health check failed',
        key: KEY,
        name: 'kustomization/apps [health check failed]',
        state: 'FAILED',
        url: cfg.address,
      }),
    );
  });

  it('uses Basic auth with username and password when there is no token', async () => {
    respond({ status: 404, body: '' });
    await send(trickyEvent({ severity: 'info', reason: 'ReconciliationSucceeded' }), config({ token: undefined, username: 'jane', password: 'pa55' }));
    expect(sink().requests[1]!.headers['authorization']).toBe(`Basic ${Buffer.from('jane:pa55').toString('base64')}`);
    expect(JSON.parse(sink().requests[1]!.body)).toMatchObject({ state: 'SUCCESSFUL', name: 'kustomization/apps [reconciliation succeeded]' });
  });

  it('does not post a build status identical to the existing one', async () => {
    respond({
      status: 200,
      body: JSON.stringify({ key: KEY, state: 'FAILED', description: 'health check failed', name: 'kustomization/apps [health check failed]' }),
    });
    await send(trickyEvent());
    expect(sink().requests.map((r) => r.method)).toEqual(['GET']);
  });

  it('posts anyway when the look-up gets an HTTP error (as Flux does), but fails on a failed post', async () => {
    respond({ status: 500, body: '' });
    await send(trickyEvent());
    expect(sink().requests.map((r) => r.method)).toEqual(['GET', 'POST']);

    respond({ status: 404, body: '' }, { status: 401, body: '{"errors":[{"message":"Authentication failed"}]}' });
    const denied = await failureOf(send(trickyEvent()));
    expect(denied.retryable).toBe(false);

    respond({ status: 404, body: '' }, { status: 503, body: '' });
    expect((await failureOf(send(trickyEvent()))).retryable).toBe(true);
  });

  it('skips Progressing; fails without retry on a bad revision', async () => {
    await send(trickyEvent({ reason: 'Progressing', severity: 'info' }));
    const bad = await failureOf(send(trickyEvent({ metadata: { revision: 'latest' } })));
    expect(bad.retryable).toBe(false);
    expect(sink().requests).toHaveLength(0);
  });

  it('parses /scm/<project>/<repo> addresses only', () => {
    expect(bitbucketServerRepo('https://bb.example.com/scm/PRJ/repo.git')).toEqual({
      host: 'https://bb.example.com',
      projectKey: 'PRJ',
      repoSlug: 'repo',
    });
    expect(bitbucketServerRepo('https://bb.example.com/PRJ/repo.git')).toBeUndefined();
    expect(bitbucketServerRepo('ssh://git@bb.example.com:7999/scm/PRJ/repo.git')).toBeUndefined();
  });

  it('validate names the bad field', () => {
    expect(problemOf(bitbucketServer, config())).toBeUndefined();
    expect(problemOf(bitbucketServer, config({ token: undefined }))).toMatch(/token.*username.*password/);
    expect(problemOf(bitbucketServer, config({ address: 'https://bb.example.com/PRJ/repo' }))).toMatch(/spec\.address/);
    expect(problemOf(bitbucketServer, config({ spec: { type: 'bitbucketserver', commitStatusExpr: 'x' } }))).toMatch(/commitStatusExpr/);
    expect(bitbucketServer.commitStatus).toBe(true);
  });
});
