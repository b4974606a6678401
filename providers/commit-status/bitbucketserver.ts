/**
 * `bitbucketserver`: a build status on a commit through Bitbucket Server / Data Center's REST
 * API, as Flux's notification-controller posts it.
 *
 * - `spec.address` is the repository's http(s) clone URL,
 *   `https://<host>/scm/<project key>/<repo slug>.git`; the API is
 *   `<scheme>://<host>/rest/api/latest/projects/<key>/repos/<slug>/commits/<sha>/builds`.
 * - Auth: the Secret's `token` as a Bearer token, otherwise Basic with its `username` and
 *   `password`. Every call carries `X-Atlassian-Token: no-check` and
 *   `X-Requested-With: XMLHttpRequest`.
 * - `Progressing` events are skipped. State: `SUCCESSFUL` for info, `FAILED` for error events.
 * - Name `<kind>/<name> [<description>]`; key: the SHA-1 of the status id. The status with that
 *   key is fetched first and nothing is posted when key, state, description and name are the
 *   same; a failed look-up with an HTTP answer (404 included) just means "post it".
 */
import { basicAuth } from '../http.js';
import type { ProviderConfig } from '../types.js';
import { commitStatusAdapter, type CommitStatus } from './flow.js';
import { seg, sha1Hex } from './shared.js';

export interface BitbucketServerRepo {
  host: string;
  projectKey: string;
  repoSlug: string;
}

export function bitbucketServerRepo(address: string): BitbucketServerRepo | undefined {
  let url: URL;
  try {
    url = new URL(address.trim());
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  const path = decodeURIComponent(url.pathname);
  if (!path.startsWith('/scm/')) return undefined;
  const parts = path.slice('/scm/'.length).replace(/\.git$/, '').split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  return { host: url.origin, projectKey: parts[0], repoSlug: parts[1] };
}

interface BuildStatus {
  key?: unknown;
  state?: unknown;
  description?: unknown;
  name?: unknown;
}

function authorization(config: ProviderConfig): string | undefined {
  if (config.token) return `Bearer ${config.token}`;
  if (config.username && config.password) return basicAuth(config.username, config.password);
  return undefined;
}

/** Bitbucket Server's build name and key for a status. */
function build(s: CommitStatus): { key: string; name: string } {
  return { key: sha1Hex(s.id), name: `${s.name} [${s.description}]` };
}

export const bitbucketServer = commitStatusAdapter({
  type: 'bitbucketserver',
  repository: { parse: bitbucketServerRepo, what: 'a Bitbucket Server repository', expected: 'https://<host>/scm/<project>/<repo>.git' },
  base: (repo) => `${repo.host}/rest/api/latest/projects/${seg(repo.projectKey)}/repos/${seg(repo.repoSlug)}`,
  headers(config) {
    const auth = authorization(config);
    if (!auth) return 'bitbucketserver needs a `token`, or a `username` and `password`, in spec.secretRef';
    return { authorization: auth, 'x-atlassian-token': 'no-check', 'x-requested-with': 'XMLHttpRequest' };
  },
  states: { info: 'SUCCESSFUL', error: 'FAILED' },
  stateWhat: 'a Bitbucket Server build state',
  lookup: {
    kind: 'single-lenient',
    url: (base, s) => `${base}/commits/${s.sha}/builds?key=${encodeURIComponent(build(s).key)}`,
    duplicate(answer, s) {
      const existing = answer as BuildStatus | null;
      const { key, name } = build(s);
      return Boolean(existing) && existing!.key === key && existing!.state === s.state && existing!.description === s.description && existing!.name === name;
    },
  },
  post: {
    url: (base, s) => `${base}/commits/${s.sha}/builds`,
    body: (s, config) => ({ description: s.description, ...build(s), state: s.state, url: config.address }),
  },
});
