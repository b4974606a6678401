/**
 * `github`: a commit status through GitHub's REST API, as Flux's notification-controller posts it.
 *
 * - `spec.address` is the repository, `https://github.com/<owner>/<repo>` (api.github.com), or
 *   any other host, taken as GitHub Enterprise (`<scheme>://<host>/api/v3`).
 * - The token comes from the Secret's `token` key (its `password` key as a fallback), or else
 *   from GitHub App credentials (`./github-app.js`), sent as a Bearer token.
 * - `Progressing` events are skipped. State: `success` for info, `failure` for error events.
 * - The statuses of the commit are listed first (one page of 50, newest first) and nothing is
 *   posted when the newest status with the same context has the same state and description.
 */
import {
  PROGRESSING_REASON,
  commitSha,
  commitState,
  commitStatusId,
  invalidProvider,
  listStatuses,
  newestOfContextMatches,
  parseOwnerRepo,
  repositoryProblem,
  seg,
  statusDescription,
} from './commit-status.js';
import { githubBearer, githubCredentialsProblem } from './github-app.js';
import type { ProviderAdapter } from './types.js';

export interface GitHubRepo {
  /** API root without a trailing slash: `https://api.github.com` or `<host>/api/v3`. */
  apiBase: string;
  owner: string;
  repo: string;
}

/** Resolves the API root and repository from `spec.address`; undefined when it names no `owner/repo`. */
export function githubRepo(address: string): GitHubRepo | undefined {
  const parsed = parseOwnerRepo(address);
  if (!parsed) return undefined;
  const apiBase = new URL(parsed.host).host === 'github.com' ? 'https://api.github.com' : `${parsed.host}/api/v3`;
  return { apiBase, owner: parsed.owner, repo: parsed.repo };
}

/** Headers GitHub's REST API expects on every call. */
export function githubHeaders(token: string): Record<string, string> {
  return {
    accept: 'application/vnd.github+json',
    authorization: `Bearer ${token}`,
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

export const github: ProviderAdapter = {
  type: 'github',
  commitStatus: true,
  validate(config) {
    const problem = repositoryProblem(config, githubRepo, 'a GitHub repository', 'https://<host>/<owner>/<repo>');
    return problem ?? githubCredentialsProblem(config, { passwordFallback: true });
  },
  async send(event, { config, http }) {
    if (event.reason === PROGRESSING_REASON) return;
    const repo = githubRepo(config.address);
    if (!repo) throw invalidProvider(github, config);

    const sha = commitSha(event);
    const wanted = {
      state: commitState(event.severity, { info: 'success', error: 'failure' }, 'a GitHub commit state'),
      description: statusDescription(event),
      context: commitStatusId(config, event),
    };
    const base = `${repo.apiBase}/repos/${seg(repo.owner)}/${seg(repo.repo)}`;
    const headers = githubHeaders((await githubBearer(config, http, { passwordFallback: true })).token);

    const listed = await listStatuses(http, `${base}/commits/${sha}/statuses?per_page=50`, headers);
    if (duplicateGitHubStatus(listed, wanted)) return;

    await http.send({ method: 'POST', url: `${base}/statuses/${sha}`, headers, json: wanted });
  },
};
