/**
 * `githubdispatch`: a `repository_dispatch` event on the repository in the address
 * (`https://github.com/<owner>/<repo>`, also `.git`, `ssh://` and `git@host:owner/repo` forms),
 * `POST <api>/repos/<owner>/<repo>/dispatches` with the token from the Secret. `event_type` is
 * `Kind/name.namespace` (kind as is) and `client_payload` the Flux event itself, serialised as
 * Flux serialises it. github.com goes to `https://api.github.com/`; any other host is GitHub
 * Enterprise, `<scheme>://<host>/api/v3/` (which is also how a test points it at a local sink).
 * Commit-status update events are skipped. The Secret has a `token`, or GitHub App credentials
 * (`./github-app.js`).
 */
import type { FluxEvent } from '../src/events/event.js';
import { isCommitStatusUpdate, RawJson, sendGoJson } from './chat-format.js';
import { githubBearer, githubCredentialsProblem } from './github-app.js';
import { prepared, problem, type ProviderAdapter } from './types.js';
import { githubApiRoot, parseOwnerRepo } from './commit-status/shared.js';
import { fluxEventJson } from '../src/events/wire.js';

/** GitHub's API root for a repository host, with a trailing slash: api.github.com, or `<host>/api/v3/` (Enterprise). */
export function githubApiBase(host: string): string {
  return `${githubApiRoot(host)}/`;
}

export function dispatchEventType(event: FluxEvent): string {
  const { kind, name, namespace = '' } = event.involvedObject;
  return `${kind}/${name}.${namespace}`;
}

export const githubdispatch: ProviderAdapter<{ url: string; headers: Record<string, string> }> = {
  type: 'githubdispatch',
  prepare(config) {
    const repository = parseOwnerRepo(config.address);
    if (!repository) return problem('githubdispatch needs the repository URL in the address, such as https://github.com/<owner>/<repo>');
    const credentials = githubCredentialsProblem(config, { passwordFallback: false });
    if (credentials) return problem(credentials);
    const { host, owner, repo } = repository;
    return prepared({
      url: `${githubApiBase(host)}repos/${owner}/${repo}/dispatches`,
      headers: { accept: 'application/vnd.github.v3+json', 'x-github-api-version': '2022-11-28' },
    });
  },
  async send(event, { config, prepared: { url, headers }, http }) {
    if (isCommitStatusUpdate(event)) return;
    // A token from the Secret as it is, or a GitHub App installation token (cached until near expiry).
    const { token } = await githubBearer(config, http, { passwordFallback: false });
    const payload = { event_type: dispatchEventType(event), client_payload: new RawJson(fluxEventJson(event)) };
    await sendGoJson(http, url, payload, { ...headers, authorization: `Bearer ${token}` });
  },
};
