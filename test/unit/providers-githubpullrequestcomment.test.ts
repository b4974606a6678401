import { describe, expect, it } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { githubPullRequestComment } from '../../providers/githubpullrequestcomment.js';
import type { ProviderConfig } from '../../providers/types.js';
import type { ReceivedRequest, SinkReply } from '../support/sink.js';
import { deliver, failureOf, goJson, REVISION, TRICKY_MESSAGE, trickyEvent, useSink, problemOf } from '../support/adapter-harness.js';
import { testProviderConfig } from '../support/provider-config.js';

const TOKEN = 'ghp_prC0mmentT0ken';
const UID = '0c9c2e41-d2f9-4f9b-9c41-2e0a8e1a6c11';
const MARKER = `<!-- flux-pr-comment-key:${UID}/Kustomization/flux-system/apps -->`;
/** Flux's comment for trickyEvent on pull request 7, written out by hand. */
const BODY = [
  MARKER,
  '',
  '## Flux Status',
  '',
  '⚠️ Kustomization/flux-system/apps',
  '',
  TRICKY_MESSAGE,
  '',
  'Metadata:',
  '* `env`: prod\nblue_green',
  '* `owner.team`: Équipe (ops) #1',
  `* \`revision\`: ${REVISION}`,
  '* `summary`: Cluster "prod-eu" *critical*',
  '',
].join('\n');

const sink = useSink();

function config(overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  return testProviderConfig({ type: 'githubpullrequestcomment', uid: UID, address: `${sink().url}/org/repo`, token: TOKEN, ...overrides });
}

const event = (overrides: Partial<FluxEvent> = {}) =>
  trickyEvent({ metadata: { ...trickyEvent().metadata, change_request: '7' }, ...overrides });

/** The GitHub API: `/user` is `flux-bot`, the pull request's comments are `comments`. */
function github(comments: unknown[], write: SinkReply = { status: 201, body: '{}' }): void {
  sink().respondWith((req: ReceivedRequest) => {
    if (req.method !== 'GET') return write;
    if (req.url.endsWith('/user')) return { status: 200, body: JSON.stringify({ login: 'flux-bot', id: 1 }) };
    return { status: 200, body: JSON.stringify(comments) };
  });
}

describe('githubpullrequestcomment adapter: golden requests', () => {
  it('finds the account, lists the comments, and creates the comment when none is its own', async () => {
    github([
      { id: 11, user: { login: 'someone-else' }, body: `quoting ${MARKER}` },
      { id: 12, user: { login: 'flux-bot' }, body: 'an unrelated comment' },
    ]);
    const requests = await deliver(githubPullRequestComment, config(), event());

    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /api/v3/user',
      'GET /api/v3/repos/org/repo/issues/7/comments?direction=asc&per_page=100&sort=created',
      'POST /api/v3/repos/org/repo/issues/7/comments',
    ]);
    for (const r of requests) expect(r.headers['authorization']).toBe(`Bearer ${TOKEN}`);
    const post = requests[2]!;
    expect(post.headers['content-type']).toBe('application/json');
    expect(post.body).toBe(goJson({ body: BODY }));
    expect(post.body).toContain('"\\u003c!-- flux-pr-comment-key:');
  });

  it('edits its own comment for the object instead of adding another', async () => {
    github([
      { id: 21, user: { login: 'flux-bot' }, body: `<!-- flux-pr-comment-key:${UID}/Kustomization/flux-system/other -->` },
      { id: 22, user: { login: 'flux-bot' }, body: `${MARKER}\n\nold text` },
      { id: 23, user: { login: 'flux-bot' }, body: `${MARKER}\n\na later duplicate` },
    ]);
    const requests = await deliver(githubPullRequestComment, config(), event({ severity: 'info', message: 'Applied' }));
    expect(requests.map((r) => `${r.method} ${r.url}`).slice(2)).toEqual(['PATCH /api/v3/repos/org/repo/issues/comments/22']);
    expect(JSON.parse(requests[2]!.body).body).toMatch(/^<!-- flux-pr-comment-key:[^\n]+ -->\n\n## Flux Status\n\nℹ️ Kustomization\/flux-system\/apps\n\nApplied\n\nMetadata:\n/);
  });

  it('uses api.github.com for github.com addresses', async () => {
    expect(problemOf(githubPullRequestComment, config({ address: 'https://github.com/org/repo' }))).toBeUndefined();
  });
});

describe('githubpullrequestcomment adapter: failures', () => {
  it('fails without retry and without a request when the change request number is missing or not a number', async () => {
    const missing = await failureOf(deliver(githubPullRequestComment, config(), trickyEvent()));
    expect(missing.retryable).toBe(false);
    expect(missing.message).toMatch(/missing "change_request"/);
    const invalid = await failureOf(deliver(githubPullRequestComment, config(), event({ metadata: { change_request: 'abc' } })));
    expect(invalid.retryable).toBe(false);
    expect(sink().requests).toHaveLength(0);
  });

  it('classifies the write failing with 5xx as retryable, masking the token', async () => {
    github([], { status: 503, body: `unavailable ${TOKEN}` });
    const err = await failureOf(deliver(githubPullRequestComment, config(), event()));
    expect(err.retryable).toBe(true);
    expect(err.message).not.toContain(TOKEN);
  });

  it('fails without retry on bad credentials', async () => {
    sink().respondWith(() => ({ status: 401, body: '{"message":"Bad credentials"}' }));
    const err = await failureOf(deliver(githubPullRequestComment, config(), event()));
    expect(err.retryable).toBe(false);
    expect(sink().requests).toHaveLength(1);
  });
});

describe('githubpullrequestcomment adapter: validate', () => {
  it('needs a repository address and a token or GitHub App credentials', () => {
    expect(problemOf(githubPullRequestComment, config())).toBeUndefined();
    expect(problemOf(githubPullRequestComment, config({ address: 'https://github.com/only-owner' }))).toMatch(/spec\.address/);
    expect(problemOf(githubPullRequestComment, config({ token: undefined }))).toMatch(/token.*GitHub App/);
    expect(problemOf(githubPullRequestComment, config({ token: undefined, password: 'p4ssw0rd' }))).toBeUndefined();
  });
});
