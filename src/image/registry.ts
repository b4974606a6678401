/**
 * A client of the OCI distribution API for ImageRepository scans and ImagePolicy digests,
 * behaving as go-containerregistry does for Flux, with bounds Flux lacks:
 *
 * - `GET /v2/` ping; 200 → anonymous, 401 → the `WWW-Authenticate` challenge decides:
 *   `Basic` sends the credentials on every request, `Bearer` fetches a token from the realm for
 *   `repository:<repo>:pull` (GET with Basic credentials or anonymously; POST with
 *   `grant_type=refresh_token` for an identity token), cached per scope set until it expires.
 *   A later 401 whose challenge asks for another scope gets one new token and one retry.
 * - `tags/list?n=<page>`, following `Link: <…>; rel="next"` (relative or absolute) only on the
 *   registry's own scheme, host and port: a Link elsewhere is refused (it could point a scan at
 *   an internal address). Quay refuses pages over 100 (`TOO_MANY_TAGS_REQUESTED`): the page is
 *   asked again with 100.
 * - 408, 429 and 5xx are retried with exponential backoff, or after `Retry-After` when the
 *   registry sends one; a `Retry-After` longer than the bound fails the scan at once.
 * - Every request has its own timeout, the whole scan an overall one; response bodies, pages
 *   and tag counts are bounded.
 * - Error messages name the method, URL and the registry's error codes, never a credential.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import type { Dispatcher } from 'undici';
import { basicAuth, createMasker, parseRetryAfter } from '../../providers/http.js';
import { onFirstUse } from '../common/on-first-use.js';
import type { ImageReference } from './image-ref.js';
import { parseChallenges, type Challenge, type RegistryCredentials, type RegistryProxy, type RegistryTls } from './registry-auth.js';

/** undici, loaded when the first registry client is made, not with image automation's modules (loaded by every Herald). */
const undici = onFirstUse<typeof import('undici')>('undici');

export interface RegistryClientOptions {
  tls?: RegistryTls;
  proxy?: RegistryProxy;
  /** Per HTTP request. Default 30s. */
  requestTimeoutMs?: number;
  /** Tags asked per page. Default 1000 (go-containerregistry's). */
  pageSize?: number;
  /** A scan that finds more tags than this fails. Default 50,000. */
  maxTags?: number;
  /** Pages followed per scan. Default 1,000. */
  maxPages?: number;
  /** Bytes read of any one response body. Default 8 MiB. */
  maxResponseBytes?: number;
  /** Attempts per request when the registry answers 408, 429 or 5xx. Default 4. */
  maxAttempts?: number;
  /** First backoff; doubles per attempt. Default 1s. */
  retryBaseDelayMs?: number;
  /** Longest wait between attempts, whether computed or asked by `Retry-After`. Default 60s. */
  maxRetryDelayMs?: number;
  userAgent?: string;
}

/** A failed registry operation; `message` is safe to show (no credentials). */
export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface RegistryClient {
  /** Every tag of the repository, in the registry's order. `timeoutMs` bounds the whole scan. */
  listTags(ref: ImageReference, credentials: RegistryCredentials | undefined, timeoutMs: number): Promise<string[]>;
  /** The digest of `tag` (for a multi-arch image, the index's). */
  digest(ref: ImageReference, tag: string, credentials: RegistryCredentials | undefined, timeoutMs: number): Promise<string>;
  close(): Promise<void>;
}

const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** The page size Quay accepts. */
const QUAY_PAGE_SIZE = 100;
const TOKEN_EXPIRY_MARGIN_MS = 10_000;
/** Tokens cached per client (one per scope set and credentials). */
const MAX_CACHED_TOKENS = 1000;
/** Docker's token spec: a token without `expires_in` lives 60 seconds. */
const DEFAULT_TOKEN_LIFETIME_S = 60;
const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);
const MAX_ERROR_TEXT = 300;

interface Masker {
  (text: string): string;
  add(value: string): void;
}

type AuthState =
  | { kind: 'anonymous'; origin: string }
  | { kind: 'basic'; origin: string }
  | { kind: 'bearer'; origin: string; realm: string; service?: string };

interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function header(res: Response, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function buildDispatcher(tls: RegistryTls | undefined, proxy: RegistryProxy | undefined): Dispatcher {
  const { Agent, ProxyAgent } = undici();
  // A custom CA is added to the system roots, as Flux does, rather than replacing them.
  const connect = tls ? { ca: tls.ca ? [...rootCertificates, tls.ca] : undefined, cert: tls.cert, key: tls.key } : undefined;
  if (proxy) {
    const token = proxy.username ? basicAuth(proxy.username, proxy.password ?? '') : undefined;
    return new ProxyAgent({ uri: proxy.address, token, requestTls: connect });
  }
  return new Agent({ connect });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** A private, loopback or link-local IP literal (the realm SSRF guard). */
function isInternalIp(host: string): boolean {
  const version = isIP(host);
  if (version === 6) return host === '::1' || /^f[cd]/i.test(host) || /^fe[89ab]/i.test(host);
  if (version !== 4) return false;
  const [a = 0, b = 0] = host.split('.').map(Number);
  return a === 127 || a === 10 || a === 0 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
}

export function createRegistryClient(options: RegistryClientOptions = {}): RegistryClient {
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const pageSize = options.pageSize ?? 1000;
  const maxTags = options.maxTags ?? 50_000;
  const maxPages = options.maxPages ?? 1000;
  const maxResponseBytes = options.maxResponseBytes ?? 8 * 1024 * 1024;
  const maxAttempts = options.maxAttempts ?? 4;
  const retryBaseDelayMs = options.retryBaseDelayMs ?? 1000;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 60_000;
  const userAgent = options.userAgent ?? 'herald/image-reflector';
  const dispatcher = buildDispatcher(options.tls, options.proxy);
  /** Per registry: how it wants to be authenticated (found by the ping). */
  const authStates = new Map<string, AuthState>();
  /** Per realm, service, scope set and credentials: a token and when it expires. */
  const tokens = new Map<string, { token: string; expiresAt: number }>();

  /**
   * The masker of one scan: the credentials, and every token obtained during it (the registry
   * may quote the Authorization header back in an error).
   */
  function maskerFor(credentials: RegistryCredentials | undefined): Masker {
    const c = credentials ?? {};
    const values = [c.password, c.identityToken, c.registryToken, options.proxy?.password].filter((v): v is string => !!v);
    if (c.username && c.password) values.push(basicAuth(c.username, c.password).slice(6));
    const mask = ((text: string) => createMasker(values)(text)) as Masker;
    mask.add = (value) => values.push(value);
    return mask;
  }

  /** One HTTP exchange, retried on 408/429/5xx and network errors within the scan's deadline. */
  async function send(
    method: 'GET' | 'HEAD' | 'POST',
    url: string,
    headers: Record<string, string>,
    signal: AbortSignal,
    mask: (text: string) => string,
    body?: string,
    attempts = maxAttempts,
  ): Promise<Response> {
    const where = `${method} ${url}`;
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        const answer = await undici().request(url, {
          method,
          headers: { 'user-agent': userAgent, ...headers },
          body,
          dispatcher,
          signal: AbortSignal.any([signal, AbortSignal.timeout(requestTimeoutMs)]),
          headersTimeout: requestTimeoutMs,
          bodyTimeout: requestTimeoutMs,
        });
        res = { status: answer.statusCode, headers: answer.headers, body: await readBounded(answer.body, maxResponseBytes, where) };
      } catch (err) {
        if (signal.aborted) throw new RegistryError(mask(`${where}: scan timed out`));
        if (err instanceof RegistryError) throw err;
        const reason = isTimeout(err) ? `timed out after ${requestTimeoutMs}ms` : describe(err);
        if (attempt >= attempts) throw new RegistryError(mask(`${where}: ${reason}`));
        await backoff(attempt, undefined, signal, where, mask);
        continue;
      }
      if (!RETRYABLE.has(res.status) || attempt >= attempts) return res;
      const retryAfter = parseRetryAfter(header(res, 'retry-after'));
      if (retryAfter !== undefined && retryAfter > maxRetryDelayMs) {
        throw new RegistryError(
          `${errorText(where, res, mask)} (the registry asked to retry after ${Math.ceil(retryAfter / 1000)}s, longer than the ${Math.ceil(maxRetryDelayMs / 1000)}s a scan waits)`,
          res.status,
        );
      }
      await backoff(attempt, retryAfter, signal, where, mask);
    }
  }

  async function backoff(attempt: number, retryAfter: number | undefined, signal: AbortSignal, where: string, mask: (t: string) => string) {
    const delay = Math.min(retryAfter ?? retryBaseDelayMs * 2 ** (attempt - 1), maxRetryDelayMs);
    try {
      await sleep(delay, signal);
    } catch {
      throw new RegistryError(mask(`${where}: scan timed out while waiting to retry`));
    }
  }

  function candidateOrigins(ref: ImageReference): string[] {
    const https = `https://${ref.registry}`;
    if (ref.scheme === 'http') return [`http://${ref.registry}`];
    return ref.httpFallback ? [https, `http://${ref.registry}`] : [https];
  }

  /** Pings `/v2/` (once per registry and client) to learn how to authenticate. */
  async function authState(ref: ImageReference, signal: AbortSignal, mask: (t: string) => string): Promise<AuthState> {
    const known = authStates.get(ref.registry);
    if (known) return known;
    let lastError: RegistryError | undefined;
    const origins = candidateOrigins(ref);
    for (const [i, origin] of origins.entries()) {
      let res: Response;
      try {
        // A fallback follows: one https attempt, not a round of backoff, before trying http.
        res = await send('GET', `${origin}/v2/`, {}, signal, mask, undefined, i < origins.length - 1 ? 1 : maxAttempts);
      } catch (err) {
        // go-containerregistry tries https, then http, for local registries.
        lastError = err as RegistryError;
        if (signal.aborted) break;
        continue;
      }
      const state = stateFromPing(origin, res, mask);
      authStates.set(ref.registry, state);
      return state;
    }
    throw lastError ?? new RegistryError(`GET /v2/ on ${ref.registry}: no answer`);
  }

  function stateFromPing(origin: string, res: Response, mask: (t: string) => string): AuthState {
    if (res.status === 200) return { kind: 'anonymous', origin };
    if (res.status !== 401) throw new RegistryError(errorText(`GET ${origin}/v2/`, res, mask), res.status);
    const challenges = parseChallenges(header(res, 'www-authenticate') ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer) return bearerState(origin, bearer);
    if (basic) return { kind: 'basic', origin };
    throw new RegistryError(`GET ${origin}/v2/: 401 Unauthorized without a Basic or Bearer challenge`, 401);
  }

  function bearerState(origin: string, challenge: Challenge): AuthState {
    const realmText = challenge.params.realm;
    if (!realmText) throw new RegistryError(`GET ${origin}/v2/: Bearer challenge without a realm`, 401);
    let realm: URL;
    try {
      realm = new URL(realmText);
    } catch {
      throw new RegistryError(`GET ${origin}/v2/: Bearer realm is not a URL`, 401);
    }
    const registryUrl = new URL(origin);
    const shown = `${realm.protocol}//${realm.host}`;
    const allowHttp = registryUrl.protocol === 'http:';
    if (realm.protocol !== 'https:' && !(allowHttp && realm.protocol === 'http:')) {
      throw new RegistryError(`GET ${origin}/v2/: refusing token realm ${shown}: it must be https`, 401);
    }
    if (isInternalIp(realm.hostname.replace(/^\[|\]$/g, '')) && realm.hostname !== registryUrl.hostname) {
      throw new RegistryError(`GET ${origin}/v2/: refusing token realm ${shown}: an internal address other than the registry's`, 401);
    }
    return { kind: 'bearer', origin, realm: realm.toString(), service: challenge.params.service };
  }

  async function token(
    state: Extract<AuthState, { kind: 'bearer' }>,
    scopes: string[],
    credentials: RegistryCredentials | undefined,
    signal: AbortSignal,
    mask: Masker,
  ): Promise<string> {
    if (credentials?.registryToken) return credentials.registryToken;
    const identity = createHash('sha256')
      .update(JSON.stringify([credentials?.username, credentials?.password, credentials?.identityToken]))
      .digest('hex');
    const key = JSON.stringify([state.realm, state.service, [...scopes].sort(), identity]);
    const cached = tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) {
      mask.add(cached.token);
      return cached.token;
    }

    let res: Response | undefined;
    let method: 'GET' | 'POST' = 'POST';
    if (credentials?.identityToken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: credentials.identityToken, client_id: userAgent });
      if (state.service) form.set('service', state.service);
      form.set('scope', scopes.join(' '));
      res = await send('POST', state.realm, { 'content-type': 'application/x-www-form-urlencoded' }, signal, mask, form.toString());
      // Registries without OAuth2 support answer 404: fall back to the GET flow.
      if (res.status === 404) res = undefined;
    }
    const url = new URL(state.realm);
    if (!res) {
      method = 'GET';
      if (state.service) url.searchParams.set('service', state.service);
      for (const scope of scopes) url.searchParams.append('scope', scope);
      const headers: Record<string, string> = {};
      if (credentials?.username !== undefined && credentials.password !== undefined) {
        headers.authorization = basicAuth(credentials.username, credentials.password);
      }
      res = await send('GET', url.toString(), headers, signal, mask);
    }
    const where = `${method} ${url.origin}${url.pathname}`;
    if (res.status !== 200) throw new RegistryError(errorText(where, res, mask), res.status);
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new RegistryError(`${where}: token response is not JSON`);
    }
    const value = typeof parsed.access_token === 'string' && parsed.access_token ? parsed.access_token : parsed.token;
    if (typeof value !== 'string' || value === '') throw new RegistryError(`${where}: token response has no token`);
    mask.add(value);
    const lifetimeS = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_TOKEN_LIFETIME_S;
    const expiresAt = Date.now() + lifetimeS * 1000 - TOKEN_EXPIRY_MARGIN_MS;
    if (expiresAt > Date.now()) cacheToken(key, { token: value, expiresAt });
    return value;
  }

  /** Caches a token; expired ones go first, then the oldest beyond the bound. */
  function cacheToken(key: string, entry: { token: string; expiresAt: number }): void {
    const now = Date.now();
    for (const [k, v] of tokens) if (v.expiresAt <= now) tokens.delete(k);
    tokens.delete(key);
    tokens.set(key, entry);
    while (tokens.size > MAX_CACHED_TOKENS) tokens.delete(tokens.keys().next().value as string);
  }

  /**
   * A request to the registry with the authentication its ping asked for; one more token and
   * one retry when a 401 asks for a scope the token lacks.
   */
  async function authorised(
    ref: ImageReference,
    method: 'GET' | 'HEAD',
    url: string,
    extraHeaders: Record<string, string>,
    credentials: RegistryCredentials | undefined,
    signal: AbortSignal,
    mask: Masker,
  ): Promise<Response> {
    const state = await authState(ref, signal, mask);
    const scopes = [`repository:${ref.repository}:pull`];
    for (let round = 0; ; round++) {
      const headers = { ...extraHeaders };
      if (state.kind === 'basic' && credentials?.username !== undefined) {
        headers.authorization = basicAuth(credentials.username, credentials.password ?? '');
      } else if (state.kind === 'bearer') {
        headers.authorization = `Bearer ${await token(state, scopes, credentials, signal, mask)}`;
      }
      const res = await send(method, url, headers, signal, mask);
      if (res.status !== 401 || state.kind !== 'bearer' || round > 0) return res;
      const wanted = parseChallenges(header(res, 'www-authenticate') ?? '')
        .find((c) => c.scheme === 'bearer')
        ?.params.scope?.split(' ')
        .filter((s) => s && !scopes.includes(s));
      if (!wanted?.length) return res;
      scopes.push(...wanted);
    }
  }

  async function listTags(ref: ImageReference, credentials: RegistryCredentials | undefined, timeoutMs: number): Promise<string[]> {
    const signal = AbortSignal.timeout(timeoutMs);
    const mask = maskerFor(credentials);
    const state = await authState(ref, signal, mask);
    const tags: string[] = [];
    let n = pageSize;
    let url = `${state.origin}/v2/${ref.repository}/tags/list${n > 0 ? `?n=${n}` : ''}`;
    const origin = new URL(url).origin;
    for (let page = 1; ; page++) {
      if (page > maxPages) throw new RegistryError(`listing tags of ${ref.canonical}: more than ${maxPages} pages`);
      let res = await authorised(ref, 'GET', url, { accept: 'application/json' }, credentials, signal, mask);
      if (res.status !== 200 && n > QUAY_PAGE_SIZE && registryErrorCodes(res).includes('TOO_MANY_TAGS_REQUESTED')) {
        // Quay caps pages at 100: ask this page again, and the following ones, with 100.
        n = QUAY_PAGE_SIZE;
        url = withPageSize(url, n);
        res = await authorised(ref, 'GET', url, { accept: 'application/json' }, credentials, signal, mask);
      }
      if (res.status !== 200) throw new RegistryError(errorText(`GET ${url}`, res, mask), res.status);
      let body: { tags?: unknown };
      try {
        body = JSON.parse(res.body.toString('utf8'));
      } catch {
        throw new RegistryError(`GET ${url}: the answer is not JSON`);
      }
      const pageTags = body.tags ?? [];
      if (!Array.isArray(pageTags) || pageTags.some((t) => typeof t !== 'string')) {
        throw new RegistryError(`GET ${url}: 'tags' is not a list of strings`);
      }
      tags.push(...(pageTags as string[]));
      if (tags.length > maxTags) {
        throw new RegistryError(`listing tags of ${ref.canonical}: more than ${maxTags} tags, the bound of a scan`);
      }
      const next = nextLink(header(res, 'link'), url);
      if (!next) return tags;
      if (next.origin !== origin) {
        throw new RegistryError(`GET ${url}: refusing to follow the Link to ${next.origin}: not the registry's ${origin}`);
      }
      url = next.toString();
    }
  }

  async function digest(ref: ImageReference, tag: string, credentials: RegistryCredentials | undefined, timeoutMs: number): Promise<string> {
    const signal = AbortSignal.timeout(timeoutMs);
    const mask = maskerFor(credentials);
    const state = await authState(ref, signal, mask);
    const url = `${state.origin}/v2/${ref.repository}/manifests/${encodeURIComponent(tag)}`;
    const head = await authorised(ref, 'HEAD', url, { accept: MANIFEST_TYPES }, credentials, signal, mask);
    const fromHead = head.status === 200 ? header(head, 'docker-content-digest') : undefined;
    if (fromHead) return fromHead;
    if (head.status !== 200 && head.status !== 405) throw new RegistryError(errorText(`HEAD ${url}`, head, mask), head.status);
    // Without the header (or HEAD), the digest is the sha256 of the manifest as served.
    const res = await authorised(ref, 'GET', url, { accept: MANIFEST_TYPES }, credentials, signal, mask);
    if (res.status !== 200) throw new RegistryError(errorText(`GET ${url}`, res, mask), res.status);
    return header(res, 'docker-content-digest') ?? `sha256:${createHash('sha256').update(res.body).digest('hex')}`;
  }

  return { listTags, digest, close: () => dispatcher.close() };
}

function withPageSize(url: string, n: number): string {
  const u = new URL(url);
  u.searchParams.set('n', String(n));
  return u.toString();
}

/** The `rel="next"` target of a `Link` header, resolved against the request URL. */
export function nextLink(link: string | undefined, requestUrl: string): URL | undefined {
  if (!link) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!m) continue;
    const params = m[2] ?? '';
    if (!/;\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?\s*(;|$)/i.test(params)) continue;
    try {
      return new URL(m[1] ?? '', requestUrl);
    } catch {
      throw new RegistryError(`GET ${requestUrl}: the Link header is not a URL`);
    }
  }
  return undefined;
}

function registryErrorCodes(res: Response): string[] {
  try {
    const body = JSON.parse(res.body.toString('utf8')) as { errors?: { code?: unknown }[] };
    return (body.errors ?? []).map((e) => String(e.code ?? ''));
  } catch {
    return [];
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/**
 * `GET <url>: CODE: message; CODE: message (404 Not Found)` from the distribution error body,
 * or `GET <url>: unexpected status code 404 Not Found` (go-containerregistry's wording). The
 * registry's text is masked before it is cut, so a credential it quotes across the cut does
 * not show in part.
 */
export function errorText(where: string, res: { status: number; body: Buffer }, mask: (text: string) => string): string {
  let details: string[] = [];
  try {
    const body = JSON.parse(res.body.toString('utf8')) as { errors?: { code?: unknown; message?: unknown }[] };
    details = (body.errors ?? []).map((e) => [e.code, e.message].filter((x) => typeof x === 'string' && x).join(': '));
  } catch {
    // Not a distribution error body.
  }
  const masked = mask(details.filter(Boolean).join('; '));
  const text = masked.length > MAX_ERROR_TEXT ? `${masked.slice(0, MAX_ERROR_TEXT)}…` : masked;
  const status = `${res.status}${STATUS_TEXT[res.status] ? ` ${STATUS_TEXT[res.status]}` : ''}`;
  return mask(text ? `${where}: ${text} (${status})` : `${where}: unexpected status code ${status}`);
}

async function readBounded(body: AsyncIterable<Buffer> & { destroy?: (err?: Error) => void }, limit: number, where: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) {
      body.destroy?.();
      throw new RegistryError(`${where}: response larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || /timeout/i.test(err.name) || /timeout/i.test((err as { code?: string }).code ?? ''));
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: string }).code ?? (err.cause as { code?: string } | undefined)?.code;
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${code ? `${code} ` : ''}${err.message}${cause}`;
}
