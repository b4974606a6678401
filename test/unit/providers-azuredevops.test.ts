import { describe, expect, it } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { azureDevOps, azureDevOpsRepo } from '../../providers/commit-status/azuredevops.js';
import type { ProviderConfig } from '../../providers/types.js';
import { problemOf, answerListThenPost, deliver, failureOf, SHA, trickyEvent, useSink } from '../support/adapter-harness.js';
import { testProviderConfig } from '../support/provider-config.js';
import type { SinkReply } from '../support/sink.js';

const PAT = 'azdo-p3rsonal-access-token';
const NAME = 'kustomization/apps/0c9c2e41';
const URL_PATH = `/my-org/My%20Project/_apis/git/repositories/app-repo/commits/${SHA}/statuses?api-version=6.0-preview.1`;

const sink = useSink();

function config(overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  return testProviderConfig({ type: 'azuredevops', address: `${sink().url}/my-org/My%20Project/_git/app-repo`, token: PAT, ...overrides });
}

const send = (event: FluxEvent, cfg = config()) => deliver(azureDevOps, cfg, event);

function respond(statuses: unknown[], post?: SinkReply): void {
  answerListThenPost({ count: statuses.length, value: statuses }, post);
}

describe('azuredevops adapter', () => {
  it('lists the statuses, then posts the commit status (golden)', async () => {
    respond([]);
    await send(trickyEvent());

    const [list, post] = sink().requests;
    const basic = `Basic ${Buffer.from(`:${PAT}`).toString('base64')}`;
    expect(list!.method).toBe('GET');
    expect(list!.url).toBe(URL_PATH);
    expect(list!.headers['authorization']).toBe(basic);
    expect(post!.method).toBe('POST');
    expect(post!.url).toBe(URL_PATH);
    expect(post!.headers['authorization']).toBe(basic);
    expect(post!.headers['content-type']).toBe('application/json');
    expect(post!.body).toBe(
      JSON.stringify({ context: { genre: 'fluxcd:Cluster "prod-eu" *critical*', name: NAME }, description: 'health check failed', state: 'error' }),
    );
  });

  it('uses the plain genre when the notification has no summary', async () => {
    respond([]);
    await send(trickyEvent({ metadata: { revision: `main@sha1:${SHA}` } }));
    expect(JSON.parse(sink().requests[1]!.body)).toMatchObject({ context: { genre: 'fluxcd', name: NAME } });
  });

  it('maps info to succeeded', async () => {
    respond([]);
    await send(trickyEvent({ severity: 'info', reason: 'ReconciliationSucceeded' }));
    expect(JSON.parse(sink().requests[1]!.body)).toMatchObject({ state: 'succeeded', description: 'reconciliation succeeded' });
  });

  it('does not post a status identical to the first one with the same context', async () => {
    respond([
      { context: { genre: 'other', name: NAME }, state: 'succeeded', description: 'x' },
      { context: { genre: 'fluxcd:Cluster "prod-eu" *critical*', name: NAME }, state: 'error', description: 'health check failed' },
    ]);
    await send(trickyEvent());
    expect(sink().requests.map((r) => r.method)).toEqual(['GET']);

    respond([{ context: { genre: 'fluxcd:Cluster "prod-eu" *critical*', name: NAME }, state: 'succeeded', description: 'reconciliation succeeded' }]);
    await send(trickyEvent());
    expect(sink().requests.map((r) => r.method)).toEqual(['GET', 'GET', 'POST']);
  });

  it('skips Progressing; classifies failures', async () => {
    await send(trickyEvent({ reason: 'Progressing', severity: 'info' }));
    expect(sink().requests).toHaveLength(0);
    respond([], { status: 503, body: '' });
    expect((await failureOf(send(trickyEvent()))).retryable).toBe(true);
    respond([], { status: 400, body: '{"message":"bad"}' });
    const err = await failureOf(send(trickyEvent()));
    expect(err.retryable).toBe(false);
  });

  it('parses dev.azure.com addresses', () => {
    expect(azureDevOpsRepo('https://dev.azure.com/org/proj/_git/repo')).toEqual({
      orgUrl: 'https://dev.azure.com/org',
      project: 'proj',
      repo: 'repo',
    });
    expect(azureDevOpsRepo('https://dev.azure.com/org/proj')).toBeUndefined();
  });

  it('validate names the bad field', () => {
    expect(problemOf(azureDevOps, config())).toBeUndefined();
    expect(problemOf(azureDevOps, config({ token: undefined }))).toMatch(/token/);
    expect(problemOf(azureDevOps, config({ address: 'https://dev.azure.com/org/proj' }))).toMatch(/spec\.address/);
    expect(problemOf(azureDevOps, config({ spec: { type: 'azuredevops', commitStatusExpr: 'x' } }))).toMatch(/commitStatusExpr/);
    expect(azureDevOps.commitStatus).toBe(true);
  });
});
