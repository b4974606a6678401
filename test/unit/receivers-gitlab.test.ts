import { describe, expect, it } from 'vitest';
import { TOKEN, receiverHarness, receiverManifest } from '../support/receivers.js';

// GitLab's "Push Hook" (docs: webhook events, push events), trimmed.
const PUSH_HOOK = JSON.stringify({
  object_kind: 'push',
  event_name: 'push',
  before: '95790bf891e76fee5e1747ab589903a6a1f80f22',
  after: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
  ref: 'refs/heads/main',
  checkout_sha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
  project: { id: 15, name: 'webapp', path_with_namespace: 'example/webapp', default_branch: 'main' },
  total_commits_count: 1,
});

const gitlab = () => receiverHarness({ manifest: receiverManifest('gitlab', { events: ['Push Hook', 'Tag Push Hook'] }) });

describe('gitlab receiver', () => {
  it('accepts a Push Hook carrying the token in X-Gitlab-Token', async () => {
    const h = gitlab();
    const res = await h.send({ payload: PUSH_HOOK, headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': TOKEN } });
    expect(res.statusCode).toBe(200);
    expect(h.reconciled).toEqual(['GitRepository/apps/webapp']);
  });

  it('answers a wrong or missing X-Gitlab-Token with an empty 401', async () => {
    const h = gitlab();
    for (const token of [`${TOKEN}x`, TOKEN.slice(0, -1), undefined]) {
      const res = await h.send({ payload: PUSH_HOOK, headers: { 'x-gitlab-event': 'Push Hook', ...(token !== undefined && { 'x-gitlab-token': token }) } });
      expect(res.statusCode).toBe(401);
      expect(res.body).toBe('');
    }
    expect(h.reconciled).toEqual([]);
  });

  it('refuses an X-Gitlab-Event outside spec.events with 400', async () => {
    const h = gitlab();
    const res = await h.send({ payload: '{"object_kind":"merge_request"}', headers: { 'x-gitlab-event': 'Merge Request Hook', 'x-gitlab-token': TOKEN } });
    expect(res.statusCode).toBe(400);
    expect(h.reconciled).toEqual([]);
  });
});
