/**
 * `gitlab`: a commit status through GitLab's REST API (v4), as Flux's notification-controller
 * posts it.
 *
 * - `spec.address` is the project, `https://<host>/<group>[/<subgroup>…]/<project>`; the API is
 *   `<scheme>://<host>/api/v4` and the project is addressed by its URL-encoded path.
 * - The token (Secret `token`, `password` as a fallback) goes in the `PRIVATE-TOKEN` header.
 * - `Progressing` events are skipped. State: `success` for info, `failed` for error events.
 * - The commit's statuses with the same name are listed first and nothing is posted when one
 *   has the same SHA, state, description and name.
 */
import { commitStatusAdapter } from './flow.js';
import { parseGitAddress, tokenOrPassword } from './shared.js';

export interface GitLabProject {
  apiBase: string;
  /** `group/sub/project`. */
  id: string;
}

export function gitlabProject(address: string): GitLabProject | undefined {
  const parsed = parseGitAddress(address);
  if (!parsed || !parsed.id || parsed.id.split('/').some((p) => p === '')) return undefined;
  return { apiBase: `${parsed.host}/api/v4`, id: parsed.id };
}

/** GitLab's own path escaping for a project id: everything but unreserved characters, and `.` too. */
export function gitlabPathEscape(value: string): string {
  return encodeURIComponent(value).replace(/\./g, '%2E');
}

interface GitLabStatus {
  sha?: unknown;
  status?: unknown;
  description?: unknown;
  name?: unknown;
}

export function duplicateGitLabStatus(
  existing: unknown,
  wanted: { sha: string; status: string; description: string; name: string },
): boolean {
  if (!Array.isArray(existing)) return false;
  return (existing as GitLabStatus[]).some(
    (s) => s?.sha === wanted.sha && s.status === wanted.status && s.description === wanted.description && s.name === wanted.name,
  );
}

export const gitlab = commitStatusAdapter({
  type: 'gitlab',
  repository: { parse: gitlabProject, what: 'a GitLab project', expected: 'https://<host>/<group>/<project>' },
  base: (project) => `${project.apiBase}/projects/${gitlabPathEscape(project.id)}`,
  headers(config) {
    const token = tokenOrPassword(config);
    return token ? { 'private-token': token } : 'gitlab needs an access token in the `token` key of spec.secretRef';
  },
  states: { info: 'success', error: 'failed' },
  stateWhat: 'a GitLab commit state',
  lookup: {
    kind: 'list',
    url: (base, s) => `${base}/repository/commits/${s.sha}/statuses?name=${encodeURIComponent(s.id)}`,
    duplicate: (listed, s) => duplicateGitLabStatus(listed, { sha: s.sha, status: s.state, description: s.description, name: s.id }),
  },
  post: {
    url: (base, s) => `${base}/statuses/${s.sha}`,
    body: (s) => ({ state: s.state, name: s.id, description: s.description }),
  },
});
