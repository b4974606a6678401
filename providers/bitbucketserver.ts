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
import {
  PROGRESSING_REASON,
  commitSha,
  commitState,
  commitStatusId,
  invalidProvider,
  repositoryProblem,
  seg,
  sha1Hex,
  statusDescription,
  statusName,
} from './commit-status.js';
import { basicAuth, DeliveryError } from './http.js';
import type { ProviderAdapter, ProviderConfig } from './types.js';

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

function lenientJson(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return null;
  }
}

function authorization(config: ProviderConfig): string | undefined {
  if (config.token) return `Bearer ${config.token}`;
  if (config.username && config.password) return basicAuth(config.username, config.password);
  return undefined;
}

export const bitbucketServer: ProviderAdapter = {
  type: 'bitbucketserver',
  commitStatus: true,
  validate(config) {
    const problem = repositoryProblem(config, bitbucketServerRepo, 'a Bitbucket Server repository', 'https://<host>/scm/<project>/<repo>.git');
    if (problem) return problem;
    if (!authorization(config)) {
      return 'bitbucketserver needs a `token`, or a `username` and `password`, in spec.secretRef';
    }
    return undefined;
  },
  async send(event, { config, http }) {
    if (event.reason === PROGRESSING_REASON) return;
    const repo = bitbucketServerRepo(config.address);
    const auth = authorization(config);
    if (!repo || !auth) throw invalidProvider(bitbucketServer, config);

    const sha = commitSha(event);
    const state = commitState(event.severity, { info: 'SUCCESSFUL', error: 'FAILED' }, 'a Bitbucket Server build state');
    const description = statusDescription(event);
    const name = `${statusName(event)} [${description}]`;
    const key = sha1Hex(commitStatusId(config, event));
    const url = `${repo.host}/rest/api/latest/projects/${seg(repo.projectKey)}/repos/${seg(repo.repoSlug)}/commits/${sha}/builds`;
    const headers = { authorization: auth, 'x-atlassian-token': 'no-check', 'x-requested-with': 'XMLHttpRequest' };

    let existing: BuildStatus | null = null;
    try {
      const res = await http.send({ method: 'GET', url: `${url}?key=${encodeURIComponent(key)}`, headers });
      existing = lenientJson(res.body) as BuildStatus | null;
    } catch (err) {
      // Like Flux, any HTTP answer to the look-up means "not known yet"; only a failure to
      // reach the server at all (no status) stops here.
      if (!(err instanceof DeliveryError) || err.status === undefined) throw err;
    }
    if (existing && existing.key === key && existing.state === state && existing.description === description && existing.name === name) {
      return;
    }

    await http.send({
      method: 'POST',
      url,
      headers,
      json: { description, key, name, state, url: config.address },
    });
  },
};
