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
  commitStatusExprMessage,
  commitStatusId,
  parseGitAddress,
  parseJson,
  statusDescription,
} from './commit-status.js';
import { DeliveryError } from './http.js';
import type { ProviderAdapter, ProviderConfig } from './types.js';

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

function gitlabToken(config: ProviderConfig): string | undefined {
  return config.token || config.password || undefined;
}

function toGitLabState(severity: string): string {
  switch (severity) {
    case 'info':
      return 'success';
    case 'error':
      return 'failed';
    default:
      throw new DeliveryError(`cannot convert severity ${JSON.stringify(severity)} to a GitLab commit state`, false);
  }
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
    const expr = commitStatusExprMessage(config);
    if (expr) return expr;
    if (!gitlabProject(config.address)) {
      return `spec.address ${JSON.stringify(config.address)} is not a GitLab project address: expected https://<host>/<group>/<project>`;
    }
    if (!gitlabToken(config)) return 'gitlab needs an access token in the `token` key of spec.secretRef';
    return undefined;
  },
  async send(event, { config, http }) {
    if (event.reason === PROGRESSING_REASON) return;
    const project = gitlabProject(config.address);
    const token = gitlabToken(config);
    if (!project || !token) throw new DeliveryError(gitlab.validate?.(config) ?? 'invalid gitlab provider', false);

    const sha = commitSha(event);
    const state = toGitLabState(event.severity);
    const description = statusDescription(event);
    const name = commitStatusId(config, event);
    const base = `${project.apiBase}/projects/${gitlabPathEscape(project.id)}`;
    const headers = { 'private-token': token };

    const listed = await http.send({
      method: 'GET',
      url: `${base}/repository/commits/${sha}/statuses?name=${encodeURIComponent(name)}`,
      headers,
    });
    if (duplicateGitLabStatus(parseJson(http, listed.body, 'list commit statuses'), { sha, status: state, description, name })) return;

    await http.send({ method: 'POST', url: `${base}/statuses/${sha}`, headers, json: { state, name, description } });
  },
};
