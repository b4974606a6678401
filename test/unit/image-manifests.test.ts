/** ImageRepository / ImagePolicy validation, Go durations and `spec.image` parsing. */
import { describe, expect, it } from 'vitest';
import { TIMEOUT_PATTERN, formatDuration, parseDuration } from '../../src/image/duration.js';
import { authKeyMatches, parseImageReference } from '../../src/image/image-ref.js';
import { validateImagePolicy, validateImageRepository } from '../../src/image/manifests.js';

function repo(spec: Record<string, unknown>, apiVersion = 'image.toolkit.fluxcd.io/v1') {
  return { apiVersion, kind: 'ImageRepository', metadata: { name: 'app', namespace: 'apps' }, spec };
}

function policy(spec: Record<string, unknown>) {
  return { apiVersion: 'image.toolkit.fluxcd.io/v1', kind: 'ImagePolicy', metadata: { name: 'app' }, spec };
}

describe('Go durations', () => {
  it.each([
    [300_000, '5m0s'],
    [3_600_000, '1h0m0s'],
    [30_000, '30s'],
    [5_400_000, '1h30m0s'],
    [1500, '1.5s'],
    [0, '0s'],
    [299_500, '4m59.5s'],
    [0.5, '500µs'],
    [1.5, '1.5ms'],
    [0.000001, '1ns'],
    [90_061_001, '25h1m1.001s'],
    [-1500, '-1.5s'],
  ])('%d ms → %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it.each([
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    ['10ms', 10],
    ['2m30s', 150_000],
    ['5x', undefined],
    ['', undefined],
    ['-1s', undefined],
    ['1', undefined],
  ])('interval %j → %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it('a timeout has no hours', () => {
    expect(parseDuration('1h', TIMEOUT_PATTERN)).toBeUndefined();
    expect(parseDuration('90m', TIMEOUT_PATTERN)).toBe(5_400_000);
  });
});

describe('spec.image', () => {
  it.each([
    ['alpine', 'index.docker.io', 'library/alpine'],
    ['docker.io/library/alpine', 'index.docker.io', 'library/alpine'],
    ['docker.io/alpine', 'index.docker.io', 'library/alpine'],
    ['stefanprodan/podinfo', 'index.docker.io', 'stefanprodan/podinfo'],
    ['ghcr.io/stefanprodan/podinfo', 'ghcr.io', 'stefanprodan/podinfo'],
    ['example.com:9999/foo/bar', 'example.com:9999', 'foo/bar'],
    ['localhost/foo', 'localhost', 'foo'],
    ['localhost:5000/a/b/c', 'localhost:5000', 'a/b/c'],
  ])('%s → %s / %s', (image, registry, repository) => {
    expect(parseImageReference(image)).toMatchObject({ registry, repository, canonical: `${registry}/${repository}` });
  });

  it('loopback registries fall back to http, insecure ones use it at once', () => {
    expect(parseImageReference('127.0.0.1:5000/a')).toMatchObject({ scheme: 'https', httpFallback: true });
    expect(parseImageReference('192.168.1.2:5000/a')).toMatchObject({ scheme: 'https', httpFallback: true });
    expect(parseImageReference('ghcr.io/a')).toMatchObject({ scheme: 'https', httpFallback: false });
    expect(parseImageReference('ghcr.io/a', true)).toMatchObject({ scheme: 'http', httpFallback: false });
  });

  it.each([
    ['https://ghcr.io/app', "image 'https://ghcr.io/app' should not include URL scheme; remove 'https://'"],
    ['ghcr.io/app:1.0', "image 'ghcr.io/app:1.0' should not include a tag; remove ':1.0'"],
    ['alpine:3.18', "image 'alpine:3.18' should not include a tag; remove ':3.18'"],
    ['localhost:5000/foo:1.0', "image 'localhost:5000/foo:1.0' should not include a tag; remove ':1.0'"],
    ['ghcr.io/App', "could not parse reference: ghcr.io/App: repository can only contain the characters 'abcdefghijklmnopqrstuvwxyz0123456789_-./'"],
  ])('%s is refused: %s', (image, message) => {
    expect(() => parseImageReference(image)).toThrow(message);
  });

  it.each([
    ['https://index.docker.io/v1/', 'index.docker.io', true],
    ['docker.io', 'index.docker.io', true],
    ['registry-1.docker.io', 'index.docker.io', true],
    ['ghcr.io', 'index.docker.io', false],
    ['http://localhost:5000', 'localhost:5000', true],
    ['localhost:5000/v2/', 'localhost:5000', true],
    ['localhost', 'localhost:5000', false],
    ['GHCR.IO', 'ghcr.io', true],
  ])('auths key %s matches %s: %s', (key, registry, matches) => {
    expect(authKeyMatches(key, registry)).toBe(matches);
  });
});

describe('ImageRepository validation', () => {
  it('applies Flux defaults: exclusion list, timeout = interval, provider', () => {
    const v = validateImageRepository(repo({ image: 'ghcr.io/app', interval: '5m' }));
    expect(v).toMatchObject({
      ok: true,
      object: {
        intervalMs: 300_000,
        timeoutMs: 300_000,
        exclusionList: ['^.*\\.sig$'],
        resource: { apiVersion: 'image.toolkit.fluxcd.io/v1', spec: { provider: 'generic', exclusionList: ['^.*\\.sig$'] } },
      },
    });
  });

  it('accepts v1beta2 and writes v1', () => {
    const v = validateImageRepository(repo({ image: 'ghcr.io/app', interval: '1m' }, 'image.toolkit.fluxcd.io/v1beta2'));
    expect(v.ok && v.object.resource.apiVersion).toBe('image.toolkit.fluxcd.io/v1');
  });

  it('a timeout below one second is raised to one second; a list replaces the default', () => {
    const v = validateImageRepository(repo({ image: 'ghcr.io/app', interval: '1m', timeout: '100ms', exclusionList: ['^dev'] }));
    expect(v).toMatchObject({ ok: true, object: { timeoutMs: 1000, exclusionList: ['^dev'] } });
  });

  it.each([
    [{ interval: '1m' }, 'spec.image: required'],
    [{ image: 'ghcr.io/app' }, 'spec.interval: required'],
    [{ image: 'ghcr.io/app', interval: '5 minutes' }, "spec.interval: '5 minutes' is not a duration"],
    [{ image: 'ghcr.io/app', interval: '1m', timeout: '1h' }, "spec.timeout: '1h' is not a duration"],
    [{ image: 'ghcr.io/app:1', interval: '1m' }, "spec.image: image 'ghcr.io/app:1' should not include a tag; remove ':1'"],
    [{ image: 'ghcr.io/app', interval: '1m', provider: 'oracle' }, "spec.provider: must be one of generic, aws, azure, gcp, got 'oracle'"],
    [{ image: 'ghcr.io/app', interval: '1m', exclusionList: Array(26).fill('x') }, 'spec.exclusionList: at most 25 patterns, got 26'],
    [{ image: 'ghcr.io/app', interval: '1m', insecure: 'yes' }, 'spec.insecure: must be true or false'],
    [{ image: 'ghcr.io/app', interval: '1m', secretRef: {} }, 'spec.secretRef.name: required'],
    [{ image: 42, interval: '1m' }, 'spec.image: must be a string, not number'],
  ])('%j → %s', (spec, message) => {
    const v = validateImageRepository(repo(spec));
    expect(v.ok).toBe(false);
    expect(!v.ok && v.errors.join('\n')).toContain(message);
  });

  it('names the apiVersion and kind at fault', () => {
    const v = validateImageRepository({ apiVersion: 'image.toolkit.fluxcd.io/v1beta1', kind: 'ImageRepository', metadata: { name: 'a' }, spec: { image: 'a', interval: '1m' } });
    expect(!v.ok && v.errors[0]).toMatch(/^apiVersion: must be one of image.toolkit.fluxcd.io\/v1, image.toolkit.fluxcd.io\/v1beta2/);
  });
});

describe('ImagePolicy validation', () => {
  it('a valid semver policy, namespace defaulted', () => {
    const v = validateImagePolicy(policy({ imageRepositoryRef: { name: 'app' }, policy: { semver: { range: '>=1.0.0' } } }), 'apps');
    expect(v).toMatchObject({ ok: true, object: { digestReflectionPolicy: 'Never', resource: { metadata: { namespace: 'apps' } } } });
  });

  it.each([
    [{ policy: { semver: { range: '1' } } }, 'spec.imageRepositoryRef: required'],
    [{ imageRepositoryRef: { name: 'a' }, policy: {} }, 'spec.policy: exactly one of semver, alphabetical, numerical must be set'],
    [
      { imageRepositoryRef: { name: 'a' }, policy: { semver: { range: '1' }, numerical: {} } },
      'spec.policy: exactly one of semver, alphabetical, numerical must be set, got semver, numerical',
    ],
    [{ imageRepositoryRef: { name: 'a' }, policy: { semver: { range: 'not a range' } } }, 'spec.policy.semver.range: invalid policy: improper constraint: "not a range"'],
    [{ imageRepositoryRef: { name: 'a' }, policy: { semver: {} } }, 'spec.policy.semver.range: required'],
    [{ imageRepositoryRef: { name: 'a' }, policy: { numerical: { order: 'up' } } }, "spec.policy.numerical.order: must be asc or desc, got 'up'"],
    [
      { imageRepositoryRef: { name: 'a' }, policy: { alphabetical: {} }, filterTags: { pattern: '(' } },
      "spec.filterTags.pattern: failed to filter tags: invalid regular expression pattern '(': error parsing regexp: missing closing ): `(`",
    ],
    [
      { imageRepositoryRef: { name: 'a' }, policy: { alphabetical: {} }, digestReflectionPolicy: 'Always' },
      "spec.interval: must be set when spec.digestReflectionPolicy is set to 'Always'",
    ],
    [
      { imageRepositoryRef: { name: 'a' }, policy: { alphabetical: {} }, interval: '1m' },
      "spec.interval: is only accepted when spec.digestReflectionPolicy is set to 'Always'",
    ],
    [{ imageRepositoryRef: { name: 'a' }, policy: { alphabetical: {} }, digestReflectionPolicy: 'Sometimes' }, "spec.digestReflectionPolicy: must be one of Never, IfNotPresent, Always, got 'Sometimes'"],
  ])('%j → %s', (spec, message) => {
    const v = validateImagePolicy(policy(spec));
    expect(v.ok).toBe(false);
    expect(!v.ok && v.errors.join('\n')).toContain(message);
  });

  it('Always with an interval', () => {
    const v = validateImagePolicy(policy({ imageRepositoryRef: { name: 'a' }, policy: { alphabetical: {} }, digestReflectionPolicy: 'Always', interval: '2m' }));
    expect(v).toMatchObject({ ok: true, object: { intervalMs: 120_000, digestReflectionPolicy: 'Always' } });
  });
});
