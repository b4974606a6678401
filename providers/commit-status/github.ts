/**
 * `github`: a commit status through GitHub's REST API, as Flux's notification-controller posts it.
 *
 * - `spec.address` is the repository, `https://github.com/<owner>/<repo>` (api.github.com), or
 *   any other host, taken as GitHub Enterprise (`<scheme>://<host>/api/v3`).
 * - The token comes from the Secret's `token` key (its `password` key as a fallback), or else
 *   from GitHub App credentials (`../github-app.js`), sent as a Bearer token.
 * - `Progressing` events are skipped. State: `success` for info, `failure` for error events.
 * - The statuses of the commit are listed first (one page of 50, newest first) and nothing is
 *   posted when the newest status with the same context has the same state and description.
 */
import { commitStatusAdapter } from './flow.js';
import { githubBearer, githubCredentialsProblem } from '../github-app.js';
import { githubApiRoot, newestOfContextMatches, ownerRepoServedBy, seg, type ApiRepository } from './shared.js';

/** Resolves the API root and repository from `spec.address`; undefined when it names no `owner/repo`. */
export function githubRepo(address: string): ApiRepository | undefined {
  return ownerRepoServedBy(address, githubApiRoot);
}

/** Headers GitHub's REST API expects on every call (with the token when one is given). */
export function githubHeaders(token?: string): Record<string, string> {
  return {
    accept: 'application/vnd.github+json',
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    'x-github-api-version': '2022-11-28',
  };
}

interface GitHubStatus {
  state?: unknown;
  description?: unknown;
  context?: unknown;
}

/** True when the newest status with the same context already has this state and description. */
export function duplicateGitHubStatus(existing: unknown, wanted: { state: string; description: string; context: string }): boolean {
  return newestOfContextMatches(
    existing,
    (s: GitHubStatus) =>
      typeof s.context === 'string' && typeof s.state === 'string' && typeof s.description === 'string' && s.context === wanted.context,
    wanted,
  );
}

export const github = commitStatusAdapter({
  type: 'github',
  repository: { parse: githubRepo, what: 'a GitHub repository', expected: 'https://<host>/<owner>/<repo>' },
  base: (repo) => `${repo.apiBase}/repos/${seg(repo.owner)}/${seg(repo.repo)}`,
  headers(config) {
    return githubCredentialsProblem(config, { passwordFallback: true }) ?? githubHeaders();
  },
  // A token from the Secret as it is, or an App installation token (cached until near expiry).
  bearer: async (config, http) => (await githubBearer(config, http, { passwordFallback: true })).token,
  states: { info: 'success', error: 'failure' },
  stateWhat: 'a GitHub commit state',
  lookup: {
    kind: 'list',
    url: (base, s) => `${base}/commits/${s.sha}/statuses?per_page=50`,
    duplicate: (listed, s) => duplicateGitHubStatus(listed, { state: s.state, description: s.description, context: s.id }),
  },
  post: {
    url: (base, s) => `${base}/statuses/${s.sha}`,
    body: (s) => ({ state: s.state, description: s.description, context: s.id }),
  },
});
