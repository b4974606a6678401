import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { createHttpClient } from '../../providers/http.js';
import type { ProviderAdapter, ProviderConfig } from '../../providers/types.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';
import { startSink, type Sink } from '../support/sink.js';

/** JSON as Go's encoding/json writes it (HTML characters escaped). */
const go = (v: unknown) =>
  JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

const MESSAGE = 'Health check **failed** for "podinfo"\n> `deployment/podinfo` <not ready> & [docs](https://x.io/a_b)\nÜmlaut ünïcödé — 日本語 🚀';
/** An error event whose message and metadata carry markdown, quotes, newlines and non-ASCII text. */
const tricky: FluxEvent = kustomizationEvent({
  severity: 'error',
  reason: 'HealthCheckFailed',
  message: MESSAGE,
  metadata: {
    revision: 'main@sha1:6f1d5e3c8a2b4f7e9d0c1b2a3f4e5d6c7b8a9f0e',
    summary: 'Cluster "prod-eu" *critical*',
    env: 'prod\nblue_green',
    'owner.team': 'Équipe (ops) #1',
  },
});
const REVISION = 'main@sha1:6f1d5e3c8a2b4f7e9d0c1b2a3f4e5d6c7b8a9f0e';

let sink: Sink;
beforeAll(async () => {
  sink = await startSink(() => ({ status: 200, body: '{}' }));
});
afterAll(() => sink.close());
beforeEach(() => {
  sink.requests.length = 0;
});

async function deliver(adapter: ProviderAdapter, config: ProviderConfig, event: FluxEvent) {
  const http = createHttpClient(config);
  try {
    await adapter.send(event, { config, http });
  } finally {
    await http.close();
  }
  return sink.requests;
}
import { githubApiBase, githubdispatch, parseRepositoryAddress } from '../../providers/githubdispatch.js';
import { fluxEventJson } from '../../providers/wire.js';

describe('githubdispatch', () => {
  it('creates a repository_dispatch event whose client_payload is the Flux event', async () => {
    // Any host but github.com is GitHub Enterprise: <host>/api/v3/.
    const config = testProviderConfig({ type: 'githubdispatch', address: `${sink.url}/stefanprodan/podinfo.git`, token: 'ghp_dispatchtoken' });
    const [req, ...more] = await deliver(githubdispatch, config, tricky);
    expect(more).toHaveLength(0);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/api/v3/repos/stefanprodan/podinfo/dispatches');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers.accept).toBe('application/vnd.github.v3+json');
    expect(req?.headers['x-github-api-version']).toBe('2022-11-28');
    expect(req?.headers.authorization).toBe('Bearer ghp_dispatchtoken');
    expect(req?.body).toBe(`{"event_type":"Kustomization/apps.flux-system","client_payload":${fluxEventJson(tricky)}}`);
    const body = JSON.parse(req?.body ?? '');
    expect(body.client_payload.message).toBe(MESSAGE);
    expect(body.client_payload.metadata.summary).toBe('Cluster "prod-eu" *critical*');
  });

  it('skips commit status update events', async () => {
    const config = testProviderConfig({ type: 'githubdispatch', address: `${sink.url}/org/repo`, token: 'ghp_dispatchtoken' });
    await deliver(githubdispatch, config, kustomizationEvent({ metadata: { commit_status: 'update' } }));
    expect(sink.requests).toHaveLength(0);
  });

  it('parses repository addresses like Flux and picks the API host', () => {
    expect(parseRepositoryAddress('https://github.com/foo/bar')).toEqual({ host: 'https://github.com', owner: 'foo', repo: 'bar' });
    expect(parseRepositoryAddress('ssh://git@github.com/foo/bar.git')).toEqual({ host: 'https://github.com', owner: 'foo', repo: 'bar' });
    expect(parseRepositoryAddress('git@github.example.com:foo/bar.git')).toEqual({ host: 'https://github.example.com', owner: 'foo', repo: 'bar' });
    expect(parseRepositoryAddress('https://github.com/foo/bar/baz')).toBeUndefined();
    expect(githubApiBase('https://github.com')).toBe('https://api.github.com/');
    expect(githubApiBase('https://ghe.example.com:8443')).toBe('https://ghe.example.com:8443/api/v3/');
  });

  it('requires a token and an owner/repo address', () => {
    expect(githubdispatch.validate?.(testProviderConfig({ type: 'githubdispatch', address: 'https://github.com/foo/bar' }))).toMatch(/`token`/);
    expect(githubdispatch.validate?.(testProviderConfig({ type: 'githubdispatch', address: 'https://github.com/foo', token: 'ghp_x' }))).toMatch(/address/);
    expect(githubdispatch.validate?.(testProviderConfig({ type: 'githubdispatch', address: 'https://github.com/foo/bar', token: 'ghp_x' }))).toBeUndefined();
  });
});
