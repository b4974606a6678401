/**
 * `githubdispatch`: a `repository_dispatch` event on the repository in the address
 * (`https://github.com/<owner>/<repo>`, also `.git`, `ssh://` and `git@host:owner/repo` forms),
 * `POST <api>/repos/<owner>/<repo>/dispatches` with the token from the Secret. `event_type` is
 * `Kind/name.namespace` (kind as is) and `client_payload` the Flux event itself, serialised as
 * Flux serialises it. github.com goes to `https://api.github.com/`; any other host is GitHub
 * Enterprise, `<scheme>://<host>/api/v3/` (which is also how a test points it at a local sink).
 * Commit-status update events are skipped. GitHub App authentication is not supported (yet):
 * the Secret must have a `token`.
 */
import type { FluxEvent } from '../src/events/event.js';
import { RawJson, sendGoJson } from './chat-format.js';
import type { ProviderAdapter } from './types.js';
import { fluxEventJson } from '../src/events/wire.js';

export interface GitRepository {
  /** `scheme://host[:port]` of the Git server (ssh becomes https). */
  host: string;
  owner: string;
  repo: string;
}

/** Parses a repository address the way Flux's parseGitAddress does; undefined when unusable. */
export function parseRepositoryAddress(address: string): GitRepository | undefined {
  let host: string;
  let path: string;
  const scp = /^[^@/\s]+@([^:/\s]+):(.+)$/.exec(address);
  if (scp && !address.includes('://')) {
    host = `https://${scp[1]}`;
    path = scp[2] ?? '';
  } else {
    let url: URL;
    try {
      url = new URL(address);
    } catch {
      return undefined;
    }
    const scheme = url.protocol === 'ssh:' ? 'https:' : url.protocol;
    host = `${scheme}//${url.host}`;
    path = decodeURIComponent(url.pathname);
  }
  const id = path.replace(/^\/+/, '').replace(/\.git$/, '');
  const parts = id.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  return { host, owner: parts[0], repo: parts[1] };
}

/** The REST API base for a Git host: api.github.com, or GitHub Enterprise's `/api/v3/`. */
export function githubApiBase(host: string): string {
  return new URL(host).host === 'github.com' ? 'https://api.github.com/' : `${host}/api/v3/`;
}

export function dispatchEventType(event: FluxEvent): string {
  const { kind, name, namespace = '' } = event.involvedObject;
  return `${kind}/${name}.${namespace}`;
}

export const githubdispatch: ProviderAdapter = {
  type: 'githubdispatch',
  validate(config) {
    if (!parseRepositoryAddress(config.address)) {
      return 'githubdispatch needs the repository URL in the address, such as https://github.com/<owner>/<repo>';
    }
    if (!config.token) {
      return 'githubdispatch needs a GitHub token in the `token` key of spec.secretRef (GitHub App authentication is not supported)';
    }
    return undefined;
  },
  async send(event, { config, http }) {
    if (event.metadata?.commit_status === 'update') return;
    const repository = parseRepositoryAddress(config.address);
    if (!repository) throw new Error('githubdispatch: the address is not a repository URL');
    const { host, owner, repo } = repository;
    const payload = { event_type: dispatchEventType(event), client_payload: new RawJson(fluxEventJson(event)) };
    await sendGoJson(http, `${githubApiBase(host)}repos/${owner}/${repo}/dispatches`, payload, {
      accept: 'application/vnd.github.v3+json',
      authorization: `Bearer ${config.token ?? ''}`,
      'x-github-api-version': '2022-11-28',
    });
  },
};
