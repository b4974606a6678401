/**
 * `bitbucket`: a build status on a commit through Bitbucket Cloud's REST API (2.0), as Flux's
 * notification-controller posts it.
 *
 * - `spec.address` is the repository, `https://bitbucket.org/<workspace>/<repo>`. Bitbucket
 *   Cloud's API lives at `https://api.bitbucket.org/2.0` whatever the address; Herald sends to
 *   `<scheme>://<host>/2.0` when the address names another host (a proxy or a test sink).
 * - The Secret's `token` is `<username>:<app password or API token>`: Basic auth, or a Bearer
 *   token when the username is `x-token-auth` or `x-bitbucket-api-token-auth`.
 * - `Progressing` events are skipped. State: `SUCCESSFUL` for info, `FAILED` for error events.
 * - The key is the SHA-1 of the status id (Bitbucket keys hold 40 characters at most); the
 *   status with that key is fetched first and nothing is posted when its state and
 *   description are the same.
 */
import { basicAuth } from '../http.js';
import { commitStatusAdapter } from './flow.js';
import { ownerRepoServedBy, seg, sha1Hex, type ApiRepository } from './shared.js';

const CLOUD_API = 'https://api.bitbucket.org/2.0';
const BEARER_USERNAMES = new Set(['x-token-auth', 'x-bitbucket-api-token-auth']);

const CLOUD_HOSTS = new Set(['bitbucket.org', 'www.bitbucket.org', 'api.bitbucket.org']);

export function bitbucketRepo(address: string): ApiRepository | undefined {
  return ownerRepoServedBy(address, (host) => (CLOUD_HOSTS.has(new URL(host).hostname) ? CLOUD_API : `${host}/2.0`));
}

/** The Authorization header for `<username>:<password>`, or undefined when the token is not of that form. */
export function bitbucketAuthorization(token: string | undefined): string | undefined {
  const parts = (token ?? '').split(':');
  if (parts.length !== 2) return undefined;
  const [username, password] = parts as [string, string];
  return BEARER_USERNAMES.has(username) ? `Bearer ${password}` : basicAuth(username, password);
}

/** The status key: the SHA-1 of the status id (Bitbucket keys hold 40 characters at most). */
const statusKey = (id: string): string => sha1Hex(id);

export const bitbucket = commitStatusAdapter({
  type: 'bitbucket',
  repository: { parse: bitbucketRepo, what: 'a Bitbucket repository', expected: 'https://bitbucket.org/<workspace>/<repo>' },
  base: (repo) => `${repo.apiBase}/repositories/${seg(repo.owner)}/${seg(repo.repo)}`,
  headers(config) {
    if (!config.token) return 'bitbucket needs `<username>:<app password>` in the `token` key of spec.secretRef';
    const authorization = bitbucketAuthorization(config.token);
    return authorization ? { authorization } : 'the `token` key of spec.secretRef must be `<username>:<app password>` for bitbucket';
  },
  states: { info: 'SUCCESSFUL', error: 'FAILED' },
  stateWhat: 'a Bitbucket build state',
  lookup: {
    kind: 'single',
    url: (base, s) => `${base}/commit/${s.sha}/statuses/build/${statusKey(s.id)}`,
    duplicate(answer, s) {
      const status = answer as { state?: unknown; description?: unknown } | null;
      return status !== null && typeof status === 'object' && status.state === s.state && status.description === s.description;
    },
  },
  post: {
    url: (base, s) => `${base}/commit/${s.sha}/statuses/build`,
    body: (s) => ({ key: statusKey(s.id), url: 'https://bitbucket.org', state: s.state, name: s.name, description: s.description }),
  },
});
