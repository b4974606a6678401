import { describe, expect, it } from 'vitest';
import {
  commitSha,
  commitState,
  commitStatusId,
  eventRevision,
  newestOfContextMatches,
  parseGitAddress,
  parseOwnerRepo,
  repositoryProblem,
  sha1Hex,
  shaFromRevision,
  splitCamelCase,
  statusDescription,
  statusName,
  tokenOrPassword,
} from '../../providers/commit-status/shared.js';
import { DeliveryError } from '../../providers/http.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';

const SHA = '5394cb7f48332b2de7c17dd8b8384bbc84b7e738';

describe('splitCamelCase', () => {
  it.each([
    ['ReconciliationSucceeded', ['Reconciliation', 'Succeeded']],
    ['HealthCheckFailed', ['Health', 'Check', 'Failed']],
    ['PDFLoader', ['PDF', 'Loader']],
    ['lowercase', ['lowercase']],
    ['Progressing', ['Progressing']],
    ['BuildFailed2Times', ['Build', 'Failed', '2', 'Times']],
    ['Already-Exists', ['Already', '-', 'Exists']],
    ['', []],
    ['ÜberÄnderung', ['Über', 'Änderung']],
  ])('%j → %j', (input, parts) => {
    expect(splitCamelCase(input)).toEqual(parts);
  });

  it('gives the description Flux gives: split and lower-cased', () => {
    expect(statusDescription(kustomizationEvent({ reason: 'BuildFailed' }))).toBe('build failed');
    expect(statusDescription(kustomizationEvent({ reason: 'ReconciliationSucceeded' }))).toBe('reconciliation succeeded');
    expect(statusDescription(kustomizationEvent({ reason: undefined }))).toBe('');
  });
});

describe('commit status id and name', () => {
  it('is <kind>/<name>/<first uid segment>, lower-cased', () => {
    const config = testProviderConfig({ type: 'github', uid: '0C9C2E41-d2f9-4f9b-9c41-bebc1984d67a' });
    const event = kustomizationEvent({ involvedObject: { kind: 'Kustomization', name: 'GitOps-System', namespace: 'flux-system' } });
    expect(commitStatusId(config, event)).toBe('kustomization/gitops-system/0c9c2e41');
    expect(statusName(event)).toBe('kustomization/gitops-system');
  });

  it('keys Bitbucket statuses by the SHA-1 of the id', () => {
    expect(sha1Hex('kustomization/namespace-foo-and-service-bar')).toBe('12ea142172e98435e16336acbbed8919610922c3');
  });
});

describe('revision and SHA', () => {
  it.each([
    [`main@sha1:${SHA}`, SHA],
    [`feature/branch@sha1:${SHA}`, SHA],
    [`sha1:${SHA}`, SHA],
    [`main/${SHA}`, SHA],
    [`feature/branch/${SHA}`, SHA],
    [SHA, SHA],
    [`v1.2.3@sha1:${SHA}`, SHA],
  ])('extracts the SHA from %s', (revision, sha) => {
    expect(shaFromRevision(revision)).toBe(sha);
  });

  it.each([
    ['main@sha1:abc123'],
    [`sha256:${'a'.repeat(64)}`],
    ['6.1.0'],
    [`main@sha1:${'g'.repeat(40)}`],
    [''],
  ])('rejects %j', (revision) => {
    expect(shaFromRevision(revision)).toBeUndefined();
  });

  it('looks at commit, then originRevision, then revision (all prefix-stripped)', () => {
    const other = 'f'.repeat(40);
    expect(eventRevision(kustomizationEvent({ metadata: { revision: `main@sha1:${other}`, commit: SHA } }))).toBe(SHA);
    expect(eventRevision(kustomizationEvent({ metadata: { revision: `main@sha1:${other}`, originRevision: `sha1:${SHA}` } }))).toBe(
      `sha1:${SHA}`,
    );
    expect(eventRevision(kustomizationEvent({ metadata: { revision: `main@sha1:${SHA}` } }))).toBe(`main@sha1:${SHA}`);
    expect(eventRevision(kustomizationEvent({ metadata: {} }))).toBeUndefined();
  });

  it('throws non-retryable DeliveryErrors for a missing or invalid revision', () => {
    const missing = () => commitSha(kustomizationEvent({ metadata: {} }));
    expect(missing).toThrow(DeliveryError);
    expect(missing).toThrow(/missing revision/);
    try {
      commitSha(kustomizationEvent({ metadata: { revision: 'main@sha1:1234' } }));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(DeliveryError);
      expect((err as DeliveryError).retryable).toBe(false);
      expect((err as DeliveryError).message).toContain('main@sha1:1234');
    }
  });
});

describe('parseGitAddress', () => {
  it.each([
    ['https://github.com/foo/bar', 'https://github.com', 'foo/bar'],
    ['https://github.com/foo/bar.git', 'https://github.com', 'foo/bar'],
    ['http://127.0.0.1:8080/foo/bar', 'http://127.0.0.1:8080', 'foo/bar'],
    ['ssh://git@github.com/stefanprodan/podinfo', 'https://github.com', 'stefanprodan/podinfo'],
    ['git@github.com:foo/bar.git', 'https://github.com', 'foo/bar'],
    ['https://gitlab.com/foo/bar/foo.git', 'https://gitlab.com', 'foo/bar/foo'],
    ['https://dev.azure.com/org/proj/_git/repo', 'https://dev.azure.com', 'org/proj/_git/repo'],
  ])('%s → %s + %s', (address, host, id) => {
    expect(parseGitAddress(address)).toEqual({ host, id });
  });

  it('rejects what is not an address', () => {
    expect(parseGitAddress('not a url')).toBeUndefined();
    expect(parseGitAddress('')).toBeUndefined();
  });
});

describe('what the commit-status adapters share', () => {
  it('has a state for info and error events only, and fails any other without retry', () => {
    const states = { info: 'ok', error: 'ko' };
    expect(commitState('info', states, 'a test state')).toBe('ok');
    expect(commitState('error', states, 'a test state')).toBe('ko');
    const trace = () => commitState('trace', states, 'a test state');
    expect(trace).toThrow(DeliveryError);
    expect(trace).toThrow('cannot convert severity "trace" to a test state');
    try {
      trace();
      expect.unreachable();
    } catch (err) {
      expect((err as DeliveryError).retryable).toBe(false);
    }
  });

  it('lets the newest status of the context decide, passing over what the predicate rejects', () => {
    type S = { context?: unknown; state?: unknown; description?: unknown };
    const ofApps = (s: S) => s.context === 'apps' && typeof s.state === 'string';
    const wanted = { state: 'failure', description: 'health check failed' };
    const newer = { context: 'apps', state: 'success', description: 'health check failed' };
    const older = { context: 'apps', state: 'failure', description: 'health check failed' };
    expect(newestOfContextMatches([null, 'x', { context: 'other' }, older, newer], ofApps, wanted)).toBe(true);
    expect(newestOfContextMatches([newer, older], ofApps, wanted)).toBe(false);
    expect(newestOfContextMatches([{ context: 'apps', state: 1 }, older], ofApps, wanted)).toBe(true);
    expect(newestOfContextMatches({ value: [older] }, ofApps, wanted)).toBe(false);
    expect(newestOfContextMatches(undefined, ofApps, wanted)).toBe(false);
  });

  it('parses <owner>/<repo> addresses only', () => {
    expect(parseOwnerRepo('git@github.com:foo/bar.git')).toEqual({ host: 'https://github.com', owner: 'foo', repo: 'bar' });
    expect(parseOwnerRepo('https://gitea.example.com:3000/foo/bar')).toEqual({ host: 'https://gitea.example.com:3000', owner: 'foo', repo: 'bar' });
    expect(parseOwnerRepo('https://github.com/foo')).toBeUndefined();
    expect(parseOwnerRepo('https://gitlab.com/group/sub/project')).toBeUndefined();
    expect(parseOwnerRepo('not a url')).toBeUndefined();
  });

  it('names the address it cannot parse, without quoting it', () => {
    const config = testProviderConfig({ type: 'github', address: 'https://github.com/foo' });
    const parse = (address: string) => address.endsWith('/bar');
    expect(repositoryProblem(config, parse, 'a test repository', '<x>/<y>')).toBe(
      'spec.address is not a test repository address: expected <x>/<y>',
    );
    expect(repositoryProblem({ ...config, address: 'https://github.com/foo/bar' }, parse, 'a', 'b')).toBeUndefined();
  });

  it('takes the token, else the password', () => {
    expect(tokenOrPassword(testProviderConfig({ type: 'gitea', token: 'tok', password: 'pw' }))).toBe('tok');
    expect(tokenOrPassword(testProviderConfig({ type: 'gitea', password: 'pw' }))).toBe('pw');
    expect(tokenOrPassword(testProviderConfig({ type: 'gitea', token: '', password: '' }))).toBeUndefined();
  });
});
