import { describe, expect, it } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { gitlabMergeRequestComment } from '../../providers/gitlabmergerequestcomment.js';
import type { ProviderConfig } from '../../providers/types.js';
import type { ReceivedRequest, SinkReply } from '../support/sink.js';
import { deliver, failureOf, goJson, REVISION, useSink, problemOf } from '../support/adapter-harness.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';

const TOKEN = 'glpat-mrC0mmentT0ken';
const UID = '0c9c2e41-d2f9-4f9b-9c41-2e0a8e1a6c11';
const MARKER = `<!-- flux-mr-comment-key:${UID}/Kustomization/flux-system/apps -->`;

const sink = useSink();

function config(overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  return testProviderConfig({ type: 'gitlabmergerequestcomment', uid: UID, address: `${sink().url}/group/sub/project`, token: TOKEN, ...overrides });
}

const event = (overrides: Partial<FluxEvent> = {}) =>
  kustomizationEvent({ message: 'Applied revision: main@sha1:abc', metadata: { revision: REVISION, change_request: '15' }, ...overrides });

/** The GitLab API: `/user` is `flux`, the merge request's notes are `notes`. */
function gitlab(notes: unknown[], write: SinkReply = { status: 201, body: '{}' }): void {
  sink().respondWith((req: ReceivedRequest) => {
    if (req.method !== 'GET') return write;
    if (req.url.endsWith('/user')) return { status: 200, body: JSON.stringify({ username: 'flux', id: 1 }) };
    return { status: 200, body: JSON.stringify(notes) };
  });
}

const NOTES = '/api/v4/projects/group%2Fsub%2Fproject/merge_requests/15/notes';

describe('gitlabmergerequestcomment adapter: golden requests', () => {
  it('finds the account, lists the notes, and creates the note', async () => {
    gitlab([{ id: 5, author: { username: 'someone' }, body: MARKER }]);
    const requests = await deliver(gitlabMergeRequestComment, config(), event());
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /api/v4/user',
      `GET ${NOTES}?order_by=created_at&per_page=100&sort=asc`,
      `POST ${NOTES}`,
    ]);
    for (const r of requests) expect(r.headers['private-token']).toBe(TOKEN);
    const body = `${MARKER}\n\n## Flux Status\n\nℹ️ Kustomization/flux-system/apps\n\nApplied revision: main@sha1:abc\n\nMetadata:\n* \`revision\`: ${REVISION}\n`;
    expect(requests[2]!.body).toBe(goJson({ body }));
  });

  it('updates its own note with PUT', async () => {
    gitlab([{ id: 6, author: { username: 'flux' }, body: `${MARKER}\n\nold` }]);
    const requests = await deliver(gitlabMergeRequestComment, config(), event({ severity: 'error', message: 'Reconciliation failed' }));
    expect(`${requests[2]!.method} ${requests[2]!.url}`).toBe(`PUT ${NOTES}/6`);
    expect(JSON.parse(requests[2]!.body).body).toContain('\n\n⚠️ Kustomization/flux-system/apps\n\nReconciliation failed\n\n');
  });
});

describe('gitlabmergerequestcomment adapter: failures and validate', () => {
  it('fails without retry on a missing merge request IID', async () => {
    const err = await failureOf(deliver(gitlabMergeRequestComment, config(), event({ metadata: { revision: REVISION } })));
    expect(err.retryable).toBe(false);
    expect(sink().requests).toHaveLength(0);
  });

  it('retries a 500 from the write, masking the token', async () => {
    gitlab([], { status: 500, body: `boom ${TOKEN}` });
    const err = await failureOf(deliver(gitlabMergeRequestComment, config(), event()));
    expect(err.retryable).toBe(true);
    expect(err.message).not.toContain(TOKEN);
  });

  it('needs a project address and a token', () => {
    expect(problemOf(gitlabMergeRequestComment, config())).toBeUndefined();
    expect(problemOf(gitlabMergeRequestComment, config({ token: undefined }))).toMatch(/token/);
  });
});
