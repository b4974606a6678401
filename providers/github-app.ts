/**
 * GitHub App authentication for the GitHub provider types (`github`, `githubdispatch`,
 * `githubpullrequestcomment`), as Flux's notification-controller does it (fluxcd/pkg
 * `auth/githubapp`): when the Secret has no `token` (nor `password`) but a `githubAppID`, the
 * App's private key signs a short JWT (RS256, `iss` the app id, issued 30 s in the past, valid
 * 2 minutes), which buys an installation access token from the GitHub API:
 *
 * - `githubAppID`, `githubAppPrivateKey` (PEM, RSA), and exactly one of
 *   `githubAppInstallationID` or `githubAppInstallationOwner` (looked up as an organisation's
 *   installation, then as a user's);
 * - `githubAppBaseURL`: the API root, used as given (default `https://api.github.com/`), so a
 *   GitHub Enterprise Provider names its API here, as in Flux.
 *
 * Every call goes through the provider's shared HTTP layer (its proxy, CA, timeout, masking).
 * Tokens are cached, as Flux's token cache does, for 80% of their lifetime and at most an hour,
 * keyed by a hash of the App credentials; the cache holds at most `MAX_CACHED_TOKENS` entries
 * (the oldest is dropped first) and concurrent sends share one exchange.
 */
import { createHash, createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { DeliveryError } from './http.js';
import type { HttpClient } from './contract.js';
import type { ProviderConfig } from './types.js';

export const APP_ID_KEY = 'githubAppID';
export const INSTALLATION_ID_KEY = 'githubAppInstallationID';
export const INSTALLATION_OWNER_KEY = 'githubAppInstallationOwner';
export const PRIVATE_KEY_KEY = 'githubAppPrivateKey';
export const BASE_URL_KEY = 'githubAppBaseURL';

export const DEFAULT_APP_API = 'https://api.github.com/';
export const MAX_CACHED_TOKENS = 256;
/** Flux's token cache keeps a token for 80% of its lifetime, and never more than an hour. */
const CACHED_SHARE_OF_LIFETIME = 0.8;
const MAX_CACHE_MS = 60 * 60 * 1000;
/** The JWT is dated back for clock drift and lives only long enough to buy a token. */
const JWT_BACKDATE_S = 30;
const JWT_LIFETIME_S = 120;

export interface GitHubApp {
  appId: string;
  installationId?: string;
  installationOwner?: string;
  privateKey: KeyObject;
  /** With a trailing slash. */
  apiBase: string;
}

/** Reads the App credentials from the Secret; a string names every problem (never a value). */
export function githubApp(secret: Record<string, string>): GitHubApp | string {
  const problems: string[] = [];
  const appId = (secret[APP_ID_KEY] ?? '').trim();
  if (!/^[1-9]\d{0,18}$/.test(appId)) problems.push(`${APP_ID_KEY} must be a positive integer`);
  const installationId = secret[INSTALLATION_ID_KEY]?.trim() || undefined;
  const installationOwner = secret[INSTALLATION_OWNER_KEY]?.trim() || undefined;
  if (installationId && installationOwner) {
    problems.push(`only one of ${INSTALLATION_ID_KEY} and ${INSTALLATION_OWNER_KEY} may be set`);
  } else if (!installationId && !installationOwner) {
    problems.push(`${INSTALLATION_ID_KEY} or ${INSTALLATION_OWNER_KEY} is required`);
  } else if (installationId && !/^[1-9]\d{0,18}$/.test(installationId)) {
    problems.push(`${INSTALLATION_ID_KEY} must be a positive integer`);
  }
  let privateKey: KeyObject | undefined;
  const pem = secret[PRIVATE_KEY_KEY];
  if (!pem) {
    problems.push(`${PRIVATE_KEY_KEY} is required`);
  } else {
    try {
      privateKey = createPrivateKey(pem);
    } catch {
      // The parser's message is left out: it is about the key's bytes.
    }
    if (privateKey?.asymmetricKeyType !== 'rsa') problems.push(`${PRIVATE_KEY_KEY} is not a PEM-encoded RSA private key`);
  }
  let apiBase = DEFAULT_APP_API;
  const base = secret[BASE_URL_KEY]?.trim();
  if (base) {
    const url = URL.canParse(base) ? new URL(base) : undefined;
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) problems.push(`${BASE_URL_KEY} is not an http(s) URL`);
    else apiBase = base.endsWith('/') ? base : `${base}/`;
  }
  if (problems.length > 0 || !privateKey) return `GitHub App authentication (spec.secretRef): ${problems.join('; ')}`;
  return { appId, installationId, installationOwner, privateKey, apiBase };
}

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

/** The App's JWT: RS256 over `{"iss","exp","iat"}` (golang-jwt's registered-claims order). */
export function appJwt(app: GitHubApp, nowMs = Date.now()): string {
  const iat = Math.floor(nowMs / 1000) - JWT_BACKDATE_S;
  const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
  const claims = base64url(JSON.stringify({ iss: app.appId, exp: iat + JWT_LIFETIME_S, iat }));
  const signature = sign('sha256', Buffer.from(`${header}.${claims}`), app.privateKey);
  return `${header}.${claims}.${base64url(signature)}`;
}

export interface AppToken {
  token: string;
  /** The App's slug when it was asked for: its comments are posted as `<slug>[bot]`. */
  slug?: string;
}

interface CachedToken {
  token: Promise<AppToken & { until: number }>;
  /** Until when it may be used; undefined while the exchange runs. */
  until?: number;
}

const cache = new Map<string, CachedToken>();

function cacheKey(config: ProviderConfig, withSlug: boolean): string {
  const s = config.secret;
  const parts = [APP_ID_KEY, INSTALLATION_OWNER_KEY, INSTALLATION_ID_KEY, BASE_URL_KEY, PRIVATE_KEY_KEY].map((k) => `${k}=${s[k] ?? ''}`);
  return createHash('sha256').update([...parts, `slug=${withSlug}`].join('\n')).digest('hex');
}

/**
 * An installation access token for the App in the provider's Secret, from the cache or from
 * the GitHub API. `withSlug` also asks for the App's slug (`GET /app`).
 */
export async function installationToken(config: ProviderConfig, http: HttpClient, withSlug = false, now = Date.now): Promise<AppToken> {
  const key = cacheKey(config, withSlug);
  const cached = cache.get(key);
  if (cached && (cached.until === undefined || cached.until > now())) return cached.token;
  cache.delete(key);

  const entry: CachedToken = { token: exchange(config, http, withSlug, now) };
  while (cache.size >= MAX_CACHED_TOKENS) cache.delete(cache.keys().next().value!);
  cache.set(key, entry);
  try {
    const fresh = await entry.token;
    entry.until = fresh.until;
    return fresh;
  } catch (err) {
    if (cache.get(key) === entry) cache.delete(key);
    throw err;
  }
}

/** Forgets every cached token (tests). */
export function clearInstallationTokens(): void {
  cache.clear();
}

export function cachedInstallationTokens(): number {
  return cache.size;
}

async function exchange(
  config: ProviderConfig,
  http: HttpClient,
  withSlug: boolean,
  now: () => number,
): Promise<AppToken & { until: number }> {
  const app = githubApp(config.secret);
  if (typeof app === 'string') throw new DeliveryError(app, false);
  const headers = {
    accept: 'application/vnd.github+json',
    authorization: `Bearer ${appJwt(app, now())}`,
    'x-github-api-version': '2022-11-28',
  };
  const getJson = async (path: string): Promise<Record<string, unknown>> =>
    asObject(http, (await http.send({ method: 'GET', url: `${app.apiBase}${path}`, headers })).body, path);

  const slug = withSlug ? stringField(await getJson('app'), 'slug') : undefined;
  const installation = app.installationId ?? (await installationOf(app.installationOwner ?? '', getJson));
  const sent = now();
  const answer = await http.send({ method: 'POST', url: `${app.apiBase}app/installations/${installation}/access_tokens`, headers });
  const body = asObject(http, answer.body, 'access_tokens');
  const token = typeof body.token === 'string' && body.token !== '' ? body.token : undefined;
  if (!token) throw new DeliveryError('GitHub App: the access token answer has no token', false);
  const expires = typeof body.expires_at === 'string' ? Date.parse(body.expires_at) : NaN;
  // Without an expiry, the token is used for this send only.
  const lifetime = Number.isNaN(expires) ? 0 : Math.max(0, expires - sent);
  const until = sent + Math.min(lifetime * CACHED_SHARE_OF_LIFETIME, MAX_CACHE_MS);
  return { token, ...(slug !== undefined ? { slug } : {}), until };
}

/** The installation id of an organisation's or else a user's installation of the App. */
async function installationOf(owner: string, getJson: (path: string) => Promise<Record<string, unknown>>): Promise<string> {
  const name = encodeURIComponent(owner);
  let orgError: unknown;
  for (const path of [`orgs/${name}/installation`, `users/${name}/installation`]) {
    try {
      const id = (await getJson(path)).id;
      if (typeof id === 'number' && Number.isSafeInteger(id)) return String(id);
      throw new DeliveryError(`GitHub App: ${path} answered without an installation id`, false);
    } catch (err) {
      if (orgError !== undefined) {
        const both = `GitHub App: no installation found for ${INSTALLATION_OWNER_KEY} as an organisation (${message(orgError)}) nor as a user (${message(err)})`;
        throw new DeliveryError(both, err instanceof DeliveryError && err.retryable);
      }
      orgError = err;
    }
  }
  throw new DeliveryError('GitHub App: no installation found', false);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function asObject(http: HttpClient, body: string, what: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(body) as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new DeliveryError(http.mask(`GitHub App: the answer to ${what} is not a JSON object`), false);
}

function stringField(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value === '') throw new DeliveryError(`GitHub App: the answer has no ${field}`, false);
  return value;
}

/**
 * The Bearer token for a GitHub provider: the Secret's token (or password, where the type
 * falls back to it), else an App installation token.
 */
export async function githubBearer(
  config: ProviderConfig,
  http: HttpClient,
  opts: { passwordFallback: boolean; withSlug?: boolean },
): Promise<AppToken> {
  const token = config.token || (opts.passwordFallback ? config.password : undefined);
  if (token) return { token };
  if (config.secret[APP_ID_KEY] === undefined) throw new DeliveryError(`${config.type} needs a token or GitHub App credentials in spec.secretRef`, false);
  return installationToken(config, http, opts.withSlug);
}

/**
 * `validate`'s check of a GitHub provider's credentials: a token, or complete App credentials.
 * Returns the problem, or undefined.
 */
export function githubCredentialsProblem(config: ProviderConfig, opts: { passwordFallback: boolean }): string | undefined {
  if (config.token || (opts.passwordFallback && config.password)) return undefined;
  if (config.secret[APP_ID_KEY] === undefined) {
    return `${config.type} needs a personal access token in the \`token\` key of spec.secretRef, or GitHub App credentials (${APP_ID_KEY}, ${INSTALLATION_ID_KEY} or ${INSTALLATION_OWNER_KEY}, ${PRIVATE_KEY_KEY})`;
  }
  const app = githubApp(config.secret);
  return typeof app === 'string' ? app : undefined;
}
