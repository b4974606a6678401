/**
 * `gitea`: a commit status through Gitea's (and Forgejo's) REST API, as Flux's
 * notification-controller posts it.
 *
 * - `spec.address` is the repository, `https://<host>/<owner>/<repo>`; the API is
 *   `<scheme>://<host>/api/v1`.
 * - The token (Secret `token`, `password` as a fallback) is sent as `Authorization: token …`.
 * - Unlike the other git providers, `Progressing` events are posted, as `pending`; info events
 *   are `success`, error events `failure`.
 * - The commit's statuses are listed first (one page of 50) and nothing is posted when the
 *   newest one with the same context has the same state and description.
 */
import { commitStatusAdapter } from './flow.js';
import { newestOfContextMatches, ownerRepoServedBy, seg, tokenOrPassword, type ApiRepository } from './shared.js';

export function giteaRepo(address: string): ApiRepository | undefined {
  return ownerRepoServedBy(address, (host) => `${host}/api/v1`);
}

interface GiteaStatus {
  state?: unknown;
  description?: unknown;
  context?: unknown;
}

const filled = (value: unknown): boolean => typeof value === 'string' && value !== '';

/** As GitHub's, but statuses with an empty context, state or description are passed over. */
export function duplicateGiteaStatus(existing: unknown, wanted: { state: string; description: string; context: string }): boolean {
  return newestOfContextMatches(
    existing,
    (s: GiteaStatus) => filled(s.context) && filled(s.state) && filled(s.description) && s.context === wanted.context,
    wanted,
  );
}

export const gitea = commitStatusAdapter({
  type: 'gitea',
  repository: { parse: giteaRepo, what: 'a Gitea repository', expected: 'https://<host>/<owner>/<repo>' },
  base: (repo) => `${repo.apiBase}/repos/${seg(repo.owner)}/${seg(repo.repo)}`,
  headers(config) {
    const token = tokenOrPassword(config);
    return token ? { authorization: `token ${token}` } : 'gitea needs an access token in the `token` key of spec.secretRef';
  },
  states: { info: 'success', error: 'failure', progressing: 'pending' },
  stateWhat: 'a Gitea commit state',
  lookup: {
    kind: 'list',
    url: (base, s) => `${base}/commits/${s.sha}/statuses?limit=50&page=1`,
    duplicate: (listed, s) => duplicateGiteaStatus(listed, { state: s.state, description: s.description, context: s.id }),
  },
  post: {
    url: (base, s) => `${base}/statuses/${s.sha}`,
    body: (s) => ({ state: s.state, target_url: '', description: s.description, context: s.id }),
  },
});
