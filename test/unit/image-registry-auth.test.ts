/** Docker config Secrets → registry credentials, and WWW-Authenticate parsing. */
import { describe, expect, it } from 'vitest';
import { credentialsFromDockerConfig, parseChallenges } from '../../src/image/registry-auth.js';
import { errorText } from '../../src/image/registry.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function secret(data: Record<string, string>) {
  return { metadata: { name: 'regcred', namespace: 'apps' }, data };
}

function config(auths: Record<string, unknown>) {
  return secret({ '.dockerconfigjson': JSON.stringify({ auths }) });
}

describe('credentials from a docker config Secret', () => {
  it.each([
    ['https://index.docker.io/v1/', 'index.docker.io'],
    ['docker.io', 'index.docker.io'],
    ['ghcr.io', 'ghcr.io'],
    ['http://127.0.0.1:5000', '127.0.0.1:5000'],
  ])('auths key %s serves %s', (key, registry) => {
    expect(credentialsFromDockerConfig(config({ [key]: { auth: b64('u:p:with:colons') } }), registry)).toEqual({ username: 'u', password: 'p:with:colons' });
  });

  it('username/password and identity / registry tokens', () => {
    expect(credentialsFromDockerConfig(config({ 'ghcr.io': { username: 'u', password: 'p', identitytoken: 'i', registrytoken: 'r' } }), 'ghcr.io')).toEqual({
      username: 'u',
      password: 'p',
      identityToken: 'i',
      registryToken: 'r',
    });
  });

  it('the exact host wins over another spelling of Docker Hub', () => {
    const creds = credentialsFromDockerConfig(config({ 'docker.io': { auth: b64('alias:x') }, 'index.docker.io': { auth: b64('exact:y') } }), 'index.docker.io');
    expect(creds?.username).toBe('exact');
  });

  it('no entry for the registry: anonymous', () => {
    expect(credentialsFromDockerConfig(config({ 'quay.io': { auth: b64('u:p') } }), 'ghcr.io')).toBeUndefined();
  });

  it('the legacy .dockercfg form', () => {
    expect(credentialsFromDockerConfig(secret({ '.dockercfg': JSON.stringify({ 'ghcr.io': { auth: b64('u:p') } }) }), 'ghcr.io')).toEqual({ username: 'u', password: 'p' });
  });

  it.each([
    [{}, "secret 'apps/regcred' has neither a '.dockerconfigjson' nor a '.dockercfg' key"],
    [{ '.dockerconfigjson': '{"auths": {"ghcr.io": {"password": "leak-me-not"' }, "secret 'apps/regcred' key '.dockerconfigjson' is not valid JSON"],
    [{ '.dockerconfigjson': '{"credHelpers": {}}' }, "secret 'apps/regcred' key '.dockerconfigjson' has no 'auths' map"],
    [{ '.dockerconfigjson': JSON.stringify({ auths: { 'ghcr.io': { auth: b64('no-colon-secret') } } }) }, "'auth' of 'ghcr.io' is not base64 of user:password"],
  ])('%j → %s', (data, message) => {
    let caught: Error | undefined;
    try {
      credentialsFromDockerConfig(secret(data as Record<string, string>), 'ghcr.io');
    } catch (err) {
      caught = err as Error;
    }
    expect(caught?.message).toContain(message);
    expect(caught?.message).not.toContain('leak-me-not');
    expect(caught?.message).not.toContain('no-colon-secret');
  });
});

describe('WWW-Authenticate', () => {
  it.each([
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
      [{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' } }],
    ],
    ['Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    ['basic realm=simple', [{ scheme: 'basic', params: { realm: 'simple' } }]],
    [
      'Basic realm="a, b", Bearer realm="https://x/token", service=x',
      [
        { scheme: 'basic', params: { realm: 'a, b' } },
        { scheme: 'bearer', params: { realm: 'https://x/token', service: 'x' } },
      ],
    ],
    ['Bearer realm="with \\"quotes\\""', [{ scheme: 'bearer', params: { realm: 'with "quotes"' } }]],
    ['', []],
  ])('%s', (header, expected) => {
    expect(parseChallenges(header)).toEqual(expected);
  });
});

describe('registry error text', () => {
  const secretValue = 'zq9x7w-planted-credential';
  const mask = (text: string) => text.split(secretValue).join('*****');
  const answer = (message: string, status = 403) => ({ status, body: Buffer.from(JSON.stringify({ errors: [{ code: 'DENIED', message }] })) });

  it('names the codes, messages and status', () => {
    expect(errorText('GET https://r/v2/a/tags/list', answer('no'), mask)).toBe('GET https://r/v2/a/tags/list: DENIED: no (403 Forbidden)');
    expect(errorText('GET https://r/v2/', { status: 404, body: Buffer.from('<html>') }, mask)).toBe('GET https://r/v2/: unexpected status code 404 Not Found');
  });

  it('masks a credential the registry quotes right across the cut, before cutting', () => {
    // "DENIED: " is 8 characters: the value starts 2 characters before the 300-character cut.
    const text = errorText('GET https://r/v2/', answer(`${'.'.repeat(290)}${secretValue}`), mask);
    expect(text).not.toContain(secretValue.slice(0, 2));
    expect(text.length).toBeLessThan(400);
  });
});
