/**
 * No credential in anything the image reflector produces — errors, status, events — even when
 * the registry quotes the request's headers back in its error messages: Basic passwords (and
 * their base64 form), bearer tokens the realm issued, identity tokens, proxy passwords.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { validateImageRepository } from '../../src/image/manifests.js';
import { createRegistryClient, type RegistryClient } from '../../src/image/registry.js';
import { reconcileImageRepository } from '../../src/image/repository.js';
import { MemoryTagStore } from '../../src/image/tag-store.js';
import { freePort } from '../support/herald.js';
import { startStandin, type Standin, type StandinOptions } from '../support/registry-standin.js';

const PASSWORD = 'planted-registry-password-7731';
const IDENTITY = 'planted-identity-token-5512';
const PROXY_PASSWORD = 'planted-proxy-password-9904';
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function reconcile(standin: StandinOptions, auths: Record<string, string>, repository = 'team/app', extraSecrets: Record<string, Record<string, string>> = {}, spec: Record<string, unknown> = {}) {
  const s = await startStandin({ quoteRequests: true, ...standin });
  const clients: RegistryClient[] = [];
  cleanups.push(async () => {
    for (const c of clients) await c.close();
    await s.close();
  });
  const v = validateImageRepository({
    apiVersion: 'image.toolkit.fluxcd.io/v1',
    kind: 'ImageRepository',
    metadata: { name: 'app', namespace: 'apps' },
    spec: { image: `${s.host}/${repository}`, interval: '5m', timeout: '5s', insecure: true, secretRef: { name: 'regcred' }, ...spec },
  });
  if (!v.ok) throw new Error(v.errors.join('; '));
  const secrets: Record<string, Record<string, string>> = {
    regcred: { '.dockerconfigjson': JSON.stringify({ auths: { [s.host]: auths } }) },
    ...extraSecrets,
  };
  const out = await reconcileImageRepository(v.object, {
    store: new MemoryTagStore(),
    secret: (namespace, name) => (secrets[name] ? { metadata: { namespace, name }, data: secrets[name] } : undefined),
    client: (config) => {
      const c = createRegistryClient({ ...config, maxAttempts: 1 });
      clients.push(c);
      return c;
    },
  });
  return { s, out };
}

function expectClean(s: Standin, produced: unknown, planted: string[]) {
  const text = JSON.stringify(produced);
  for (const p of [...planted, ...s.tokenValues]) expect(text, `leaks ${p.slice(0, 6)}…`).not.toContain(p);
}

describe('no credential in errors, status or events', () => {
  it('Basic: a registry that quotes the Authorization header back', async () => {
    const { s, out } = await reconcile({ repositories: { 'team/app': ['v1'] }, auth: 'basic', users: { bot: 'another' } }, { username: 'bot', password: PASSWORD });
    expect(out.status.conditions?.[0]?.message).toContain('you sent');
    expect(out.status.conditions?.[0]?.message).toContain('*****');
    expectClean(s, out, [PASSWORD, Buffer.from(`bot:${PASSWORD}`).toString('base64')]);
  });

  it('Bearer: the issued token quoted back on a 404', async () => {
    const auth = Buffer.from(`bot:${PASSWORD}`).toString('base64');
    const { s, out } = await reconcile({ repositories: {}, auth: 'bearer', users: { bot: PASSWORD } }, { auth }, 'team/missing');
    expect(s.tokenValues).toHaveLength(1);
    expect(out.status.conditions?.[0]?.message).toContain('NAME_UNKNOWN');
    expect(out.status.conditions?.[0]?.message).toContain('Bearer *****');
    expectClean(s, out, [PASSWORD, auth]);
  });

  it('an identity token the realm refuses', async () => {
    const { s, out } = await reconcile({ repositories: { 'team/app': ['v1'] }, auth: 'bearer', identityToken: 'other' }, { identitytoken: IDENTITY });
    expect(out.status.conditions?.[0]?.reason).toBe('ReadOperationFailed');
    expectClean(s, out, [IDENTITY]);
  });

  it('a proxy that does not answer', async () => {
    const deadPort = await freePort();
    const { s, out } = await reconcile(
      { repositories: { 'team/app': ['v1'] } },
      {},
      'team/app',
      { proxy: { address: `http://127.0.0.1:${deadPort}`, username: 'proxyuser', password: PROXY_PASSWORD } },
      { proxySecretRef: { name: 'proxy' } },
    );
    expect(out.status.conditions?.[0]?.reason).toBe('ReadOperationFailed');
    expectClean(s, out, [PROXY_PASSWORD, Buffer.from(`proxyuser:${PROXY_PASSWORD}`).toString('base64')]);
  });
});
