import { describe, expect, it } from 'vitest';
import { parseOwnerRepo } from '../../providers/commit-status/shared.js';
import { githubApiBase, githubdispatch } from '../../providers/githubdispatch.js';
import { fluxEventJson } from '../../src/events/wire.js';
import { problemOf, deliver, TRICKY_MESSAGE, trickyEvent, useSink } from '../support/adapter-harness.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';

const sink = useSink();

describe('githubdispatch', () => {
  it('creates a repository_dispatch event whose client_payload is the Flux event', async () => {
    // Any host but github.com is GitHub Enterprise: <host>/api/v3/.
    const config = testProviderConfig({ type: 'githubdispatch', address: `${sink().url}/stefanprodan/podinfo.git`, token: 'ghp_dispatchtoken' });
    const [req, ...more] = await deliver(githubdispatch, config, trickyEvent());
    expect(more).toHaveLength(0);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/api/v3/repos/stefanprodan/podinfo/dispatches');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers.accept).toBe('application/vnd.github.v3+json');
    expect(req?.headers['x-github-api-version']).toBe('2022-11-28');
    expect(req?.headers.authorization).toBe('Bearer ghp_dispatchtoken');
    expect(req?.body).toBe(`{"event_type":"Kustomization/apps.flux-system","client_payload":${fluxEventJson(trickyEvent())}}`);
    const body = JSON.parse(req?.body ?? '');
    expect(body.client_payload.message).toBe(TRICKY_MESSAGE);
    expect(body.client_payload.metadata.summary).toBe('Cluster "prod-eu" *critical*');
  });

  it('skips commit status update events', async () => {
    const config = testProviderConfig({ type: 'githubdispatch', address: `${sink().url}/org/repo`, token: 'ghp_dispatchtoken' });
    await deliver(githubdispatch, config, kustomizationEvent({ metadata: { commit_status: 'update' } }));
    expect(sink().requests).toHaveLength(0);
  });

  it('parses repository addresses like Flux and picks the API host', () => {
    expect(parseOwnerRepo('https://github.com/foo/bar')).toEqual({ host: 'https://github.com', owner: 'foo', repo: 'bar' });
    expect(parseOwnerRepo('ssh://git@github.com/foo/bar.git')).toEqual({ host: 'https://github.com', owner: 'foo', repo: 'bar' });
    expect(parseOwnerRepo('git@github.example.com:foo/bar.git')).toEqual({ host: 'https://github.example.com', owner: 'foo', repo: 'bar' });
    expect(parseOwnerRepo('https://github.com/foo/bar/baz')).toBeUndefined();
    expect(githubApiBase('https://github.com')).toBe('https://api.github.com/');
    expect(githubApiBase('https://ghe.example.com:8443')).toBe('https://ghe.example.com:8443/api/v3/');
  });

  it('requires a token and an owner/repo address', () => {
    expect(problemOf(githubdispatch, testProviderConfig({ type: 'githubdispatch', address: 'https://github.com/foo/bar' }))).toMatch(/`token`/);
    expect(problemOf(githubdispatch, testProviderConfig({ type: 'githubdispatch', address: 'https://github.com/foo', token: 'ghp_x' }))).toMatch(/address/);
    expect(problemOf(githubdispatch, testProviderConfig({ type: 'githubdispatch', address: 'https://github.com/foo/bar', token: 'ghp_x' }))).toBeUndefined();
  });
});
