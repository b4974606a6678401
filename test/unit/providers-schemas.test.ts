/**
 * Adapter payloads checked against the providers' own published schemas, where one exists.
 *
 * GitHub: the schemas below are excerpts of GitHub's OpenAPI description as the
 * `@octokit/openapi` npm package ships it (version 23.0.2, `generated/api.github.com.json`,
 * OpenAPI 3.0.3, description version 23.0.2). The package itself is not a devDependency: it is a
 * 29 MB download that unpacks to 403 MB (the same description for ghec, three GHES versions,
 * and dereferenced copies of each), too much to install on every CI run for three small
 * schemas. The validation keywords are copied verbatim; the long `description` texts are left
 * out. To refresh: `npm pack @octokit/openapi`, then read
 * `paths['/repos/{owner}/{repo}/statuses/{sha}'].post.requestBody` and the others named below.
 *
 * PagerDuty: no npm package ships a schema for the Events API v2 (`@pagerduty/pdjs` has
 * TypeScript declarations only), so the PagerDuty payloads are covered by the golden tests in
 * providers-pagerduty.test.ts alone. Adaptive Cards: providers-msteams.test.ts.
 */
import AjvModule from 'ajv';
import { describe, expect, it } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { github } from '../../providers/commit-status/github.js';
import { githubdispatch } from '../../providers/githubdispatch.js';
import type { ProviderConfig } from '../../providers/types.js';
import { answerListThenPost, deliver, SHA, trickyEvent, useSink } from '../support/adapter-harness.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';

const Ajv = AjvModule.default;

/** `paths['/repos/{owner}/{repo}/statuses/{sha}'].post` (operationId `repos/create-commit-status`): request body schema. */
const CREATE_COMMIT_STATUS_BODY = {
  type: 'object',
  properties: {
    state: { type: 'string', enum: ['error', 'failure', 'pending', 'success'] },
    target_url: { type: 'string', nullable: true },
    description: { type: 'string', nullable: true },
    context: { type: 'string', default: 'default' },
  },
  required: ['state'],
} as const;

/** `paths['/repos/{owner}/{repo}/commits/{ref}/statuses'].get` (`repos/list-commit-statuses-for-ref`): query parameters. */
const LIST_COMMIT_STATUSES_QUERY = {
  type: 'object',
  properties: {
    per_page: { type: 'integer', default: 30 },
    page: { type: 'integer', default: 1 },
  },
} as const;

/** `paths['/repos/{owner}/{repo}/dispatches'].post` (`repos/create-dispatch-event`): request body schema. */
const CREATE_DISPATCH_EVENT_BODY = {
  type: 'object',
  required: ['event_type'],
  properties: {
    event_type: { type: 'string', minLength: 1, maxLength: 100 },
    client_payload: { type: 'object', additionalProperties: true, maxProperties: 10 },
  },
} as const;

/**
 * OpenAPI 3.0 schema objects are JSON Schema plus a few keywords; the one these use,
 * `nullable`, Ajv 8 implements itself, so strict mode stays on. `coerceTypes` is for query
 * strings only, which carry every value as text.
 */
function compile(schema: object, opts: { coerceTypes?: boolean } = {}) {
  return new Ajv({ strict: true, allErrors: true, coerceTypes: opts.coerceTypes ?? false }).compile(schema);
}

/** The same schema with no properties beyond the ones GitHub documents (Herald's own check). */
function closed<T extends object>(schema: T): T & { additionalProperties: false } {
  return { ...schema, additionalProperties: false };
}

function expectValid(validate: ReturnType<typeof compile>, value: unknown): void {
  const ok = validate(value);
  expect(validate.errors ?? [], JSON.stringify(value)).toEqual([]);
  expect(ok).toBe(true);
}

const sink = useSink();

function config(type: 'github' | 'githubdispatch', overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  return testProviderConfig({ type, address: `${sink().url}/org/repo`, token: 'ghp_schemaTestToken', ...overrides });
}

describe('github commit status against GitHub’s OpenAPI description', () => {
  const body = compile(CREATE_COMMIT_STATUS_BODY);
  const strictBody = compile(closed(CREATE_COMMIT_STATUS_BODY));
  const listQuery = compile(closed(LIST_COMMIT_STATUSES_QUERY), { coerceTypes: true });

  it('the schema excerpt rejects what GitHub rejects', () => {
    expect(body({ state: 'succeeded' })).toBe(false);
    expect(body({ description: 'no state' })).toBe(false);
    expect(body({ state: 'success', context: 7 })).toBe(false);
    expect(body({ state: 'success', description: null })).toBe(true);
    expect(strictBody({ state: 'success', extra: true })).toBe(false);
  });

  it.each<[string, FluxEvent]>([
    ['an error event with tricky text', trickyEvent()],
    ['an info event', trickyEvent({ severity: 'info', reason: 'ReconciliationSucceeded' })],
    ['a commit status update', kustomizationEvent({ metadata: { revision: `main@sha1:${SHA}`, commit_status: 'update' } })],
  ])('posts a valid create-commit-status body for %s, after a valid list call', async (_what, event) => {
    answerListThenPost([]);
    const [list, post] = await deliver(github, config('github'), event);

    const listUrl = new URL(list!.url, 'http://sink');
    expect(list!.method).toBe('GET');
    expect(listUrl.pathname).toMatch(new RegExp(`^/api/v3/repos/org/repo/commits/${SHA}/statuses$`));
    expectValid(listQuery, Object.fromEntries(listUrl.searchParams));

    expect(post!.method).toBe('POST');
    expect(post!.url).toBe(`/api/v3/repos/org/repo/statuses/${SHA}`);
    expect(post!.headers['content-type']).toBe('application/json');
    const sent = JSON.parse(post!.body) as unknown;
    expectValid(body, sent);
    expectValid(strictBody, sent);
  });
});

describe('githubdispatch against GitHub’s OpenAPI description', () => {
  const body = compile(CREATE_DISPATCH_EVENT_BODY);

  it('posts a valid create-dispatch-event body, the Flux event within the 10 top-level properties allowed', async () => {
    const [post] = await deliver(githubdispatch, config('githubdispatch'), trickyEvent());
    expect(post!.url).toBe('/api/v3/repos/org/repo/dispatches');
    expectValid(body, JSON.parse(post!.body));
    expectValid(compile(closed(CREATE_DISPATCH_EVENT_BODY)), JSON.parse(post!.body));
  });
});
