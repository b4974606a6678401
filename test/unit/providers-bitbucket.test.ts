import { describe, expect, it } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { bitbucket, bitbucketAuthorization, bitbucketRepo } from '../../providers/commit-status/bitbucket.js';
import { sha1Hex } from '../../providers/commit-status/shared.js';
import type { ProviderConfig } from '../../providers/types.js';
import { problemOf, answerLookupThenPost as respond, deliver, failureOf, SHA, trickyEvent as tricky, useSink } from '../support/adapter-harness.js';
import { testProviderConfig } from '../support/provider-config.js';

const KEY = sha1Hex('kustomization/apps/0c9c2e41');
const BASE = `/2.0/repositories/workspace/repo/commit/${SHA}/statuses/build`;

/** The tricky event with a legacy `<branch>/<sha>` revision. */
const trickyEvent = (overrides: Partial<FluxEvent> = {}) => tricky({ metadata: { revision: `main/${SHA}` }, ...overrides });

const sink = useSink();

function config(overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  return testProviderConfig({ type: 'bitbucket', address: `${sink().url}/workspace/repo.git`, token: 'jane:app-p4ssw0rd-value', ...overrides });
}

const send = (event: FluxEvent, cfg = config()) => deliver(bitbucket, cfg, event);

describe('bitbucket adapter', () => {
  it('looks up the status by key, then posts the build status (golden)', async () => {
    respond({ status: 404, body: '{"type":"error","error":{"message":"No such build status"}}' });
    await send(trickyEvent());

    const [get, post] = sink().requests;
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
    expect(sink().requests.map((r) => r.method)).toEqual(['GET']);

    respond({ status: 200, body: JSON.stringify({ key: KEY, state: 'FAILED', description: 'health check failed' }) });
    await send(trickyEvent({ severity: 'info', reason: 'ReconciliationSucceeded' }));
    expect(sink().requests.map((r) => r.method)).toEqual(['GET', 'GET', 'POST']);
    expect(JSON.parse(sink().requests[2]!.body)).toMatchObject({ state: 'SUCCESSFUL', description: 'reconciliation succeeded' });
  });

  it('uses a Bearer token for x-token-auth credentials', async () => {
    respond({ status: 404, body: '' });
    await send(trickyEvent(), config({ token: 'x-token-auth:repo-access-token' }));
    expect(sink().requests[1]!.headers['authorization']).toBe('Bearer repo-access-token');
    expect(bitbucketAuthorization('x-bitbucket-api-token-auth:t0k')).toBe('Bearer t0k');
  });

  it('skips Progressing; classifies failures', async () => {
    await send(trickyEvent({ reason: 'Progressing', severity: 'info' }));
    expect(sink().requests).toHaveLength(0);

    respond({ status: 500, body: '' });
    expect((await failureOf(send(trickyEvent()))).retryable).toBe(true);
    respond({ status: 404, body: '' }, { status: 400, body: '{"error":{"message":"bad"}}' });
    const err = await failureOf(send(trickyEvent()));
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
    expect(problemOf(bitbucket, config())).toBeUndefined();
    expect(problemOf(bitbucket, config({ token: undefined }))).toMatch(/token/);
    expect(problemOf(bitbucket, config({ token: 'no-colon' }))).toMatch(/<username>:<app password>/);
    expect(problemOf(bitbucket, config({ address: 'https://bitbucket.org/only' }))).toMatch(/spec\.address/);
    expect(problemOf(bitbucket, config({ spec: { type: 'bitbucket', commitStatusExpr: 'x' } }))).toMatch(/commitStatusExpr/);
    expect(bitbucket.commitStatus).toBe(true);
  });
});
