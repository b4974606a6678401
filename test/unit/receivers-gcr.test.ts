import { describe, expect, it } from 'vitest';
import { IdTokenError } from '../../src/receivers/gcr-token.js';
import { TOKEN, receiverHarness, receiverManifest, testIssuer } from '../support/receivers.js';

const EMAIL = 'flux-push@example-project.iam.gserviceaccount.com';
const AUDIENCE = 'https://flux-webhook.example.com/hook/f14fb79ab77482e79f294cb797540a78f19fd1707c5aa7df8038623e7cdd31c0';
const NOW = Date.parse('2026-11-30T12:00:00Z');

// What Artifact Registry publishes, wrapped as a Pub/Sub push delivers it (docs: push subscriptions).
const REGISTRY_EVENT = { action: 'INSERT', digest: 'us-east1-docker.pkg.dev/example-project/apps/webapp@sha256:6ec128e26cd5', tag: 'us-east1-docker.pkg.dev/example-project/apps/webapp:1.1' };
const PUSH = JSON.stringify({
  message: {
    attributes: {},
    data: Buffer.from(JSON.stringify(REGISTRY_EVENT)).toString('base64'),
    messageId: '2070443601311540',
    publishTime: '2026-11-30T11:59:58.749Z',
  },
  subscription: 'projects/example-project/subscriptions/flux-webhook',
});

const issuer = testIssuer();
const claims = (extra: Record<string, unknown> = {}) => ({
  aud: AUDIENCE, azp: '113774264463038321964', email: EMAIL, email_verified: true,
  exp: NOW / 1000 + 3600, iat: NOW / 1000, iss: 'https://accounts.google.com', sub: '113774264463038321964', ...extra,
});

function gcr(secret: Record<string, string> = { token: TOKEN, email: EMAIL, audience: AUDIENCE }, spec: Record<string, unknown> = {}) {
  return receiverHarness({
    manifest: receiverManifest('gcr', {
      resources: [{ apiVersion: 'image.toolkit.fluxcd.io/v1', kind: 'ImageRepository', name: '*', matchLabels: { registry: 'gar' } }],
      ...spec,
    }),
    secret,
    objects: [
      { apiVersion: 'image.toolkit.fluxcd.io/v1', kind: 'ImageRepository', metadata: { name: 'webapp', namespace: 'apps', labels: { registry: 'gar' } } },
      { apiVersion: 'image.toolkit.fluxcd.io/v1', kind: 'ImageRepository', metadata: { name: 'api', namespace: 'apps', labels: { registry: 'gar' } } },
    ],
    idTokens: issuer.verifier(() => NOW),
  });
}

const send = (h: ReturnType<typeof gcr>, token: string, payload = PUSH) =>
  h.send({ payload, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'user-agent': 'APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)' } });

describe('gcr receiver', () => {
  it('accepts a push whose OIDC token is signed by the issuer, for the audience and service account in the Secret', async () => {
    const h = gcr();
    expect((await send(h, issuer.jwt(claims()))).statusCode).toBe(200);
    expect(h.reconciled).toEqual(['ImageRepository/apps/webapp', 'ImageRepository/apps/api']);
  });

  it('hands the filters the registry event inside the push, as Flux does', async () => {
    const h = gcr(undefined, { resourceFilter: 'req.tag.contains(res.metadata.name)' });
    expect((await send(h, issuer.jwt(claims()))).statusCode).toBe(200);
    expect(h.reconciled).toEqual(['ImageRepository/apps/webapp']);
  });

  it.each([
    ['another audience', claims({ aud: 'https://elsewhere.example.com' })],
    ['another service account', claims({ email: 'someone@example-project.iam.gserviceaccount.com' })],
    ['an unverified email', claims({ email_verified: false })],
    ['another issuer', claims({ iss: 'https://token.actions.githubusercontent.com' })],
    ['an expired token', claims({ exp: NOW / 1000 - 3600 })],
  ])('answers a token with %s with an empty 401', async (_what, tokenClaims) => {
    const h = gcr();
    const res = await send(h, issuer.jwt(tokenClaims));
    expect(res.statusCode).toBe(401);
    expect(res.body).toBe('');
    expect(h.reconciled).toEqual([]);
  });

  it('answers a token signed by another key, a forged alg, or no token with 401', async () => {
    const h = gcr();
    const stranger = testIssuer('test-key-1'); // same kid, different key
    expect((await send(h, stranger.jwt(claims()))).statusCode).toBe(401);
    const [header, body] = issuer.jwt(claims(), { alg: 'none' }).split('.');
    expect((await send(h, `${header}.${body}.`)).statusCode).toBe(401);
    expect((await h.send({ payload: PUSH, headers: { 'content-type': 'application/json' } })).statusCode).toBe(401);
    expect(h.logs.join('\n')).not.toContain(issuer.jwt(claims()).split('.')[2]);
  });

  it("refuses with 400 when the Secret lacks 'email' or 'audience', as Flux does", async () => {
    const h = gcr({ token: TOKEN, audience: AUDIENCE });
    expect((await send(h, issuer.jwt(claims()))).statusCode).toBe(400);
  });

  it('refuses a push whose data is not a registry event with 400', async () => {
    const h = gcr();
    const push = JSON.stringify({ message: { data: Buffer.from('not json').toString('base64'), messageId: '1' } });
    expect((await send(h, issuer.jwt(claims()), push)).statusCode).toBe(400);
  });

  it('reports a token failure by the check that failed, never by the token or a claim', async () => {
    const verifier = issuer.verifier(() => NOW);
    await expect(verifier.verify(`Bearer ${issuer.jwt(claims({ aud: 'https://elsewhere.example.com' }))}`, { email: EMAIL, audience: AUDIENCE }))
      .rejects.toThrow(new IdTokenError("the token's audience is not the Secret's 'audience'"));
  });
});
