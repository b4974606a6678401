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
import type { FluxEvent } from '../src/events/event.js';
import type { ProviderAdapter, ProviderConfig } from './types.js';

export interface GiteaRepo {
  apiBase: string;
  owner: string;
  repo: string;
}

export function giteaRepo(address: string): GiteaRepo | undefined {
  const parsed = parseGitAddress(address);
  if (!parsed) return undefined;
  const parts = parsed.id.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  return { apiBase: `${parsed.host}/api/v1`, owner: parts[0], repo: parts[1] };
}

function giteaToken(config: ProviderConfig): string | undefined {
  return config.token || config.password || undefined;
}

function toGiteaState(event: FluxEvent): string {
  if (event.reason === PROGRESSING_REASON) return 'pending';
  switch (event.severity) {
    case 'info':
      return 'success';
    case 'error':
      return 'failure';
    default:
      throw new DeliveryError(`cannot convert severity ${JSON.stringify(event.severity)} to a Gitea commit state`, false);
  }
}

interface GiteaStatus {
  state?: unknown;
  description?: unknown;
  context?: unknown;
}

export function duplicateGiteaStatus(existing: unknown, wanted: { state: string; description: string; context: string }): boolean {
  if (!Array.isArray(existing)) return false;
  for (const s of existing as GiteaStatus[]) {
    if (typeof s?.context !== 'string' || typeof s.state !== 'string' || typeof s.description !== 'string') continue;
    if (!s.context || !s.state || !s.description) continue;
    if (s.context === wanted.context) return s.state === wanted.state && s.description === wanted.description;
  }
  return false;
}

export const gitea: ProviderAdapter = {
  type: 'gitea',
  commitStatus: true,
  validate(config) {
    const expr = commitStatusExprMessage(config);
    if (expr) return expr;
    if (!giteaRepo(config.address)) {
      return `spec.address ${JSON.stringify(config.address)} is not a Gitea repository address: expected https://<host>/<owner>/<repo>`;
    }
    if (!giteaToken(config)) return 'gitea needs an access token in the `token` key of spec.secretRef';
    return undefined;
  },
  async send(event, { config, http }) {
    const repo = giteaRepo(config.address);
    const token = giteaToken(config);
    if (!repo || !token) throw new DeliveryError(gitea.validate?.(config) ?? 'invalid gitea provider', false);

    const sha = commitSha(event);
    const state = toGiteaState(event);
    const description = statusDescription(event);
    const context = commitStatusId(config, event);
    const base = `${repo.apiBase}/repos/${seg(repo.owner)}/${seg(repo.repo)}`;
    const headers = { authorization: `token ${token}` };

    const listed = await http.send({ method: 'GET', url: `${base}/commits/${sha}/statuses?limit=50&page=1`, headers });
    if (duplicateGiteaStatus(parseJson(http, listed.body, 'list commit statuses'), { state, description, context })) return;

    await http.send({
      method: 'POST',
      url: `${base}/statuses/${sha}`,
      headers,
      json: { state, target_url: '', description, context },
    });
  },
};
