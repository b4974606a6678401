/**
 * `azuredevops`: a commit status through Azure DevOps' Git REST API, as Flux's
 * notification-controller posts it.
 *
 * - `spec.address` is the repository, `https://dev.azure.com/<org>/<project>/_git/<repo>`; calls
 *   go to `<scheme>://<host>/<org>/<project>/_apis/git/repositories/<repo>/commits/<sha>/statuses`.
 * - The Secret's `token` is a personal access token, sent as Basic auth with an empty username.
 * - `Progressing` events are skipped. State: `succeeded` for info, `error` for error events.
 * - Context: genre `fluxcd` (`fluxcd:<summary>` when the notification carries a `summary`
 *   metadata key, so one commit can hold a status per cluster), name the status id. The commit's statuses are listed first and
 *   nothing is posted when the first one with the same context has the same state and
 *   description.
 */
import type { FluxEvent } from '../../src/events/event.js';
import { basicAuth } from '../http.js';
import { commitStatusAdapter, type CommitStatus } from './flow.js';
import { newestOfContextMatches, parseGitAddress, seg } from './shared.js';

export const AZURE_DEVOPS_GENRE = 'fluxcd';

/** The status genre: `fluxcd`, or `fluxcd:<summary>` when the metadata has a `summary` key (even empty, as Flux). */
export function azureDevOpsGenre(event: FluxEvent): string {
  const summary = event.metadata?.['summary'];
  return summary === undefined ? AZURE_DEVOPS_GENRE : `${AZURE_DEVOPS_GENRE}:${summary}`;
}
/** The Git statuses API version Flux's Go SDK (azure-devops-go-api v6) uses. */
export const AZURE_DEVOPS_API_VERSION = '6.0-preview.1';

export interface AzureDevOpsRepo {
  /** `<scheme>://<host>/<org>` */
  orgUrl: string;
  project: string;
  repo: string;
}

export function azureDevOpsRepo(address: string): AzureDevOpsRepo | undefined {
  const parsed = parseGitAddress(address);
  if (!parsed) return undefined;
  const parts = parsed.id.split('/');
  if (parts.length !== 4 || parts.some((p) => !p)) return undefined;
  const [org, project, , repo] = parts as [string, string, string, string];
  return { orgUrl: `${parsed.host}/${seg(org)}`, project, repo };
}

interface AzureStatus {
  state?: unknown;
  description?: unknown;
  context?: { name?: unknown; genre?: unknown } | null;
}

export function duplicateAzureDevOpsStatus(
  existing: unknown,
  wanted: { state: string; description: string; context: { genre: string; name: string } },
): boolean {
  return newestOfContextMatches(
    (existing as { value?: unknown } | null)?.value,
    (s: AzureStatus) =>
      typeof s.context?.name === 'string' &&
      typeof s.context.genre === 'string' &&
      typeof s.state === 'string' &&
      typeof s.description === 'string' &&
      s.context.name === wanted.context.name &&
      s.context.genre === wanted.context.genre,
    wanted,
  );
}

function azureStatus(s: CommitStatus): { context: { genre: string; name: string }; description: string; state: string } {
  return { context: { genre: azureDevOpsGenre(s.event), name: s.id }, description: s.description, state: s.state };
}

const statusesUrl = (base: string, s: CommitStatus): string => `${base}/commits/${s.sha}/statuses?api-version=${AZURE_DEVOPS_API_VERSION}`;

export const azureDevOps = commitStatusAdapter({
  type: 'azuredevops',
  repository: { parse: azureDevOpsRepo, what: 'an Azure DevOps repository', expected: 'https://dev.azure.com/<org>/<project>/_git/<repo>' },
  base: (repo) => `${repo.orgUrl}/${seg(repo.project)}/_apis/git/repositories/${seg(repo.repo)}`,
  headers(config) {
    if (!config.token) return 'azuredevops needs a personal access token in the `token` key of spec.secretRef';
    return { authorization: basicAuth('', config.token), accept: 'application/json' };
  },
  states: { info: 'succeeded', error: 'error' },
  stateWhat: 'an Azure DevOps status state',
  lookup: { kind: 'list', url: statusesUrl, duplicate: (listed, s) => duplicateAzureDevOpsStatus(listed, azureStatus(s)) },
  post: { url: statusesUrl, body: azureStatus },
});
