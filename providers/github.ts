/**
 * `github`: a commit status through GitHub's REST API, as Flux's notification-controller posts it.
 *
 * - `spec.address` is the repository, `https://github.com/<owner>/<repo>` (api.github.com), or
 *   any other host, taken as GitHub Enterprise (`<scheme>://<host>/api/v3`).
 * - The token comes from the Secret's `token` key (its `password` key as a fallback), sent as a
 *   Bearer token. GitHub App credentials are not supported yet.
 * - `Progressing` events are skipped. State: `success` for info, `failure` for error events.
 * - The statuses of the commit are listed first (one page of 50, newest first) and nothing is
 *   posted when the newest status with the same context has the same state and description.
 */
import {
  PROGRESSING_REASON,
  commitSha,
  commitStatusExprMessage,
  commitStatusId,
  parseGitAddress,
  parseJson,
  seg,
  statusDescription,
} from './commit-status.js';
import { DeliveryError } from './http.js';
import type { ProviderAdapter, ProviderConfig } from './types.js';

export interface GitHubRepo {
  /** API root without a trailing slash: `https://api.github.com` or `<host>/api/v3`. */
  apiBase: string;
  owner: string;
  repo: string;
}

/** Resolves the API root and repository from `spec.address`; undefined when it names no `owner/repo`. */
export function githubRepo(address: string): GitHubRepo | undefined {
  const parsed = parseGitAddress(address);
  if (!parsed) return undefined;
  const parts = parsed.id.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  const host = new URL(parsed.host).host;
  const apiBase = host === 'github.com' ? 'https://api.github.com' : `${parsed.host}/api/v3`;
  return { apiBase, owner: parts[0], repo: parts[1] };
}

export function githubToken(config: ProviderConfig): string | undefined {
  return config.token || config.password || undefined;
}

/** Headers GitHub's REST API expects on every call. */
export function githubHeaders(token: string): Record<string, string> {
  return {
    accept: 'application/vnd.github+json',
    authorization: `Bearer ${token}`,
    'x-github-api-version': '2022-11-28',
  };
}

function toGitHubState(severity: string): string {
  switch (severity) {
    case 'info':
      return 'success';
    case 'error':
      return 'failure';
    default:
      throw new DeliveryError(`cannot convert severity ${JSON.stringify(severity)} to a GitHub commit state`, false);
  }
}

interface GitHubStatus {
  state?: unknown;
  description?: unknown;
  context?: unknown;
}

/** True when the newest status with the same context already has this state and description. */
export function duplicateGitHubStatus(existing: unknown, wanted: { state: string; description: string; context: string }): boolean {
  if (!Array.isArray(existing)) return false;
  for (const s of existing as GitHubStatus[]) {
    if (typeof s?.context !== 'string' || typeof s.state !== 'string' || typeof s.description !== 'string') continue;
    if (s.context === wanted.context) return s.state === wanted.state && s.description === wanted.description;
  }
  return false;
}

export const github: ProviderAdapter = {
  type: 'github',
  commitStatus: true,
  validate(config) {
    const expr = commitStatusExprMessage(config);
    if (expr) return expr;
    if (!githubRepo(config.address)) {
      return `spec.address ${JSON.stringify(config.address)} is not a GitHub repository address: expected https://<host>/<owner>/<repo>`;
    }
    if (!githubToken(config)) {
      if (config.secret['githubAppID']) return 'GitHub App authentication (githubAppID in spec.secretRef) is not supported yet: use a `token`';
      return 'github needs a personal access token in the `token` key of spec.secretRef';
    }
    return undefined;
  },
  async send(event, { config, http }) {
    if (event.reason === PROGRESSING_REASON) return;
    const repo = githubRepo(config.address);
    const token = githubToken(config);
    if (!repo || !token) throw new DeliveryError(github.validate?.(config) ?? 'invalid github provider', false);

    const sha = commitSha(event);
    const wanted = { state: toGitHubState(event.severity), description: statusDescription(event), context: commitStatusId(config, event) };
    const base = `${repo.apiBase}/repos/${seg(repo.owner)}/${seg(repo.repo)}`;
    const headers = githubHeaders(token);

    const listed = await http.send({ method: 'GET', url: `${base}/commits/${sha}/statuses?per_page=50`, headers });
    if (duplicateGitHubStatus(parseJson(http, listed.body, 'list commit statuses'), wanted)) return;

    await http.send({ method: 'POST', url: `${base}/statuses/${sha}`, headers, json: wanted });
  },
};
