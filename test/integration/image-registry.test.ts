/**
 * The OCI registry client against a stand-in registry on loopback: anonymous, Basic and Bearer
 * auth, token caching, Link pagination (relative, absolute, refused when it leaves the host),
 * Quay's page-size refusal, 429/503 with Retry-After, 404, slow answers and the bounds.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseImageReference } from '../../src/image/image-ref.js';
import { credentialsFromDockerConfig, type RegistryCredentials } from '../../src/image/registry-auth.js';
import { createClientPool } from '../../src/image/client-pool.js';
import { RegistryError, createRegistryClient, nextLink, type RegistryClientOptions } from '../../src/image/registry.js';
import { digestOf, startStandin, type StandinOptions } from '../support/registry-standin.js';

const PASSWORD = 's3cr3t-pa55word';
const open: { close(): Promise<void> }[] = [];

afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

async function setup(standin: StandinOptions, client: RegistryClientOptions = {}) {
  const s = await startStandin(standin);
  const c = createRegistryClient({ retryBaseDelayMs: 20, ...client });
  open.push(s, c);
  return { s, c, ref: parseImageReference(`${s.host}/team/app`, true) };
}

function tags(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `1.0.${i}`);
}

async function failure(p: Promise<unknown>): Promise<RegistryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RegistryError);
  return err as RegistryError;
}

function dockerConfig(host: string, user: string, password: string): RegistryCredentials | undefined {
  const auth = Buffer.from(`${user}:${password}`).toString('base64');
  return credentialsFromDockerConfig(
    { metadata: { name: 'regcred', namespace: 'apps' }, data: { '.dockerconfigjson': JSON.stringify({ auths: { [`http://${host}`]: { auth } } }) } },
    host,
  );
}

describe('authentication', () => {
  it('anonymous: no Authorization header at all', async () => {
    const { s, c, ref } = await setup({ repositories: { 'team/app': ['a', 'b'] } });
    expect(await c.listTags(ref, undefined, 5000)).toEqual(['a', 'b']);
    expect(s.requests.every((r) => r.authorization === 'none')).toBe(true);
  });

  it('Basic: the docker config credentials on every request', async () => {
    const { s, c, ref } = await setup({ repositories: { 'team/app': ['a'] }, auth: 'basic', users: { bot: PASSWORD } });
    expect(await c.listTags(ref, dockerConfig(s.host, 'bot', PASSWORD), 5000)).toEqual(['a']);
    expect(s.requests.map((r) => r.authorization)).toEqual(['none', 'basic']);
  });

  it('Basic with a wrong password: an error naming the code, never the password', async () => {
    const { s, c, ref } = await setup({ repositories: { 'team/app': ['a'] }, auth: 'basic', users: { bot: 'other' } });
    const err = await failure(c.listTags(ref, dockerConfig(s.host, 'bot', PASSWORD), 5000));
    expect(err.message).toContain('UNAUTHORIZED');
    expect(err.status).toBe(401);
    expect(err.message).not.toContain(PASSWORD);
    expect(err.message).not.toContain(Buffer.from(`bot:${PASSWORD}`).toString('base64'));
  });

  it('Bearer, anonymous token for the pull scope, cached across scans and digests', async () => {
    const { s, c, ref } = await setup({ repositories: { 'team/app': ['v1', 'v2'] }, auth: 'bearer', anonymousTokens: true });
    expect(await c.listTags(ref, undefined, 5000)).toEqual(['v1', 'v2']);
    expect(await c.listTags(ref, undefined, 5000)).toEqual(['v1', 'v2']);
    expect(await c.digest(ref, 'v2', undefined, 5000)).toBe(digestOf('team/app', 'v2'));
    expect(s.tokensIssued).toEqual([{ scope: ['repository:team/app:pull'], via: 'anonymous' }]);
  });

  it('Bearer: an expiring token is fetched again', async () => {
    // 5s lifetime minus the 10s safety margin: never cached.
    const { s, c, ref } = await setup({ repositories: { 'team/app': ['v1'] }, auth: 'bearer', anonymousTokens: true, tokenLifetimeS: 5 });
    await c.listTags(ref, undefined, 5000);
    await c.listTags(ref, undefined, 5000);
    expect(s.tokensIssued).toHaveLength(2);
  });

  it('Bearer with Basic credentials at the realm; separate tokens per credentials', async () => {
    const { s, c, ref } = await setup({ repositories: { 'team/app': ['v1'] }, auth: 'bearer', users: { bot: PASSWORD, other: 'x-password' } });
    await c.listTags(ref, dockerConfig(s.host, 'bot', PASSWORD), 5000);
    await c.listTags(ref, dockerConfig(s.host, 'other', 'x-password'), 5000);
    expect(s.tokensIssued.map((t) => t.via)).toEqual(['basic', 'basic']);
  });

  it('Bearer with wrong credentials: the realm error, no password', async () => {
    const { s, c, ref } = await setup({ repositories: { 'team/app': ['v1'] }, auth: 'bearer', users: { bot: 'right' } });
    const err = await failure(c.listTags(ref, dockerConfig(s.host, 'bot', PASSWORD), 5000));
    expect(err.message).toBe(`GET ${s.url}/token: unexpected status code 401 Unauthorized`);
  });

  it('Bearer without credentials where the realm wants some', async () => {
    const { c, ref, s } = await setup({ repositories: { 'team/app': ['v1'] }, auth: 'bearer' });
    const err = await failure(c.listTags(ref, undefined, 5000));
    expect(err.message).toBe(`GET ${s.url}/token: unexpected status code 401 Unauthorized`);
  });

  it('Bearer with an identity token: the OAuth2 refresh-token POST', async () => {
    const { s, c, ref } = await setup({ repositories: { 'team/app': ['v1'] }, auth: 'bearer', identityToken: 'refresh-me-123' });
    expect(await c.listTags(ref, { identityToken: 'refresh-me-123' }, 5000)).toEqual(['v1']);
    expect(s.tokensIssued).toEqual([{ scope: ['repository:team/app:pull'], via: 'refresh' }]);
  });
});

describe('token realm and scopes', () => {
  it('a 401 asking for another scope gets one more token and one retry', async () => {
    const { s, c, ref } = await setup({ repositories: { 'team/app': ['v1'] }, auth: 'bearer', anonymousTokens: true, extraScope: 'repository:team/base:pull' });
    expect(await c.listTags(ref, undefined, 5000)).toEqual(['v1']);
    expect(s.tokensIssued.map((t) => t.scope)).toEqual([['repository:team/app:pull'], ['repository:team/app:pull', 'repository:team/base:pull']]);
  });

  it.each([
    ['an internal address other than the registry', 'http://10.1.2.3/token', 'refusing token realm http://10.1.2.3: an internal address other than the registry'],
    ['link-local metadata endpoints', 'http://169.254.169.254/latest', 'refusing token realm http://169.254.169.254: an internal address'],
    ['a scheme other than http(s)', 'file:///etc/passwd', 'refusing token realm file://: it must be https'],
  ])('refuses a realm on %s', async (_name, realm, message) => {
    const { s, c, ref } = await setup({ repositories: { 'team/app': ['v1'] }, auth: 'bearer', anonymousTokens: true, realm }, { maxAttempts: 1 });
    const err = await failure(c.listTags(ref, undefined, 5000));
    expect(err.message).toContain(message);
    expect(s.requests.map((r) => r.url)).toEqual(['/v2/']);
  });
});

describe('pagination', () => {
  it.each(['relative', 'absolute'] as const)('follows a %s Link across pages, in order', async (link) => {
    const all = tags(25);
    const { s, c, ref } = await setup({ repositories: { 'team/app': all }, link }, { pageSize: 10 });
    expect(await c.listTags(ref, undefined, 5000)).toEqual(all);
    expect(s.requests.filter((r) => r.url.includes('tags/list'))).toHaveLength(3);
  });

  it('refuses a Link to another host', async () => {
    const { s, c, ref } = await setup({ repositories: { 'team/app': tags(25) }, link: 'other-host' }, { pageSize: 10 });
    const err = await failure(c.listTags(ref, undefined, 5000));
    expect(err.message).toContain(`refusing to follow the Link to ${s.url.replace('127.0.0.1', 'localhost')}`);
    expect(s.requests.filter((r) => r.url.includes('tags/list'))).toHaveLength(1);
  });

  it("falls back to pages of 100 when the registry refuses 1000 (Quay's TOO_MANY_TAGS_REQUESTED)", async () => {
    const all = tags(250);
    const { s, c, ref } = await setup({ repositories: { 'team/app': all }, maxPageSize: 100 });
    expect(await c.listTags(ref, undefined, 5000)).toEqual(all);
    expect(s.requests.filter((r) => r.url.includes('tags/list')).map((r) => new URL(r.url, s.url).searchParams.get('n'))).toEqual([
      '1000',
      '100',
      '100',
      '100',
    ]);
  });

  it('a registry that ignores n answers in one page', async () => {
    const { c, ref } = await setup({ repositories: { 'team/app': tags(1500) } });
    expect(await c.listTags(ref, undefined, 5000)).toHaveLength(1500);
  });

  it.each([
    ['<https://r.example/v2/a/tags/list?last=x>; rel="next"', 'https://r.example/v2/a/tags/list?last=x'],
    ['</v2/a/tags/list?n=2&last=b>; rel=next', 'https://r.example/v2/a/tags/list?n=2&last=b'],
    ['<https://r.example/p>; rel="prev", </q>; rel="next"', 'https://r.example/q'],
    ['</p>; rel="prev"', undefined],
  ])('Link %s', (link, expected) => {
    expect(nextLink(link, 'https://r.example/v2/a/tags/list?n=2')?.toString()).toBe(expected);
  });
});

describe('errors, retries and bounds', () => {
  it('404 for an unknown repository names the registry code and the status', async () => {
    const { c, s } = await setup({ repositories: {} });
    const err = await failure(c.listTags(parseImageReference(`${s.host}/none`, true), undefined, 5000));
    expect(err.message).toBe(`GET ${s.url}/v2/none/tags/list?n=1000: NAME_UNKNOWN: repository name not known to registry (404 Not Found)`);
  });

  it('429 with Retry-After: waits that long, then succeeds', async () => {
    const { s, c, ref } = await setup({ repositories: { 'team/app': ['a'] }, failures: [{ status: 429, retryAfter: '1' }] });
    const started = Date.now();
    expect(await c.listTags(ref, undefined, 10_000)).toEqual(['a']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(s.requests.filter((r) => r.url.includes('tags/list'))).toHaveLength(2);
  });

  it('503 twice: exponential backoff, then succeeds', async () => {
    const { c, ref } = await setup({ repositories: { 'team/app': ['a'] }, failures: [{ status: 503 }, { status: 503 }] });
    expect(await c.listTags(ref, undefined, 10_000)).toEqual(['a']);
  });

  it('a Retry-After beyond the bound fails at once, saying so', async () => {
    const { s, c, ref } = await setup({ repositories: { 'team/app': ['a'] }, failures: [{ status: 429, retryAfter: '3600' }] }, { maxRetryDelayMs: 5000 });
    const started = Date.now();
    const err = await failure(c.listTags(ref, undefined, 10_000));
    expect(err.message).toContain('TOOMANYREQUESTS');
    expect(err.message).toContain('the registry asked to retry after 3600s, longer than the 5s a scan waits');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(s.requests.filter((r) => r.url.includes('tags/list'))).toHaveLength(1);
  });

  it('attempts are bounded', async () => {
    const { s, c, ref } = await setup({ repositories: { 'team/app': ['a'] }, failures: Array(5).fill({ status: 503 }) }, { maxAttempts: 3 });
    const err = await failure(c.listTags(ref, undefined, 10_000));
    expect(err.status).toBe(503);
    expect(s.requests.filter((r) => r.url.includes('tags/list'))).toHaveLength(3);
  });

  it('a slow answer hits the per-request timeout', async () => {
    const { c, ref } = await setup({ repositories: { 'team/app': ['a'] }, delayMs: 3000 }, { requestTimeoutMs: 300, maxAttempts: 1 });
    const err = await failure(c.listTags(ref, undefined, 10_000));
    expect(err.message).toMatch(/tags\/list\?n=1000: timed out after 300ms$/);
  });

  it('a slow scan hits the overall timeout', async () => {
    const { c, ref } = await setup({ repositories: { 'team/app': ['a'] }, delayMs: 3000 }, { requestTimeoutMs: 10_000 });
    const started = Date.now();
    const err = await failure(c.listTags(ref, undefined, 400));
    expect(err.message).toMatch(/: scan timed out$/);
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('the tag count is bounded', async () => {
    const { c, ref } = await setup({ repositories: { 'team/app': tags(30) }, link: 'relative' }, { pageSize: 10, maxTags: 20 });
    const err = await failure(c.listTags(ref, undefined, 5000));
    expect(err.message).toContain('more than 20 tags');
  });

  it('the response size is bounded', async () => {
    const { c, ref } = await setup({ repositories: { 'team/app': tags(100) } }, { maxResponseBytes: 200 });
    const err = await failure(c.listTags(ref, undefined, 5000));
    expect(err.message).toContain('response larger than 200 bytes');
  });

  it('a loopback registry without insecure: one https attempt, then plain http at once', async () => {
    const { s, c } = await setup({ repositories: { 'team/app': ['a'] } }, { retryBaseDelayMs: 2000 });
    const started = Date.now();
    expect(await c.listTags(parseImageReference(`${s.host}/team/app`), undefined, 10_000)).toEqual(['a']);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('an unreachable registry', async () => {
    const c = createRegistryClient({ maxAttempts: 1 });
    open.push(c);
    const err = await failure(c.listTags(parseImageReference('127.0.0.1:1/app', true), undefined, 5000));
    expect(err.message).toMatch(/^GET http:\/\/127\.0\.0\.1:1\/v2\/: .*ECONNREFUSED/);
  });

  it('digest of a missing tag', async () => {
    const { c, ref } = await setup({ repositories: { 'team/app': ['a'] } });
    const err = await failure(c.digest(ref, 'nope', undefined, 5000));
    expect(err.status).toBe(404);
  });
});

describe('client pool', () => {
  it('one client per TLS/proxy configuration: the token cache outlives a scan; bounded', async () => {
    const s = await startStandin({ repositories: { 'team/app': ['v1'] }, auth: 'bearer', anonymousTokens: true });
    const pool = createClientPool({}, 2);
    open.push(s, pool);
    const ref = parseImageReference(`${s.host}/team/app`, true);
    await pool.client({}).listTags(ref, undefined, 5000);
    await pool.client({}).listTags(ref, undefined, 5000);
    expect(s.tokensIssued).toHaveLength(1);
    expect(pool.client({})).toBe(pool.client({}));
    pool.client({ proxy: { address: 'http://127.0.0.1:1/' } });
    pool.client({ proxy: { address: 'http://127.0.0.1:2/' } });
    expect(pool.size).toBe(2);
  });
});
