import { describe, expect, it } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { giteaPullRequestComment } from '../../providers/giteapullrequestcomment.js';
import type { ProviderConfig } from '../../providers/types.js';
import type { ReceivedRequest, SinkReply } from '../support/sink.js';
import { deliver, failureOf, goJson, REVISION, useSink, problemOf } from '../support/adapter-harness.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';

const TOKEN = 'gitea-prC0mmentT0ken';
const UID = '0c9c2e41-d2f9-4f9b-9c41-2e0a8e1a6c11';
const MARKER = `<!-- flux-pr-comment-key:${UID}/Kustomization/flux-system/apps -->`;

const sink = useSink();

function config(overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  return testProviderConfig({ type: 'giteapullrequestcomment', uid: UID, address: `${sink().url}/org/repo`, token: TOKEN, ...overrides });
}

const event = (overrides: Partial<FluxEvent> = {}) =>
  kustomizationEvent({ message: 'Applied', metadata: { revision: REVISION, change_request: '3' }, ...overrides });

/** The Gitea API: `/user` is `flux`, the pull request's comments are `comments`. */
function gitea(comments: unknown[], write: SinkReply = { status: 201, body: '{}' }): void {
  sink().respondWith((req: ReceivedRequest) => {
    if (req.method !== 'GET') return write;
    if (req.url.endsWith('/user')) return { status: 200, body: JSON.stringify({ login: 'flux', id: 1 }) };
    return { status: 200, body: JSON.stringify(comments) };
  });
}

describe('giteapullrequestcomment adapter: golden requests', () => {
  it('finds the account, lists the comments, and creates the comment', async () => {
    gitea([]);
    const requests = await deliver(giteaPullRequestComment, config(), event());
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /api/v1/user',
      'GET /api/v1/repos/org/repo/issues/3/comments?limit=100&page=1',
      'POST /api/v1/repos/org/repo/issues/3/comments',
    ]);
    for (const r of requests) expect(r.headers['authorization']).toBe(`token ${TOKEN}`);
    const body = `${MARKER}\n\n## Flux Status\n\nℹ️ Kustomization/flux-system/apps\n\nApplied\n\nMetadata:\n* \`revision\`: ${REVISION}\n`;
    expect(requests[2]!.body).toBe(goJson({ body }));
  });

  it('edits its own comment with PATCH, passing over comments without a poster', async () => {
    gitea([
      { id: 8, user: null, body: MARKER },
      { id: 9, user: { login: 'flux' }, body: `${MARKER}\nold` },
    ]);
    const requests = await deliver(giteaPullRequestComment, config(), event());
    expect(`${requests[2]!.method} ${requests[2]!.url}`).toBe('PATCH /api/v1/repos/org/repo/issues/comments/9');
  });
});

describe('giteapullrequestcomment adapter: failures and validate', () => {
  it('fails without retry on a missing pull request number', async () => {
    const err = await failureOf(deliver(giteaPullRequestComment, config(), event({ metadata: {} })));
    expect(err.retryable).toBe(false);
    expect(sink().requests).toHaveLength(0);
  });

  it('needs a repository address and a token', () => {
    expect(problemOf(giteaPullRequestComment, config())).toBeUndefined();
    expect(problemOf(giteaPullRequestComment, config({ address: 'https://gitea.example/a/b/c' }))).toMatch(/spec\.address/);
    expect(problemOf(giteaPullRequestComment, config({ token: undefined }))).toMatch(/token/);
  });
});
