/** ImageUpdateAutomation and GitRepository manifests: Flux's defaults, and errors naming the field. */
import { describe, expect, it } from 'vitest';
import { normaliseUpdatePath, parseDuration, parseGitRepository, parseImageUpdateAutomation, selectorMatches } from '../../src/image/update/manifests.js';
import { eventsFor, observedPolicies, pushSummary, runAutomation } from '../../src/image/update/automation.js';
import { KeyedLock } from '../../src/image/update/git.js';

const minimal = {
  apiVersion: 'image.toolkit.fluxcd.io/v1',
  kind: 'ImageUpdateAutomation',
  metadata: { name: 'auto', namespace: 'flux-system' },
  spec: {
    interval: '30m',
    sourceRef: { kind: 'GitRepository', name: 'repo' },
    git: { commit: { author: { email: 'bot@example.com' } } },
  },
};

function errorsOf(raw: unknown): string[] {
  const parsed = parseImageUpdateAutomation(raw);
  return parsed.ok ? [] : parsed.errors;
}

describe('parseImageUpdateAutomation', () => {
  it("applies Flux's defaults", () => {
    const parsed = parseImageUpdateAutomation(minimal);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.spec).toMatchObject({
      interval: '30m',
      intervalMs: 1_800_000,
      update: { strategy: 'Setters', path: '' },
      suspend: false,
      git: { commit: { author: { name: '', email: 'bot@example.com' } } },
    });
    expect(parsed.value.apiVersion).toBe('image.toolkit.fluxcd.io/v1');
  });

  it('accepts v1beta2 and reads it as v1; refuses v1beta1', () => {
    const beta2 = parseImageUpdateAutomation({ ...minimal, apiVersion: 'image.toolkit.fluxcd.io/v1beta2' });
    expect(beta2.ok && beta2.value.apiVersion).toBe('image.toolkit.fluxcd.io/v1');
    expect(errorsOf({ ...minimal, apiVersion: 'image.toolkit.fluxcd.io/v1beta1' })[0]).toMatch(/apiVersion image.toolkit.fluxcd.io\/v1beta1 is not supported/);
  });

  it.each([
    [{ interval: '5 minutes' }, 'spec.interval "5 minutes" is not a duration such as 5m or 1h30m'],
    [{ sourceRef: { kind: 'Bucket', name: 'b' } }, "spec.sourceRef.kind: source kind 'Bucket' not supported"],
    [{ sourceRef: { kind: 'GitRepository' } }, 'spec.sourceRef.name is required'],
    [{ git: undefined }, "spec.git: source kind 'GitRepository' necessitates field .spec.git"],
    [{ git: { commit: { author: { name: 'x' } } } }, 'spec.git.commit.author.email is required'],
    [{ git: { commit: { author: { email: 'a@b' }, signingKey: { secretRef: { name: 'k' }, type: 'x509' } } } }, 'spec.git.commit.signingKey.type must be gpg or ssh, not "x509"'],
    [{ git: { commit: { author: { email: 'a@b' }, messageTemplateValues: { a: 1 } } } }, 'spec.git.commit.messageTemplateValues.a must be a string'],
    [{ git: { commit: { author: { email: 'a@b' } }, push: { branch: 'bad..name' } } }, 'spec.git.push.branch "bad..name" is not a valid branch name'],
    [{ git: { commit: { author: { email: 'a@b' } }, push: { refspec: '+refs/heads/a:refs/heads/b' } } }, 'spec.git.push.refspec: force-update refspecs (a leading +) are not supported'],
    [{ git: { commit: { author: { email: 'a@b' } }, push: { refspec: ':refs/heads/b' } } }, 'spec.git.push.refspec: deletion refspecs (an empty source) are not supported'],
    [{ git: { commit: { author: { email: 'a@b' } }, checkout: { ref: { commit: 'xyz' } } } }, 'spec.git.checkout.ref.commit must be a hexadecimal commit SHA'],
    [{ update: { strategy: 'Kustomize' } }, 'spec.update.strategy: unsupported update strategy: Kustomize'],
    [{ update: { path: '../outside' } }, 'spec.update.path "../outside" leaves the repository'],
    [{ policySelector: { matchExpressions: [{ key: 'a', operator: 'In' }] } }, "failed to parse policy selector: spec.policySelector.matchExpressions[0].values: for 'in', 'notin' operators, values set can't be empty"],
    [{ policySelector: { matchExpressions: [{ key: 'a', operator: 'Near', values: [] }] } }, 'failed to parse policy selector: spec.policySelector.matchExpressions[0].operator: "Near" is not a valid label selector operator'],
  ])('%j → %s', (specPatch, message) => {
    expect(errorsOf({ ...minimal, spec: { ...minimal.spec, ...specPatch } })).toContain(message);
  });
});

describe('parseGitRepository', () => {
  it('defaults the timeout to 60s and checks the URL and timeout', () => {
    const ok = parseGitRepository({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'r' }, spec: { url: 'https://example.com/r.git', secretRef: { name: 's' } } });
    expect(ok.ok && ok.value.spec).toEqual({ url: 'https://example.com/r.git', secretRef: { name: 's' }, timeoutMs: 60_000 });
    expect(ok.ok && ok.value.metadata.namespace).toBe('default');
    const bad = parseGitRepository({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'r' }, spec: { url: 'git@example.com:r.git', timeout: '1h' } });
    expect(bad.ok ? [] : bad.errors).toEqual(['spec.url must start with http://, https://, ssh:// or file://', 'spec.timeout "1h" is not a duration such as 60s or 1m30s']);
  });
});

describe('helpers', () => {
  it('parseDuration', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1h', false)).toBeUndefined();
    expect(parseDuration('')).toBeUndefined();
  });

  it('normaliseUpdatePath', () => {
    expect(normaliseUpdatePath('./')).toBe('');
    expect(normaliseUpdatePath('./apps//dev/')).toBe('apps/dev');
    expect(normaliseUpdatePath('apps/../base')).toBe('base');
    expect(normaliseUpdatePath('/abs/path')).toBe('abs/path');
    expect(normaliseUpdatePath('a/../../b')).toBeUndefined();
  });

  it('selectorMatches with Kubernetes semantics', () => {
    expect(selectorMatches(undefined, {})).toBe(true);
    expect(selectorMatches({ matchLabels: {} }, { a: '1' })).toBe(true);
    expect(selectorMatches({ matchLabels: { a: '1' } }, { a: '2' })).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'a', operator: 'In', values: ['1', '2'] }] }, { a: '2' })).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] }, {})).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'a', operator: 'Exists' }] }, {})).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'a', operator: 'DoesNotExist' }] }, { a: '' })).toBe(false);
  });
});

describe('automation outcome helpers', () => {
  const parsed = parseImageUpdateAutomation({ ...minimal, spec: { ...minimal.spec, policySelector: { matchLabels: { team: 'a' } } } });
  if (!parsed.ok) throw new Error('fixture');
  const iua = parsed.value;

  it("pushSummary is Flux's", () => {
    expect(pushSummary('0123456789abcdef', 'main', [], '')).toBe("pushed commit '0123456' to branch 'main'");
    expect(pushSummary('0123456789abcdef', 'main', ['refs/heads/main:refs/heads/a', 'x:y'], 'msg')).toBe(
      "pushed commit '0123456' to branch 'main' and refspecs 'refs/heads/main:refs/heads/a', 'x:y'\nmsg",
    );
  });

  it('observedPolicies keeps the namespace, the selector and a latest image only', () => {
    expect(
      observedPolicies(iua, [
        { namespace: 'flux-system', name: 'a', labels: { team: 'a' }, latestRef: { name: 'img', tag: '1', digest: 'sha256:x' } },
        { namespace: 'flux-system', name: 'b', labels: { team: 'b' }, latestRef: { name: 'img', tag: '2' } },
        { namespace: 'flux-system', name: 'c', labels: { team: 'a' } },
        { namespace: 'other', name: 'd', labels: { team: 'a' }, latestRef: { name: 'img', tag: '3' } },
      ]),
    ).toEqual({ a: { name: 'img', tag: '1', digest: 'sha256:x' } });
  });

  it("events follow Flux's rule: push → info, recovery → info, failure → error, otherwise none (trace)", () => {
    const now = new Date('2026-12-01T00:00:00Z');
    expect(eventsFor(iua, { kind: 'unchanged', skipped: false }, true, now)).toEqual([]);
    expect(eventsFor(iua, { kind: 'unchanged', skipped: true }, false, now)[0]).toMatchObject({ severity: 'info', reason: 'Succeeded', message: 'repository up-to-date' });
    expect(eventsFor(iua, { kind: 'failed', reason: 'GitOperationFailed', message: 'm', stalled: false }, true, now)).toEqual([
      {
        involvedObject: { kind: 'ImageUpdateAutomation', namespace: 'flux-system', name: 'auto', apiVersion: 'image.toolkit.fluxcd.io/v1' },
        severity: 'error',
        timestamp: '2026-12-01T00:00:00.000Z',
        message: 'm',
        reason: 'GitOperationFailed',
        reportingController: 'image-automation-controller',
      },
    ]);
    expect(eventsFor(iua, { kind: 'suspended' }, false, now)).toEqual([]);
  });
});

describe('runAutomation before any git work', () => {
  const repo = parseGitRepository({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'repo', namespace: 'other' }, spec: { url: 'file:///nonexistent' } });
  if (!repo.ok) throw new Error('fixture');

  async function run(specPatch: Record<string, unknown>, opts: Partial<Parameters<typeof runAutomation>[4]> = {}) {
    const parsed = parseImageUpdateAutomation({ ...minimal, spec: { ...minimal.spec, ...specPatch } });
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    return runAutomation(parsed.value, repo.ok ? repo.value : undefined, () => undefined, [], { lock: new KeyedLock(), ...opts });
  }

  it('a cross-namespace source is refused when cross-namespace references are off', async () => {
    const out = await run({ sourceRef: { kind: 'GitRepository', name: 'repo', namespace: 'other' } }, { noCrossNamespaceRefs: true });
    expect(out.result).toEqual({ kind: 'failed', reason: 'AccessDenied', message: "can't access 'GitRepository/other/repo', cross-namespace references have been blocked", stalled: true });
  });

  it('no push branch anywhere names where it was looked for', async () => {
    const out = await run({ sourceRef: { kind: 'GitRepository', name: 'repo', namespace: 'other' } });
    expect(out.ready).toEqual({
      status: 'False',
      reason: 'SourceManagerFailed',
      message: 'failed configuring source manager: push spec not provided, and cannot be inferred from .spec.git.checkout.ref or GitRepository .spec.ref',
    });
    expect(out.events[0]).toMatchObject({ severity: 'error', reason: 'SourceManagerFailed' });
  });

  it('a suspended automation does nothing and says nothing', async () => {
    const out = await run({ suspend: true });
    expect(out).toMatchObject({ result: { kind: 'suspended' }, events: [] });
    expect(out.ready).toBeUndefined();
  });
});
