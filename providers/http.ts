/**
 * The shared HTTP layer every adapter sends through: per-provider timeout, proxy (with
 * credentials), custom CA and client certificate, extra headers, secret masking in every
 * error, and classification of each failure as retryable or not, with `Retry-After`.
 *
 * Bounds: at most `maxAnswerBytes` (64 KiB) of an answer is read, then its connection is
 * dropped. The Provider's timeout bounds the exchange through undici's own timeouts (connect,
 * headers, each chunk of the answer; no timer of Herald's per request): an answer still
 * arriving past it is cut at its next chunk, so an exchange ends within about the timeout, and
 * at worst twice it (a connection that takes the whole timeout, then headers that take it
 * again). An error answer is reported cut there; a 2xx answer counts as delivered only when it
 * ended within the bound and the timeout, so an endless answer is never a delivery. Redirects
 * are followed as Go's client follows them, at most 10, credentials only to the same origin.
 * No connection may reach Herald's own listeners (`./own-listeners.js`).
 */
import type { Dispatcher, buildConnector } from 'undici';
import { onFirstUse } from '../src/common/on-first-use.js';
import { OwnListenerRefused, ownListenerAt } from './own-listeners.js';
import type { HttpClient, HttpRequest, HttpResponse } from './contract.js';
import type { ProviderConfig } from './types.js';

/**
 * undici, loaded when the first client is built: with deliveries on their own thread, the main
 * thread builds one only to test-send, and a Herald that never does keeps undici out of it.
 */
const undici = onFirstUse<typeof import('undici')>('undici');

export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  constructor(
    message: string,
    /** Whether another attempt may succeed (5xx, 408, 429, network errors, timeouts). */
    readonly retryable: boolean,
    readonly status?: number,
    /** How long the provider asked us to wait before the next attempt. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

const MASK = '*****';
/** Values shorter than this are not masked: masking "a" would garble every message. */
const MIN_MASKED_LENGTH = 4;
/** Upper bound on a provider's answer kept in an error message. */
const MAX_ERROR_BODY = 512;
/** How much of a provider's answer is read by default: enough for error text and Slack's `ok`. */
export const MAX_ANSWER_BYTES = 64 * 1024;
/** Redirects followed per request, as Go's http.Client (and so Flux) allows. */
export const MAX_REDIRECTS = 10;

/** Parses `Retry-After` (delta-seconds or an HTTP date) into milliseconds from `now`. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(raw)) return Number(raw) * 1000;
  const date = Date.parse(raw);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** An `Authorization` header value for HTTP Basic authentication. */
export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/** Whether an HTTP status is worth another attempt. */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** `user:password@` after a URL's `://`; each part stops at the characters that end it, so no match backtracks far. */
const URL_USERINFO = /:\/\/[^/\s:@]*:[^/\s@]+@/g;

export function createMasker(sensitiveValues: readonly string[]): (text: string) => string {
  const values = [...new Set(sensitiveValues.filter((v) => v.length >= MIN_MASKED_LENGTH))]
    // Longest first, so a value containing another is masked whole.
    .sort((a, b) => b.length - a.length);
  return (text: string) => {
    // Anchored on the literal `://`, so that every match attempt fails at once on text without
    // it: a `\w+` before it made long runs of letters take quadratic time.
    let masked = text.replace(URL_USERINFO, `://${MASK}@`);
    for (const value of values) masked = masked.split(value).join(MASK);
    return masked;
  };
}

/** `scheme://host[:port]`: enough to say where a request went without its path's tokens. */
function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * Wraps undici's connector so that a socket reaches undici only when its peer (after DNS,
 * before any HTTP byte) is not one of Herald's own listeners. For https the TCP connection is
 * checked before the TLS handshake, which then runs over it, so the refusal is the same.
 */
function refusingOwnListeners(connect: buildConnector.connector): buildConnector.connector {
  const checked =
    (callback: buildConnector.Callback): buildConnector.Callback =>
    (err, socket) => {
      if (err || !socket) return callback(err ?? new Error('no socket'), null);
      const listener = ownListenerAt(socket.remoteAddress, socket.remotePort);
      if (!listener) return callback(null, socket);
      socket.destroy();
      callback(new OwnListenerRefused(listener), null);
    };
  return (options, callback) => {
    if (options.protocol !== 'https:' || options.httpSocket) return connect(options, checked(callback));
    connect(
      { ...options, protocol: 'http:' },
      checked((err, tcp) => (err || !tcp ? callback(err ?? new Error('no socket'), null) : connect({ ...options, httpSocket: tcp }, callback))),
    );
  };
}

function buildDispatcher(config: ProviderConfig): Dispatcher {
  const { Agent, Pool, ProxyAgent, buildConnector } = undici();
  const tls = config.tls;
  // Connecting (TCP and TLS) is bounded by the Provider's timeout too.
  const connect = { ...(tls ? { ca: tls.ca, cert: tls.cert, key: tls.key } : {}), timeout: config.timeoutMs };
  if (config.proxy) {
    const proxy = new URL(config.proxy);
    const token =
      proxy.username || proxy.password
        ? basicAuth(decodeURIComponent(proxy.username), decodeURIComponent(proxy.password))
        : undefined;
    proxy.username = '';
    proxy.password = '';
    // The proxy is what Herald connects to; the target behind it is the proxy's to resolve.
    // The pool to the proxy also answers the tunnel's CONNECT: within the timeout as well.
    const clientFactory = (proxyOrigin: URL, opts: object) =>
      new Pool(proxyOrigin, {
        ...opts,
        headersTimeout: config.timeoutMs,
        connect: refusingOwnListeners((opts as { connect: buildConnector.connector }).connect),
      });
    return new ProxyAgent({ uri: proxy.toString(), token, requestTls: connect, proxyTls: { timeout: config.timeoutMs }, clientFactory });
  }
  return new Agent({ connect: refusingOwnListeners(buildConnector(connect)) });
}

/** One request of an exchange: the first, or one a redirect led to. */
interface Hop {
  method: NonNullable<HttpRequest['method']>;
  url: string;
  headers: Record<string, string>;
  body: string | Buffer | undefined;
  /** Whether credentials may still be sent: false from the first hop to another origin on. */
  credentials: boolean;
}

/** What was read of one answer. */
interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  truncated: boolean;
  /** Whether the answer arrived whole (not cut short by the timeout or a broken connection). */
  ended: boolean;
  /** Whether the timeout is what cut it short. */
  timedOut: boolean;
}

/**
 * Header names are case-insensitive: the Secret's `headers` and the adapter's own merge by
 * lower-cased name, the adapter's winning, so `generic-hmac`'s `X-Signature` replaces an
 * `x-signature` the Secret sets instead of both being sent.
 */
export function mergeHeaders(...layers: Array<Record<string, string>>): Record<string, string> {
  const merged: Record<string, string> = {};
  for (const layer of layers) for (const [name, value] of Object.entries(layer)) merged[name.toLowerCase()] = asHeaderBytes(value);
  return merged;
}

/**
 * A header value as Go sends it: its UTF-8 bytes. Node takes a header string as Latin-1 and
 * refuses a character above U+00FF, so a reporting controller or a Secret header with such a
 * character would fail every attempt; the UTF-8 bytes, spelt as Latin-1, go out as Go's do.
 */
function asHeaderBytes(value: string): string {
  // Plain ASCII reads the same either way.
  return /^[\x00-\x7f]*$/.test(value) ? value : Buffer.from(value, 'utf8').toString('latin1');
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Builds the HTTP client for one provider configuration; reuse it for that configuration. */
export function createHttpClient(config: ProviderConfig): HttpClient & { close(): Promise<void> } {
  const dispatcher = buildDispatcher(config);
  const mask = createMasker(config.sensitiveValues);
  // Prepared once per Provider version, not per delivery: the Secret's headers, and the URL
  // last sent to (most adapters send every event to the same one).
  const secretHeaders = mergeHeaders(config.headers);
  let lastUrl: { text: string; parsed: URL } | undefined;
  const parsedUrl = (text: string): URL => {
    if (lastUrl?.text !== text) lastUrl = { text, parsed: new URL(text) };
    return lastUrl.parsed;
  };

  async function send(req: HttpRequest): Promise<HttpResponse> {
    const headers = req.headers ? { ...secretHeaders, ...mergeHeaders(req.headers) } : { ...secretHeaders };
    let body = req.body;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers['content-type'] ??= 'application/json';
    }
    const limit = req.maxAnswerBytes ?? MAX_ANSWER_BYTES;
    // Credentials adapters compute (a basic-auth header's base64) are as secret as the Secret;
    // so are a redirect's path and query (a signed URL). Only an error needs the masker.
    const requestSecrets = credentialValues(headers);
    const maskError = (text: string) => createMasker([...config.sensitiveValues, ...requestSecrets])(text);
    // One deadline for the whole exchange, every redirect and the answer's last byte included,
    // as Go's Client.Timeout (Flux's provider timeout) covers them.
    const deadline = performance.now() + config.timeoutMs;
    let hop: Hop = { method: req.method ?? 'POST', url: req.url, headers, body, credentials: true };
    // Where the request went, for error messages only (built only for one).
    const firstMethod = hop.method;
    const first = () => `${firstMethod} ${origin(req.url)}`;

    for (let redirects = 0; ; redirects++) {
      const current = hop;
      const where = redirects === 0 ? first : () => `${first()} (redirected to ${current.method} ${origin(current.url)})`;
      const answer = await exchange(hop, where);
      const location = headerValue(answer.headers.location);
      if (!REDIRECT_STATUSES.has(answer.status) || !location) return outcome(answer, where);
      if (redirects === MAX_REDIRECTS) {
        throw new DeliveryError(maskError(`${where()}: stopped after ${MAX_REDIRECTS} redirects`), false, answer.status);
      }
      hop = redirected(hop, answer.status, location, where);
      requestSecrets.push(...urlSecrets(hop.url));
    }

    async function exchange(current: Hop, where: () => string): Promise<Answer> {
      const remaining = Math.ceil(deadline - performance.now());
      if (remaining <= 0) throw new DeliveryError(maskError(`${where()}: timed out after ${config.timeoutMs}ms`), true);
      try {
        return await exchangeOnce(dispatcher, parsedUrl(current.url), current, remaining, limit, deadline);
      } catch (err) {
        throw requestFailure(err, where);
      }
    }

    function outcome(answer: Answer, where: () => string): HttpResponse {
      const { status } = answer;
      if (status >= 200 && status < 300) {
        // Not retried: the provider may well have taken the notification, and would answer the same again.
        if (answer.truncated) {
          const message = `${where()}: provider answered ${status} with more than ${limit} bytes: not counted as delivered`;
          throw new DeliveryError(maskError(message), false, status);
        }
        if (!answer.ended) {
          const why = answer.timedOut ? `timed out after ${config.timeoutMs}ms` : 'the connection broke';
          throw new DeliveryError(maskError(`${where()}: provider answered ${status} but its answer did not arrive whole: ${why}`), true, status);
        }
        return { status, headers: answer.headers, body: answer.text };
      }
      const retryable = isRetryableStatus(status);
      const retryAfterMs = retryable ? parseRetryAfter(answer.headers['retry-after']) : undefined;
      // Masked before it is cut: a secret quoted across the cut would otherwise show in part.
      const masked = maskError(answer.text);
      const snippet = masked.length > MAX_ERROR_BODY || answer.truncated ? `${masked.slice(0, MAX_ERROR_BODY)}…` : masked;
      throw new DeliveryError(
        maskError(`${where()}: provider answered ${status}${snippet ? `: ${snippet}` : ''}`),
        retryable,
        status,
        retryAfterMs,
      );
    }

    function requestFailure(err: unknown, where: () => string): DeliveryError {
      if (err instanceof OwnListenerRefused) return new DeliveryError(maskError(`${where()}: ${err.message}`), false);
      // undici's ConnectTimeoutError, HeadersTimeoutError or BodyTimeoutError.
      const timedOut = err instanceof Error && /timeout/i.test(err.name);
      const reason = timedOut ? `timed out after ${config.timeoutMs}ms` : describe(err);
      // A request undici refuses to send (a header value with a line break, say) is refused the
      // same way on every attempt: not retried.
      const unsendable = (err as { code?: unknown } | null)?.code === 'UND_ERR_INVALID_ARG';
      return new DeliveryError(maskError(`${where()}: ${reason}`), !unsendable);
    }

    /**
     * The request a redirect leads to, as Go's http.Client makes it: 301, 302 and 303 turn
     * into a GET without body, 307 and 308 repeat the method and body. Credentials (and every
     * header the Secret set) go only to the same origin, or to the https form of the same host.
     */
    function redirected(from: Hop, status: number, location: string, where: () => string): Hop {
      const refuse = (why: string) =>
        new DeliveryError(maskError(`${where()}: provider answered ${status}; redirect not followed: ${why}`), false, status);
      let target: URL;
      try {
        target = new URL(location, from.url);
      } catch {
        throw refuse('the Location is not a URL');
      }
      if (target.protocol !== 'http:' && target.protocol !== 'https:') throw refuse(`${target.protocol} URLs are not followed`);
      target.username = '';
      target.password = '';
      target.hash = '';
      const keepBody = status === 307 || status === 308;
      const credentials = from.credentials && sameCredentialScope(new URL(from.url), target);
      let headers = Object.fromEntries(
        Object.entries(from.headers).filter(([name]) => !/^host$/i.test(name) && (keepBody || !/^content-/i.test(name))),
      );
      const body = keepBody ? from.body : undefined;
      if (!credentials) {
        headers = withoutCredentials(headers, config);
        if (body !== undefined && secretValues(config).some((value) => body.includes(value))) {
          throw refuse(`the request body carries a credential and ${origin(target.href)} is another origin`);
        }
      }
      return { method: keepBody ? from.method : 'GET', url: target.href, headers, body, credentials };
    }
  }

  return { send, mask, close: () => dispatcher.close() };
}

/** Why an answer's connection was dropped by Herald itself (read enough, or past the deadline). */
class AnswerCut extends Error {}

/**
 * Sends one request and reads at most `limit` bytes of its answer (none of a redirect's, whose
 * text is of no use), dropping the connection of a longer one, or of one still arriving at
 * `deadline` (a `performance.now()` time; undici's body timeout ends one that stalls). Rejects
 * only when no answer came (connection refused, headers timeout, a request undici refuses to
 * send); a broken or timed-out answer is reported as not `ended`. undici's `dispatch`, not its
 * `request`: the answer is read as it arrives, without a body stream and promises per answer
 * (84 → 58 µs of CPU per request, the two side by side on loopback).
 */
function exchangeOnce(dispatcher: Dispatcher, url: URL, hop: Hop, timeoutMs: number, limit: number, deadline: number): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    let status = 0;
    let headers: Answer['headers'] = {};
    let room = limit;
    let truncated = false;
    let settled = false;
    const kept: Buffer[] = [];
    const settle = (ended: boolean, timedOut: boolean): void => {
      if (settled) return;
      settled = true;
      resolve({ status, headers, text: Buffer.concat(kept).toString('utf8'), truncated, ended, timedOut });
    };
    const handler: Dispatcher.DispatchHandler = {
      // Present, so that undici takes this for a handler of its current API.
      onRequestStart() {},
      onResponseStart(_controller, statusCode, responseHeaders) {
        status = statusCode;
        headers = responseHeaders;
        if (REDIRECT_STATUSES.has(statusCode) && headerValue(responseHeaders.location)) room = 0;
      },
      onResponseData(controller, chunk) {
        if (settled) return;
        if (performance.now() >= deadline) {
          settle(false, true);
          controller.abort(new AnswerCut('past the deadline'));
          return;
        }
        if (chunk.length > room) truncated = true;
        if (room > 0) {
          const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
          kept.push(part);
          room -= part.length;
        }
        if (truncated) {
          settle(false, false);
          controller.abort(new AnswerCut('read enough'));
        }
      },
      onResponseEnd() {
        settle(true, false);
      },
      onResponseError(_controller, err) {
        if (settled) return;
        if (status === 0) {
          settled = true;
          reject(err);
          return;
        }
        settle(false, /timeout/i.test(err.name) || performance.now() >= deadline);
      },
    };
    try {
      dispatcher.dispatch(
        { origin: url.origin, path: `${url.pathname}${url.search}`, method: hop.method, headers: hop.headers, body: hop.body, headersTimeout: timeoutMs, bodyTimeout: timeoutMs },
        handler,
      );
    } catch (err) {
      settled = true;
      reject(err);
    }
  });
}

/** The parts of a URL past its origin that a server may quote in an error. */
function urlSecrets(url: string): string[] {
  const { pathname, search } = new URL(url);
  return [pathname + search, pathname, search.slice(1), ...[...new URLSearchParams(search).values()]].filter((part) => part !== '/');
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Whether credentials sent to `from` may go to `to`: the same origin, or its upgrade to https on the same host. */
function sameCredentialScope(from: URL, to: URL): boolean {
  return from.origin === to.origin || (from.protocol === 'http:' && to.protocol === 'https:' && from.hostname === to.hostname);
}

/** Header names that carry credentials whatever their value. */
const CREDENTIAL_HEADER = /auth|cookie|token|secret|passw|api-?key|session/i;

/** The headers fit for another origin: none named like a credential, none the Secret set, none holding a secret value. */
function withoutCredentials(headers: Record<string, string>, config: ProviderConfig): Record<string, string> {
  const fromSecret = new Set(Object.keys(config.headers).map((name) => name.toLowerCase()));
  const secrets = secretValues(config);
  return Object.fromEntries(
    Object.entries(headers).filter(
      ([name, value]) => !CREDENTIAL_HEADER.test(name) && !fromSecret.has(name.toLowerCase()) && !secrets.some((s) => value.includes(s)),
    ),
  );
}

function secretValues(config: ProviderConfig): string[] {
  return config.sensitiveValues.filter((v) => v.length >= MIN_MASKED_LENGTH);
}

/** The values of a request's `Authorization` / `Proxy-Authorization` headers, whole and without the scheme. */
function credentialValues(headers: Record<string, string>): string[] {
  return Object.entries(headers)
    .filter(([name]) => /^(proxy-)?authorization$/i.test(name))
    .flatMap(([, value]) => [value, value.slice(value.indexOf(' ') + 1)]);
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: string }).code;
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${code ? `${code} ` : ''}${err.message}${cause}`;
}
