/**
 * The shared HTTP layer every adapter sends through: per-provider timeout, proxy (with
 * credentials), custom CA and client certificate, extra headers, secret masking in every
 * error, and classification of each failure as retryable or not, with `Retry-After`.
 */
import { Agent, ProxyAgent, request, type Dispatcher } from 'undici';
import type { ProviderConfig } from './types.js';

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

export interface HttpRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** Sent as-is; use `json` for a JSON body. */
  body?: string | Buffer;
  /** Serialised with JSON.stringify and sent with `Content-Type: application/json`. */
  json?: unknown;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface HttpClient {
  /**
   * Sends the request and resolves with the response when its status is 2xx. Any other
   * outcome throws a `DeliveryError` whose message is free of the provider's secrets.
   */
  send(req: HttpRequest): Promise<HttpResponse>;
  /** Replaces every sensitive value of the provider in `text` with `*****`. */
  mask(text: string): string;
}

const MASK = '*****';
/** Values shorter than this are not masked: masking "a" would garble every message. */
const MIN_MASKED_LENGTH = 4;
/** Upper bound on a provider's answer kept in an error message. */
const MAX_ERROR_BODY = 512;

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

export function createMasker(sensitiveValues: readonly string[]): (text: string) => string {
  const values = [...new Set(sensitiveValues.filter((v) => v.length >= MIN_MASKED_LENGTH))]
    // Longest first, so a value containing another is masked whole.
    .sort((a, b) => b.length - a.length);
  return (text: string) => {
    let masked = text.replace(/(\w+:\/\/)[^/\s:@]*:[^/\s@]+@/g, `$1${MASK}@`);
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

function buildDispatcher(config: ProviderConfig): Dispatcher {
  const tls = config.tls;
  const connect = tls ? { ca: tls.ca, cert: tls.cert, key: tls.key } : undefined;
  if (config.proxy) {
    const proxy = new URL(config.proxy);
    const token =
      proxy.username || proxy.password
        ? basicAuth(decodeURIComponent(proxy.username), decodeURIComponent(proxy.password))
        : undefined;
    proxy.username = '';
    proxy.password = '';
    return new ProxyAgent({ uri: proxy.toString(), token, requestTls: connect });
  }
  return new Agent({ connect });
}

/** Builds the HTTP client for one provider configuration; reuse it for that configuration. */
export function createHttpClient(config: ProviderConfig): HttpClient & { close(): Promise<void> } {
  const dispatcher = buildDispatcher(config);
  const mask = createMasker(config.sensitiveValues);

  async function send(req: HttpRequest): Promise<HttpResponse> {
    const headers: Record<string, string> = { ...config.headers, ...req.headers };
    let body = req.body;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers['content-type'] ??= headers['Content-Type'] ?? 'application/json';
      delete headers['Content-Type'];
    }
    const method = req.method ?? 'POST';
    const where = `${method} ${origin(req.url)}`;
    // Credentials adapters compute (a basic-auth header's base64) are as secret as the Secret.
    const maskError = (text: string) => createMasker([...config.sensitiveValues, ...credentialValues(headers)])(text);
    let res: Dispatcher.ResponseData;
    try {
      res = await request(req.url, {
        method,
        headers,
        body,
        dispatcher,
        signal: AbortSignal.timeout(config.timeoutMs),
        headersTimeout: config.timeoutMs,
        bodyTimeout: config.timeoutMs,
      });
    } catch (err) {
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || /timeout/i.test(err.name));
      const reason = timedOut ? `timed out after ${config.timeoutMs}ms` : describe(err);
      throw new DeliveryError(maskError(`${where}: ${reason}`), true);
    }
    const text = await res.body.text().catch(() => '');
    if (res.statusCode >= 200 && res.statusCode < 300) {
      return { status: res.statusCode, headers: res.headers, body: text };
    }
    const retryable = isRetryableStatus(res.statusCode);
    const retryAfterMs = retryable ? parseRetryAfter(res.headers['retry-after']) : undefined;
    // Masked before it is cut: a secret quoted across the cut would otherwise show in part.
    const answer = maskError(text);
    const snippet = answer.length > MAX_ERROR_BODY ? `${answer.slice(0, MAX_ERROR_BODY)}…` : answer;
    throw new DeliveryError(
      maskError(`${where}: provider answered ${res.statusCode}${snippet ? `: ${snippet}` : ''}`),
      retryable,
      res.statusCode,
      retryAfterMs,
    );
  }

  return { send, mask, close: () => dispatcher.close() };
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
