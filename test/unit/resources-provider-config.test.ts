import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveProviderConfig, type ReferencedSecrets } from '../../src/resources/provider-config.js';
import type { Provider, ProviderSpec, Secret } from '../../src/api/types.js';

function provider(spec: Partial<ProviderSpec>): Provider {
  return {
    apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
    kind: 'Provider',
    metadata: { name: 'hook', namespace: 'apps', uid: '8f0e6d2a-1111-2222-3333-444455556666' },
    spec: { type: 'generic', ...spec },
  };
}

function secret(name: string, data: Record<string, string>): Secret {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'apps' }, data };
}

function resolve(spec: Partial<ProviderSpec>, secrets: ReferencedSecrets, commitStatus = false) {
  const result = resolveProviderConfig(provider(spec), secrets, { commitStatus });
  if (!result.ok) throw new Error(`unexpected findings: ${JSON.stringify(result.findings)}`);
  return result.resolved;
}

describe('resolveProviderConfig', () => {
  it('uses the spec alone when no Secret is referenced', () => {
    const { config, addressField } = resolve({ address: 'https://a.example.com', channel: 'ops', username: 'flux', proxy: 'http://proxy:3128' }, {});
    expect(config).toMatchObject({
      name: 'hook',
      namespace: 'apps',
      uid: '8f0e6d2a-1111-2222-3333-444455556666',
      type: 'generic',
      address: 'https://a.example.com',
      channel: 'ops',
      username: 'flux',
      proxy: 'http://proxy:3128',
      headers: {},
      timeoutMs: 15_000,
      secret: {},
      sensitiveValues: [],
    });
    expect(config.token).toBeUndefined();
    expect(addressField).toBe('spec.address');
  });

  it('derives a stable UUID-shaped uid when the manifest has none (manifests directory)', () => {
    const withoutUid = (name: string) => {
      const p = provider({ address: 'https://a.example.com' });
      p.metadata = { name, namespace: 'apps' };
      const result = resolveProviderConfig(p, {}, { commitStatus: true });
      if (!result.ok) throw new Error('unexpected findings');
      return result.resolved.config.uid;
    };
    const uid = withoutUid('hook');
    expect(uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(withoutUid('hook')).toBe(uid);
    expect(withoutUid('other')).not.toBe(uid);
  });

  it("folds the Secret's keys over the spec, as Flux does", () => {
    const s = secret('hook', {
      address: '  https://hooks.example.com/T0KEN\n',
      proxy: 'http://secret-proxy:3128\n',
      token: 'tok-value',
      username: 'secret-user',
      password: 'pass-value',
      headers: 'Authorization: Bearer h3ader\nX-Team: "platform"\n',
      extra: 'kept for adapters',
    });
    const { config, addressField, proxyField } = resolve(
      { address: 'https://spec.example.com', proxy: 'http://spec-proxy:3128', username: 'spec-user', timeout: '2m' },
      { secret: s },
    );
    expect(config).toMatchObject({
      address: 'https://hooks.example.com/T0KEN',
      proxy: 'http://secret-proxy:3128',
      token: 'tok-value',
      username: 'secret-user',
      password: 'pass-value',
      headers: { Authorization: 'Bearer h3ader', 'X-Team': 'platform' },
      timeoutMs: 120_000,
    });
    expect(config.secret).toEqual(s.data);
    expect(addressField).toBe("key 'address' of Secret 'apps/hook' (spec.secretRef)");
    expect(proxyField).toBe("key 'proxy' of Secret 'apps/hook' (spec.secretRef)");
    // Every Secret value, its trimmed form, each header value and the resolved address.
    expect(config.sensitiveValues).toEqual(
      expect.arrayContaining(['https://hooks.example.com/T0KEN', 'tok-value', 'pass-value', 'secret-user', 'Bearer h3ader', 'kept for adapters']),
    );
  });

  it('folds the proxySecretRef credentials into the proxy URL, which wins over the other proxies', () => {
    const { config, proxyField } = resolve(
      { proxy: 'http://spec-proxy:3128', secretRef: { name: 'hook' }, proxySecretRef: { name: 'proxy' } },
      {
        secret: secret('hook', { proxy: 'http://secret-proxy:3128' }),
        proxySecret: secret('proxy', { address: 'https://proxy.example.com:8443', username: 'pr@xy', password: 'p:ss/word' }),
      },
    );
    const url = new URL(config.proxy ?? '');
    expect(url.host).toBe('proxy.example.com:8443');
    expect(decodeURIComponent(url.username)).toBe('pr@xy');
    expect(decodeURIComponent(url.password)).toBe('p:ss/word');
    expect(proxyField).toBe("key 'address' of Secret 'apps/proxy' (spec.proxySecretRef)");
    expect(config.sensitiveValues).toContain(config.proxy);
  });

  it('does not treat spec.address and spec.proxy as secrets', () => {
    const { config } = resolve({ address: 'https://public.example.com', proxy: 'http://proxy:3128' }, { secret: secret('hook', { token: 'tok-value' }) });
    expect(config.sensitiveValues).toEqual(['tok-value']);
  });
});

describe('resolveProviderConfig TLS', () => {
  let dir: string;
  let cert: string;
  let key: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'herald-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=herald-test',
      '-keyout', path.join(dir, 'tls.key'), '-out', path.join(dir, 'tls.crt'),
    ], { stdio: 'ignore' });
    cert = readFileSync(path.join(dir, 'tls.crt'), 'utf8');
    key = readFileSync(path.join(dir, 'tls.key'), 'utf8');
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads ca.crt, tls.crt and tls.key from certSecretRef', () => {
    const { config } = resolve({ certSecretRef: { name: 'certs' } }, { certSecret: secret('certs', { 'ca.crt': cert, 'tls.crt': cert, 'tls.key': key }) });
    expect(config.tls).toEqual({ ca: cert, cert, key });
    expect(config.sensitiveValues).toContain(key);
  });

  it('accepts the legacy caFile key', () => {
    const { config } = resolve({ certSecretRef: { name: 'certs' } }, { certSecret: secret('certs', { caFile: cert }) });
    expect(config.tls).toEqual({ ca: cert });
  });

  it('takes ca.crt from spec.secretRef for commit-status providers only', () => {
    const secrets = { secret: secret('hook', { token: 't', 'ca.crt': cert }) };
    expect(resolve({ secretRef: { name: 'hook' } }, secrets, true).config.tls).toEqual({ ca: cert });
    expect(resolve({ secretRef: { name: 'hook' } }, secrets, false).config.tls).toBeUndefined();
  });

  it('rejects a key that does not belong to the certificate', () => {
    const otherKey = execFileSync('openssl', ['genrsa', '2048'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    const result = resolveProviderConfig(
      provider({ certSecretRef: { name: 'certs' } }),
      { certSecret: secret('certs', { 'tls.crt': cert, 'tls.key': otherKey }) },
      { commitStatus: false },
    );
    expect(result.ok).toBe(false);
    expect(!result.ok && result.findings[0]?.message).toMatch(/^Secret 'apps\/certs' \(spec\.certSecretRef\) holds unusable TLS material: /);
    expect(JSON.stringify(result)).not.toContain('PRIVATE KEY');
  });
});
