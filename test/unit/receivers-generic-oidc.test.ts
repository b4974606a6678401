import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { discoveredIssuers, webhookPath } from '../../src/receivers/index.js';
import { gitRepository, receiverHarness, receiverManifest, testIssuer } from '../support/receivers.js';
import type { TargetObject } from '../../src/receivers/index.js';

// A stand-in OIDC issuer on loopback: discovery document and JWKS, as GitHub Actions publishes them.
const issuer = testIssuer('actions-key-1');
let server: Server;
let issuerURL = '';
let discoveryRequests = 0;
beforeEach(async () => {
  discoveryRequests = 0;
  server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration') {
      discoveryRequests++;
      res.end(JSON.stringify({ issuer: issuerURL, jwks_uri: `${issuerURL}/.well-known/jwks`, id_token_signing_alg_values_supported: ['RS256'] }));
    } else if (req.url === '/.well-known/jwks') res.end(JSON.stringify(issuer.jwks));
    else res.writeHead(404).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuerURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const NOW = Date.parse('2026-11-30T12:00:00Z');
// The claims of a GitHub Actions ID token (docs: security hardening with OpenID Connect), trimmed.
const claims = (extra: Record<string, unknown> = {}) => ({
  iss: issuerURL, aud: 'notification-controller', sub: 'repo:my-org/repo-a:environment:production',
  repository: 'my-org/repo-a', repository_owner: 'my-org', ref: 'refs/heads/main', environment: 'production',
  iat: NOW / 1000, nbf: NOW / 1000, exp: NOW / 1000 + 300, ...extra,
});

function oidcReceiver(spec: Record<string, unknown> = {}, objects?: TargetObject[]) {
  const { secretRef: _none, ...base } = receiverManifest('generic-oidc').spec;
  return receiverHarness({
    manifest: {
      ...receiverManifest('generic-oidc'),
      spec: {
        ...base,
        oidcProviders: [{
          issuerURL,
          variables: [{ name: 'owner', expression: 'claims.repository_owner' }, { name: 'allowedRepos', expression: "[vars.owner + '/repo-a', vars.owner + '/repo-b']" }],
          validations: [
            { expression: "vars.owner == 'my-org'", message: 'wrong org' },
            { expression: 'claims.repository in vars.allowedRepos', message: 'repo not in allowlist' },
            { expression: "claims.ref == 'refs/heads/main' && claims.environment == 'production'", message: 'must be main branch + production environment' },
          ],
        }],
        ...spec,
      },
    },
    secret: {},
    ...(objects && { objects }),
    oidcIssuers: discoveredIssuers(fetch, () => NOW),
    now: () => NOW,
  });
}

const send = (h: ReturnType<typeof oidcReceiver>, token: string) => h.send({ payload: '{}', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });

describe('generic-oidc receiver', () => {
  it('serves on /hook/<sha256(name + namespace)> and accepts a token that passes every validation', async () => {
    const h = oidcReceiver();
    expect(h.path).toBe(webhookPath('', 'webapp-receiver', 'apps'));
    expect((await send(h, issuer.jwt(claims()))).statusCode).toBe(200);
    expect((await send(h, issuer.jwt(claims()))).statusCode).toBe(200);
    expect(h.reconciled).toHaveLength(2);
    expect(discoveryRequests).toBe(1);
  });

  it('answers 401 when a validation fails, logging the messages of the failed ones', async () => {
    const h = oidcReceiver();
    const res = await send(h, issuer.jwt(claims({ repository: 'my-org/repo-c', ref: 'refs/heads/feature' })));
    expect(res.statusCode).toBe(401);
    expect(res.body).toBe('');
    expect(h.logs.join('\n')).toContain('token validation failed: repo not in allowlist; must be main branch + production environment');
    expect(h.reconciled).toEqual([]);
  });

  it.each([
    ['another audience', claims({ aud: 'someone-else' })],
    ['an issuer no provider names', claims({ iss: 'https://token.actions.githubusercontent.com' })],
    ['an expired token', claims({ exp: NOW / 1000 - 600 })],
  ])('answers 401 for %s', async (_what, tokenClaims) => {
    const h = oidcReceiver();
    expect((await send(h, issuer.jwt(tokenClaims))).statusCode).toBe(401);
  });

  it('answers 401 for a token signed by a key the issuer does not publish', async () => {
    const h = oidcReceiver();
    expect((await send(h, testIssuer('actions-key-1').jwt(claims()))).statusCode).toBe(401);
    expect((await h.send({ payload: '{}' })).statusCode).toBe(401);
  });

  it('takes the audience the provider sets, and a list of audiences', async () => {
    const h = oidcReceiver();
    expect((await send(h, issuer.jwt(claims({ aud: ['other', 'notification-controller'] })))).statusCode).toBe(200);
  });

  it('gives resourceFilter the verified claims', async () => {
    const h = oidcReceiver(
      {
        resources: [{ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: '*', matchLabels: { team: 'web' } }],
        resourceFilter: "claims.repository == res.metadata.annotations['source-repository']",
      },
      [
        gitRepository('repo-a', 'apps', { team: 'web' }, { 'source-repository': 'my-org/repo-a' }),
        gitRepository('repo-b', 'apps', { team: 'web' }, { 'source-repository': 'my-org/repo-b' }),
      ],
    );
    expect((await send(h, issuer.jwt(claims()))).statusCode).toBe(200);
    expect(h.reconciled).toEqual(['GitRepository/apps/repo-a']);
  });
});
