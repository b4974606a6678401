import { describe, expect, it } from 'vitest';
import {
  commitSha,
  commitStatusId,
  eventRevision,
  parseGitAddress,
  sha1Hex,
  shaFromRevision,
  splitCamelCase,
  statusDescription,
  statusName,
} from '../../providers/commit-status.js';
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
