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
import {
  PROGRESSING_REASON,
  commitSha,
  commitState,
  commitStatusId,
  invalidProvider,
  listStatuses,
  parseGitAddress,
  repositoryProblem,
  statusDescription,
  tokenOrPassword,
} from './commit-status.js';
import type { ProviderAdapter } from './types.js';

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

export const gitlab: ProviderAdapter = {
  type: 'gitlab',
  commitStatus: true,
  validate(config) {
    const problem = repositoryProblem(config, gitlabProject, 'a GitLab project', 'https://<host>/<group>/<project>');
    if (problem) return problem;
    if (!tokenOrPassword(config)) return 'gitlab needs an access token in the `token` key of spec.secretRef';
    return undefined;
  },
  async send(event, { config, http }) {
    if (event.reason === PROGRESSING_REASON) return;
    const project = gitlabProject(config.address);
    const token = tokenOrPassword(config);
    if (!project || !token) throw invalidProvider(gitlab, config);

    const sha = commitSha(event);
    const state = commitState(event.severity, { info: 'success', error: 'failed' }, 'a GitLab commit state');
    const description = statusDescription(event);
    const name = commitStatusId(config, event);
    const base = `${project.apiBase}/projects/${gitlabPathEscape(project.id)}`;
    const headers = { 'private-token': token };

    const listed = await listStatuses(http, `${base}/repository/commits/${sha}/statuses?name=${encodeURIComponent(name)}`, headers);
    if (duplicateGitLabStatus(listed, { sha, status: state, description, name })) return;

    await http.send({ method: 'POST', url: `${base}/statuses/${sha}`, headers, json: { state, name, description } });
  },
};
