/**
 * A stand-in OCI registry on loopback (node:http) for what Debian's docker-registry does not
 * do: Bearer token auth with a `/token` realm (anonymous, Basic, refresh-token POST), Basic
 * auth, `tags/list` pagination with `n`/`last` and `Link` headers (relative, absolute, or
 * pointing at another host), Quay's refusal of pages over 100, 429/503 with `Retry-After`,
 * slow answers, `HEAD manifests/<tag>` with digests. It records every request it answers
 * (method, path and query, and the kind of Authorization sent, never its value).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StandinOptions {
  /** Repository → tags, in the order the registry lists them. */
  repositories: Record<string, string[]>;
  auth?: 'none' | 'basic' | 'bearer';
  /** Accepted `user → password` (Basic, and Basic at the token realm). */
  users?: Record<string, string>;
  /** Bearer: whether the realm hands out tokens without credentials. */
  anonymousTokens?: boolean;
  /** Bearer: a refresh token the realm accepts on POST. */
  identityToken?: string;
  /** Bearer: `expires_in` of the tokens (default 300). */
  tokenLifetimeS?: number;
  /** Page size when the client asks for none; pages only when set or when `n` is sent. */
  defaultPageSize?: number;
  /** How the `Link` of the next page is written. */
  link?: 'relative' | 'absolute' | 'other-host';
  /** Quay: a page size above this is refused with TOO_MANY_TAGS_REQUESTED. */
  maxPageSize?: number;
  /** Answers to send before the real one, per request to tags/list, in order. */
  failures?: { status: number; retryAfter?: string }[];
  /** Delay before answering tags/list. */
  delayMs?: number;
  /** Bearer: the realm the challenge names, instead of the stand-in's own `/token`. */
  realm?: string;
  /** Bearer: a scope every token must also carry (a registry that asks for more than pull). */
  extraScope?: string;
  /** An unhelpful registry: every error message quotes the request's headers back. */
  quoteRequests?: boolean;
}

export interface RecordedRequest {
  method: string;
  url: string;
  authorization: 'none' | 'basic' | 'bearer';
}

export interface Standin {
  url: string;
  /** `127.0.0.1:<port>`, for `spec.image`. */
  host: string;
  requests: RecordedRequest[];
  /** Tokens the realm issued, with their scopes. */
  tokensIssued: { scope: string[]; via: 'anonymous' | 'basic' | 'refresh' }[];
  /** The token values themselves, to check no message shows one. */
  tokenValues: string[];
  options: StandinOptions;
  close(): Promise<void>;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

export function digestOf(repo: string, tag: string): string {
  return `sha256:${createHash('sha256').update(`${repo}:${tag}`).digest('hex')}`;
}

export async function startStandin(options: StandinOptions): Promise<Standin> {
  const requests: RecordedRequest[] = [];
  const tokensIssued: Standin['tokensIssued'] = [];
  const tokenValues: string[] = [];
  const tokens = new Map<string, string[]>();
  const failures = [...(options.failures ?? [])];
  let base = '';

  const basicUser = (req: IncomingMessage): string | undefined => {
    const h = req.headers.authorization ?? '';
    if (!h.startsWith('Basic ')) return undefined;
    const [user = '', ...rest] = Buffer.from(h.slice(6), 'base64').toString('utf8').split(':');
    return options.users?.[user] === rest.join(':') ? user : undefined;
  };

  const challenge = (scope?: string) =>
    options.auth === 'basic'
      ? 'Basic realm="standin"'
      : `Bearer realm="${options.realm ?? `${base}/token`}",service="standin"${scope ? `,scope="${scope}"` : ''}`;

  const authorised = (req: IncomingMessage, scope: string): boolean => {
    if (!options.auth || options.auth === 'none') return true;
    if (options.auth === 'basic') return basicUser(req) !== undefined;
    const h = req.headers.authorization ?? '';
    const granted = tokens.get(h.slice(7)) ?? [];
    return h.startsWith('Bearer ') && granted.includes(scope) && (!options.extraScope || granted.includes(options.extraScope));
  };

  const issue = (res: ServerResponse, scope: string[], via: 'anonymous' | 'basic' | 'refresh') => {
    const token = randomBytes(12).toString('hex');
    tokens.set(token, scope);
    tokenValues.push(token);
    tokensIssued.push({ scope, via });
    json(res, 200, { token, expires_in: options.tokenLifetimeS ?? 300 });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const quoted = options.quoteRequests ? `; you sent ${JSON.stringify(req.headers)}` : '';
    const registryError = (r: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}) =>
      json(r, status, { errors: [{ code, message: message + quoted }] }, headers);
    const url = new URL(req.url ?? '/', base);
    const h = req.headers.authorization ?? '';
    requests.push({ method: req.method ?? '', url: url.pathname + url.search, authorization: h.startsWith('Basic ') ? 'basic' : h.startsWith('Bearer ') ? 'bearer' : 'none' });

    if (url.pathname === '/token') {
      const scope = url.searchParams.getAll('scope');
      if (req.method === 'POST') {
        let body = '';
        for await (const chunk of req) body += chunk;
        const form = new URLSearchParams(body);
        if (options.identityToken && form.get('refresh_token') === options.identityToken) {
          return issue(res, (form.get('scope') ?? '').split(' ').filter(Boolean), 'refresh');
        }
        return json(res, 401, { details: `bad refresh token${quoted} ${body}` });
      }
      if (h.startsWith('Basic ')) {
        return basicUser(req) ? issue(res, scope, 'basic') : json(res, 401, { details: `incorrect username or password${quoted}` });
      }
      return options.anonymousTokens ? issue(res, scope, 'anonymous') : json(res, 401, { details: 'authentication required' });
    }

    if (url.pathname === '/v2/') {
      if (options.auth && options.auth !== 'none' && !(options.auth === 'basic' && basicUser(req))) {
        return registryError(res, 401, 'UNAUTHORIZED', 'authentication required', { 'www-authenticate': challenge() });
      }
      return json(res, 200, {});
    }

    const m = /^\/v2\/(.+)\/(tags\/list|manifests\/([^/]+))$/.exec(url.pathname);
    const repo = m?.[1] ?? '';
    const scope = `repository:${repo}:pull`;
    if (!m) return registryError(res, 404, 'NOT_FOUND', 'not found');
    if (!authorised(req, scope)) {
      const wanted = options.extraScope ? `${scope} ${options.extraScope}` : scope;
      return registryError(res, 401, 'UNAUTHORIZED', 'authentication required', { 'www-authenticate': challenge(wanted) });
    }
    const tags = options.repositories[repo];
    if (!tags) return registryError(res, 404, 'NAME_UNKNOWN', 'repository name not known to registry');

    if (m[3] !== undefined) {
      const tag = decodeURIComponent(m[3]);
      if (!tags.includes(tag)) return registryError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
      res.writeHead(200, { 'docker-content-digest': digestOf(repo, tag), 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      return res.end(req.method === 'HEAD' ? undefined : '{}');
    }

    const failure = failures.shift();
    if (failure) {
      const headers: Record<string, string> = failure.retryAfter ? { 'retry-after': failure.retryAfter } : {};
      return registryError(res, failure.status, failure.status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE', 'try later', headers);
    }
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
    const nParam = url.searchParams.get('n');
    const n = nParam !== null ? Number(nParam) : options.defaultPageSize;
    if (n !== undefined && options.maxPageSize !== undefined && n > options.maxPageSize) {
      return registryError(res, 400, 'TOO_MANY_TAGS_REQUESTED', `Only ${options.maxPageSize} tags can be requested at a time`);
    }
    const last = url.searchParams.get('last');
    const start = last === null ? 0 : tags.indexOf(last) + 1;
    const page = n === undefined ? tags.slice(start) : tags.slice(start, start + n);
    const headers: Record<string, string> = {};
    if (n !== undefined && start + n < tags.length) {
      const next = `/v2/${repo}/tags/list?n=${n}&last=${encodeURIComponent(page[page.length - 1] ?? '')}`;
      const other = base.replace('127.0.0.1', 'localhost');
      headers.link = `<${options.link === 'absolute' ? base + next : options.link === 'other-host' ? other + next : next}>; rel="next"`;
    }
    json(res, 200, { name: repo, tags: page }, headers);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => res.writeHead(500).end(String(err)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
  return {
    url: base,
    host: `127.0.0.1:${port}`,
    requests,
    tokensIssued,
    tokenValues,
    options,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
