/**
 * GitHub App authentication for the GitHub provider types, against a local stand-in for the
 * GitHub API that checks each App JWT with the App's public key, as GitHub does.
 */
import { generateKeyPairSync, verify } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { github } from '../../providers/commit-status/github.js';
import { githubApp, cachedInstallationTokens, clearInstallationTokens, MAX_CACHED_TOKENS } from '../../providers/github-app.js';
import { githubdispatch } from '../../providers/githubdispatch.js';
import { githubPullRequestComment } from '../../providers/githubpullrequestcomment.js';
import type { ProviderConfig } from '../../providers/types.js';
import type { ReceivedRequest, SinkReply } from '../support/sink.js';
import type { ProviderAdapter } from '../../providers/types.js';
import { deliver, failureOf, problemOf, SHA, trickyEvent, useSink } from '../support/adapter-harness.js';
import { testProviderConfig } from '../support/provider-config.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PRIVATE_KEY = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
const OTHER_KEY = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const INSTALLATION_TOKEN = 'ghs_1nstallati0nT0kenValue';
const APP_ID = '314159';

const sink = useSink();

interface JwtCheck {
  valid: boolean;
  claims?: { iss?: string; iat?: number; exp?: number };
  header?: { alg?: string; typ?: string };
}
let jwts: JwtCheck[] = [];
let tokenLifetimeMs = 60 * 60 * 1000;

/** Verifies `Authorization: Bearer <jwt>` as GitHub does: RS256 with the App's public key. */
function checkJwt(req: ReceivedRequest): JwtCheck {
  const auth = String(req.headers['authorization'] ?? '');
  const [header, claims, signature] = auth.replace(/^Bearer /, '').split('.');
  if (!header || !claims || !signature) return { valid: false };
  const valid = verify('sha256', Buffer.from(`${header}.${claims}`), publicKey, Buffer.from(signature, 'base64url'));
  const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  return { valid, header: decode(header), claims: decode(claims) };
}

/** The stand-in GitHub API: App endpoints need a valid JWT; the rest need the installation token. */
function githubApi(overrides: (req: ReceivedRequest) => SinkReply | undefined = () => undefined): void {
  sink().respondWith((req) => {
    const override = overrides(req);
    if (override) return override;
    const path = req.url.replace(/^\/api\/v3/, '');
    if (path.startsWith('/app') || path.includes('/installation')) {
      const check = checkJwt(req);
      jwts.push(check);
      if (!check.valid || check.claims?.iss !== APP_ID) return { status: 401, body: '{"message":"A JSON web token could not be decoded"}' };
      if (path === '/app') return { status: 200, body: '{"slug":"herald-app","id":314159}' };
      if (path === '/orgs/acme/installation') return { status: 404, body: '{"message":"Not Found"}' };
      if (path === '/users/acme/installation') return { status: 200, body: '{"id":2718}' };
      if (req.method === 'POST' && /^\/app\/installations\/\d+\/access_tokens$/.test(path)) {
        const expires = new Date(Date.now() + tokenLifetimeMs).toISOString();
        return { status: 201, body: JSON.stringify({ token: INSTALLATION_TOKEN, expires_at: expires }) };
      }
      return { status: 404, body: '{"message":"Not Found"}' };
    }
    if (req.headers['authorization'] !== `Bearer ${INSTALLATION_TOKEN}`) return { status: 401, body: '{"message":"Bad credentials"}' };
    if (req.method === 'GET') return { status: 200, body: '[]' };
    return { status: 201, body: '{}' };
  });
}

function appSecret(overrides: Record<string, string> = {}): Record<string, string> {
  return { githubAppID: APP_ID, githubAppInstallationID: '42', githubAppPrivateKey: PRIVATE_KEY, githubAppBaseURL: `${sink().url}/api/v3`, ...overrides };
}

function config(type: string, secret = appSecret(), overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  return testProviderConfig({ type, address: `${sink().url}/org/repo`, secret, sensitiveValues: Object.values(secret), ...overrides });
}

const paths = (requests: ReceivedRequest[]) => requests.map((r) => `${r.method} ${r.url}`);

beforeEach(() => {
  clearInstallationTokens();
  jwts = [];
  tokenLifetimeMs = 60 * 60 * 1000;
  githubApi();
});
afterEach(() => vi.useRealTimers());

describe('GitHub App authentication', () => {
  it('github: buys an installation token with an RS256 JWT, then posts the status with it', async () => {
    const before = Math.floor(Date.now() / 1000);
    const requests = await deliver(github, config('github'), trickyEvent());
    expect(paths(requests)).toEqual([
      'POST /api/v3/app/installations/42/access_tokens',
      `GET /api/v3/repos/org/repo/commits/${SHA}/statuses?per_page=50`,
      `POST /api/v3/repos/org/repo/statuses/${SHA}`,
    ]);
    expect(jwts).toHaveLength(1);
    const [jwt] = jwts;
    expect(jwt!.valid).toBe(true);
    expect(jwt!.header).toEqual({ alg: 'RS256', typ: 'JWT' });
    // Flux's claims: issued 30 s back for clock drift, valid two minutes, the app id as issuer.
    expect(Object.keys(jwt!.claims!)).toEqual(['iss', 'exp', 'iat']);
    expect(jwt!.claims!.exp! - jwt!.claims!.iat!).toBe(120);
    expect(jwt!.claims!.iat).toBeGreaterThanOrEqual(before - 31);
    expect(jwt!.claims!.iat).toBeLessThanOrEqual(before - 29 + 2);
    expect(requests[2]!.headers['authorization']).toBe(`Bearer ${INSTALLATION_TOKEN}`);
  });

  it('caches the token for 80% of its lifetime, then buys a new one', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    tokenLifetimeMs = 10 * 60 * 1000;
    await deliver(github, config('github'), trickyEvent());
    await deliver(github, config('github'), trickyEvent());
    expect(jwts).toHaveLength(1);
    vi.setSystemTime(Date.now() + 7 * 60 * 1000);
    await deliver(github, config('github'), trickyEvent());
    expect(jwts).toHaveLength(1);
    vi.setSystemTime(Date.now() + 2 * 60 * 1000);
    await deliver(github, config('github'), trickyEvent());
    expect(jwts).toHaveLength(2);
  });

  it('shares one exchange among concurrent sends', async () => {
    await Promise.all([1, 2, 3].map(() => deliver(github, config('github'), trickyEvent())));
    expect(jwts).toHaveLength(1);
  });

  it('finds the installation of an owner: as an organisation, else as a user', async () => {
    const secret = appSecret({ githubAppInstallationID: '', githubAppInstallationOwner: 'acme' });
    const requests = await deliver(githubdispatch, config('githubdispatch', secret), trickyEvent());
    expect(paths(requests)).toEqual([
      'GET /api/v3/orgs/acme/installation',
      'GET /api/v3/users/acme/installation',
      'POST /api/v3/app/installations/2718/access_tokens',
      'POST /api/v3/repos/org/repo/dispatches',
    ]);
    expect(requests[3]!.headers['authorization']).toBe(`Bearer ${INSTALLATION_TOKEN}`);
  });

  it('githubpullrequestcomment: the App writes as <slug>[bot], so no /user look-up', async () => {
    githubApi((req) =>
      req.method === 'GET' && req.url.includes('/issues/')
        ? { status: 200, body: JSON.stringify([{ id: 5, user: { login: 'herald-app[bot]' }, body: `<!-- flux-pr-comment-key:0c9c2e41-d2f9-4f9b-9c41-2e0a8e1a6c11/Kustomization/flux-system/apps -->` }]) }
        : undefined,
    );
    const event = trickyEvent({ metadata: { change_request: '9' } });
    const requests = await deliver(githubPullRequestComment, config('githubpullrequestcomment'), event);
    expect(paths(requests)).toEqual([
      'GET /api/v3/app',
      'POST /api/v3/app/installations/42/access_tokens',
      'GET /api/v3/repos/org/repo/issues/9/comments?direction=asc&per_page=100&sort=created',
      'PATCH /api/v3/repos/org/repo/issues/comments/5',
    ]);
  });

  it('a token in the Secret wins over App credentials', async () => {
    const requests = await deliver(github, config('github', appSecret(), { token: INSTALLATION_TOKEN }), trickyEvent());
    expect(paths(requests)[0]).toMatch(/^GET .*\/statuses/);
  });

  it('a key GitHub does not know is refused without retry, and no secret shows in the error', async () => {
    const secret = appSecret({ githubAppPrivateKey: OTHER_KEY });
    const err = await failureOf(deliver(github, config('github', secret), trickyEvent()));
    expect(err.retryable).toBe(false);
    expect(err.status).toBe(401);
    expect(err.message).not.toMatch(/eyJ|PRIVATE KEY|MII/);
    expect(cachedInstallationTokens()).toBe(0);
  });

  it('a 5xx from the token endpoint is retryable, and nothing is cached', async () => {
    githubApi((req) => (req.url.endsWith('/access_tokens') ? { status: 502, body: 'bad gateway' } : undefined));
    const err = await failureOf(deliver(github, config('github'), trickyEvent()));
    expect(err.retryable).toBe(true);
    expect(cachedInstallationTokens()).toBe(0);
  });

  it(`keeps at most ${MAX_CACHED_TOKENS} tokens cached`, async () => {
    const secrets = Array.from({ length: MAX_CACHED_TOKENS + 4 }, (_, i) => appSecret({ githubAppInstallationID: String(1000 + i) }));
    for (const secret of secrets) {
      await deliver(github, config('github', secret), trickyEvent());
      expect(cachedInstallationTokens()).toBeLessThanOrEqual(MAX_CACHED_TOKENS);
    }
    expect(cachedInstallationTokens()).toBe(MAX_CACHED_TOKENS);
  }, 60_000);
});

describe('GitHub App credentials: validate', () => {
  it('accepts complete credentials on every GitHub type', () => {
    for (const adapter of [github, githubdispatch, githubPullRequestComment]) {
      expect(problemOf(adapter as ProviderAdapter, config(adapter.type))).toBeUndefined();
    }
  });

  it('names every problem at once, never a value', () => {
    const problem = githubApp({ githubAppID: 'abc', githubAppPrivateKey: 'not a key', githubAppBaseURL: 'ftp://x' });
    expect(problem).toBe(
      'GitHub App authentication (spec.secretRef): githubAppID must be a positive integer; githubAppInstallationID or githubAppInstallationOwner is required; githubAppPrivateKey is not a PEM-encoded RSA private key; githubAppBaseURL is not an http(s) URL',
    );
    expect(githubApp({ ...appSecret(), githubAppInstallationOwner: 'acme' })).toMatch(/only one of githubAppInstallationID and githubAppInstallationOwner/);
    expect(problemOf(github as ProviderAdapter, config('github', { githubAppID: APP_ID }))).toMatch(/githubAppPrivateKey is required/);
  });
});
