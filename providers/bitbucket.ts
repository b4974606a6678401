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
import { basicAuth } from './http.js';
import {
  PROGRESSING_REASON,
  commitSha,
  commitState,
  commitStatusId,
  invalidProvider,
  isHttpStatus,
  parseJson,
  parseOwnerRepo,
  repositoryProblem,
  seg,
  sha1Hex,
  statusDescription,
  statusName,
} from './commit-status.js';
import type { ProviderAdapter } from './types.js';

const CLOUD_API = 'https://api.bitbucket.org/2.0';
const BEARER_USERNAMES = new Set(['x-token-auth', 'x-bitbucket-api-token-auth']);

export interface BitbucketRepo {
  apiBase: string;
  owner: string;
  repo: string;
}

export function bitbucketRepo(address: string): BitbucketRepo | undefined {
  const parsed = parseOwnerRepo(address);
  if (!parsed) return undefined;
  const host = new URL(parsed.host).hostname;
  const apiBase = host === 'bitbucket.org' || host === 'www.bitbucket.org' || host === 'api.bitbucket.org' ? CLOUD_API : `${parsed.host}/2.0`;
  return { apiBase, owner: parsed.owner, repo: parsed.repo };
}

/** The Authorization header for `<username>:<password>`, or undefined when the token is not of that form. */
export function bitbucketAuthorization(token: string | undefined): string | undefined {
  const parts = (token ?? '').split(':');
  if (parts.length !== 2) return undefined;
  const [username, password] = parts as [string, string];
  return BEARER_USERNAMES.has(username) ? `Bearer ${password}` : basicAuth(username, password);
}

export const bitbucket: ProviderAdapter = {
  type: 'bitbucket',
  commitStatus: true,
  validate(config) {
    const problem = repositoryProblem(config, bitbucketRepo, 'a Bitbucket repository', 'https://bitbucket.org/<workspace>/<repo>');
    if (problem) return problem;
    if (!config.token) return 'bitbucket needs `<username>:<app password>` in the `token` key of spec.secretRef';
    if (!bitbucketAuthorization(config.token)) return 'the `token` key of spec.secretRef must be `<username>:<app password>` for bitbucket';
    return undefined;
  },
  async send(event, { config, http }) {
    if (event.reason === PROGRESSING_REASON) return;
    const repo = bitbucketRepo(config.address);
    const authorization = bitbucketAuthorization(config.token);
    if (!repo || !authorization) throw invalidProvider(bitbucket, config);

    const sha = commitSha(event);
    const state = commitState(event.severity, { info: 'SUCCESSFUL', error: 'FAILED' }, 'a Bitbucket build state');
    const description = statusDescription(event);
    const key = sha1Hex(commitStatusId(config, event));
    const base = `${repo.apiBase}/repositories/${seg(repo.owner)}/${seg(repo.repo)}/commit/${sha}/statuses/build`;
    const headers = { authorization };

    try {
      const existing = await http.send({ method: 'GET', url: `${base}/${key}`, headers });
      const status = parseJson(http, existing.body, 'get commit status') as { state?: unknown; description?: unknown } | null;
      if (status && status.state === state && status.description === description) return;
    } catch (err) {
      if (!isHttpStatus(err, 404)) throw err;
    }

    await http.send({
      method: 'POST',
      url: base,
      headers,
      json: { key, url: 'https://bitbucket.org', state, name: statusName(event), description },
    });
  },
};
