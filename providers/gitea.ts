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
  commitState,
  commitStatusId,
  invalidProvider,
  listStatuses,
  newestOfContextMatches,
  parseOwnerRepo,
  repositoryProblem,
  seg,
  statusDescription,
  tokenOrPassword,
} from './commit-status.js';
import type { FluxEvent } from '../src/events/event.js';
import type { ProviderAdapter } from './types.js';

export interface GiteaRepo {
  apiBase: string;
  owner: string;
  repo: string;
}

export function giteaRepo(address: string): GiteaRepo | undefined {
  const parsed = parseOwnerRepo(address);
  if (!parsed) return undefined;
  return { apiBase: `${parsed.host}/api/v1`, owner: parsed.owner, repo: parsed.repo };
}

function toGiteaState(event: FluxEvent): string {
  if (event.reason === PROGRESSING_REASON) return 'pending';
  return commitState(event.severity, { info: 'success', error: 'failure' }, 'a Gitea commit state');
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

export const gitea: ProviderAdapter = {
  type: 'gitea',
  commitStatus: true,
  validate(config) {
    const problem = repositoryProblem(config, giteaRepo, 'a Gitea repository', 'https://<host>/<owner>/<repo>');
    if (problem) return problem;
    if (!tokenOrPassword(config)) return 'gitea needs an access token in the `token` key of spec.secretRef';
    return undefined;
  },
  async send(event, { config, http }) {
    const repo = giteaRepo(config.address);
    const token = tokenOrPassword(config);
    if (!repo || !token) throw invalidProvider(gitea, config);

    const sha = commitSha(event);
    const state = toGiteaState(event);
    const description = statusDescription(event);
    const context = commitStatusId(config, event);
    const base = `${repo.apiBase}/repos/${seg(repo.owner)}/${seg(repo.repo)}`;
    const headers = { authorization: `token ${token}` };

    const listed = await listStatuses(http, `${base}/commits/${sha}/statuses?limit=50&page=1`, headers);
    if (duplicateGiteaStatus(listed, { state, description, context })) return;

    await http.send({
      method: 'POST',
      url: `${base}/statuses/${sha}`,
      headers,
      json: { state, target_url: '', description, context },
    });
  },
};
