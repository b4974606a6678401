/**
 * Setters: golden files (original → expected, byte for byte), the Result structure Flux's
 * commit templates read, the explain report, and idempotence (a second run changes nothing).
 */
import { cpSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { markerOf, updateText, updateTree, type SetterContext } from '../../src/image/update/setters.js';
import { formatExplain } from '../../src/image/update/explain.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/image-setters');
const DIGEST = 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';

const ctx: SetterContext = {
  namespace: 'flux-system',
  policies: [
    { namespace: 'flux-system', name: 'podinfo', latestRef: { name: 'ghcr.io/stefanprodan/podinfo', tag: '5.0.3' } },
    { namespace: 'flux-system', name: 'app', latestRef: { name: 'registry.example.com/team/app', tag: 'v1.2.3', digest: DIGEST } },
    { namespace: 'flux-system', name: 'numeric', latestRef: { name: 'example.com/num', tag: '1.10' } },
    { namespace: 'flux-system', name: 'pending' },
    { namespace: 'flux-system', name: 'labelled', labels: { team: 'other' }, latestRef: { name: 'ghcr.io/x/d', tag: '2.0.0' } },
    { namespace: 'other-ns', name: 'podinfo', latestRef: { name: 'ghcr.io/x/a', tag: '9.9.9' } },
  ],
  policySelector: { matchExpressions: [{ key: 'team', operator: 'NotIn', values: ['other'] }] },
};

function tmp(): string {
  return mkdtempSync(join(process.env.HERALD_TEST_TMP ?? tmpdir(), 'setters-'));
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out;
}

async function runCase(name: string) {
  const repo = tmp();
  cpSync(join(FIXTURES, name, 'original'), repo, { recursive: true });
  const first = await updateTree(repo, '', ctx);
  const expectedDir = join(FIXTURES, name, 'expected');
  expect(filesUnder(repo)).toEqual(filesUnder(expectedDir));
  for (const f of filesUnder(expectedDir)) {
    expect(readFileSync(join(repo, f)).toString('latin1'), f).toBe(readFileSync(join(expectedDir, f)).toString('latin1'));
  }
  const second = await updateTree(repo, '', ctx);
  return { repo, first, second };
}

describe('golden files', () => {
  it('basic: deployments, Helm values, anchors, flow style, sequences, digests and quoting', async () => {
    const { first, second } = await runCase('basic');
    expect(second.result.files).toEqual([]);
    expect(first.result.files.map((f) => f.file)).toEqual(['apps/dev/values.yml', 'deploy.yaml']);
    const deploy = first.result.files[1];
    expect(deploy?.objects).toEqual([
      {
        object: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo', namespace: 'default' },
        changes: [
          { oldValue: 'ghcr.io/stefanprodan/podinfo:5.0.0', newValue: 'ghcr.io/stefanprodan/podinfo:5.0.3', setter: 'flux-system:podinfo' },
          { oldValue: 'registry.example.com/team/app:v1.0.0', newValue: `registry.example.com/team/app:v1.2.3@${DIGEST}`, setter: 'flux-system:app' },
        ],
      },
    ]);
    const values = first.result.files[0];
    expect(values?.objects[0]?.object).toEqual({ apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', name: 'app', namespace: 'dev' });
    expect(values?.objects[0]?.changes.map((c) => [c.setter, c.newValue])).toEqual([
      ['flux-system:app:name', 'registry.example.com/team/app'],
      ['flux-system:app:tag', 'v1.2.3'],
      ['flux-system:app:digest', DIGEST],
      ['flux-system:numeric:tag', '1.10'],
      ['flux-system:podinfo:digest', ''],
      ['flux-system:podinfo', 'ghcr.io/stefanprodan/podinfo:5.0.3'],
      ['flux-system:podinfo:tag', '5.0.3'],
    ]);
    expect(first.explain.skippedFiles).toEqual([{ file: 'broken.yaml', reason: 'not valid YAML at line 3' }]);
    expect(formatExplain(first.explain).split('\n').filter((l) => l.startsWith('deploy.yaml') || l.startsWith('broken'))).toEqual([
      'deploy.yaml:13 "flux-system:podinfo" updated "ghcr.io/stefanprodan/podinfo:5.0.0" -> "ghcr.io/stefanprodan/podinfo:5.0.3"',
      `deploy.yaml:16 "flux-system:app" updated "registry.example.com/team/app:v1.0.0" -> "registry.example.com/team/app:v1.2.3@${DIGEST}"`,
      'broken.yaml: skipped, not valid YAML at line 3',
    ]);
    // The second run sees every marker already set.
    expect(second.explain.markers.every((m) => m.outcome === 'unchanged')).toBe(true);
    expect(second.explain.markers).toHaveLength(first.explain.markers.length);
  });

  it('ignored markers: nothing changes and each says why', async () => {
    const { first } = await runCase('ignored');
    expect(first.result.files).toEqual([]);
    expect(first.explain.markers.map((m) => [m.line, m.marker, m.outcome, m.reason])).toEqual([
      [10, 'other-ns:podinfo', 'ignored', 'OtherNamespace'],
      [12, 'flux-system:missing', 'ignored', 'UnknownPolicy'],
      [14, 'flux-system:pending', 'ignored', 'NoLatestRef'],
      [16, 'flux-system:labelled', 'ignored', 'NotSelected'],
      [18, 'flux-system:podinfo:version', 'ignored', 'UnknownField'],
      [20, 'podinfo', 'ignored', 'InvalidMarker'],
      [21, 'flux-system:podinfo', 'ignored', 'NotOnScalar'],
      [24, 'flux-system:podinfo', 'ignored', 'NotOnScalar'],
    ]);
    expect(formatExplain(first.explain)).toBe(
      [
        'ignored.yaml:10 "other-ns:podinfo" ignored (OtherNamespace): policy other-ns/podinfo is not in the automation\'s namespace flux-system; only policies of that namespace are used',
        'ignored.yaml:12 "flux-system:missing" ignored (UnknownPolicy): no ImagePolicy flux-system/missing',
        'ignored.yaml:14 "flux-system:pending" ignored (NoLatestRef): ImagePolicy flux-system/pending has no latest image yet (status.latestRef is empty)',
        'ignored.yaml:16 "flux-system:labelled" ignored (NotSelected): ImagePolicy flux-system/labelled does not match spec.policySelector',
        'ignored.yaml:18 "flux-system:podinfo:version" ignored (UnknownField): unknown field "version"; use tag, name or digest',
        'ignored.yaml:20 "podinfo" ignored (InvalidMarker): marker "podinfo" is not <namespace>:<policy>[:tag|:name|:digest]',
        'ignored.yaml:21 "flux-system:podinfo" ignored (NotOnScalar): the marker is not on a scalar value (put it at the end of the line holding the value)',
        'ignored.yaml:24 "flux-system:podinfo" ignored (NotOnScalar): the marker is not on a scalar value (put it at the end of the line holding the value)',
        '',
      ].join('\n'),
    );
    const other = first.explain.markers[0];
    expect(other?.file).toBe('ignored.yaml');
    expect(other?.message).toContain("not in the automation's namespace flux-system");
  });

  it('CRLF line endings are kept', async () => {
    const { first, second } = await runCase('crlf');
    expect(first.result.files[0]?.objects[0]?.changes).toHaveLength(2);
    expect(second.result.files).toEqual([]);
  });

  it('a Kustomization images list', async () => {
    const { first } = await runCase('kustomize');
    expect(first.result.files[0]?.objects[0]?.object).toEqual({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', name: '', namespace: '' });
    expect(first.result.files[0]?.objects[0]?.changes.map((c) => c.newValue)).toEqual(['5.0.3', 'v1.2.3']);
  });
});

describe('updateTree', () => {
  it('scans only update.path, keys files relative to it and reports paths from the repository root', async () => {
    const repo = tmp();
    cpSync(join(FIXTURES, 'basic', 'original'), repo, { recursive: true });
    const { result, explain } = await updateTree(repo, 'apps', ctx);
    expect(result.files.map((f) => f.file)).toEqual(['dev/values.yml']);
    expect(new Set(explain.markers.map((m) => m.file))).toEqual(new Set(['apps/dev/values.yml']));
    expect(readFileSync(join(repo, 'deploy.yaml'), 'utf8')).toContain('podinfo:5.0.0');
  });

  it('does not follow a symbolic link out of the repository', async () => {
    const outside = tmp();
    writeFileSync(join(outside, 'secret.yaml'), 'image: a:1 # {"$imagepolicy": "flux-system:podinfo"}\n');
    const repo = tmp();
    symlinkSync(join(outside, 'secret.yaml'), join(repo, 'link.yaml'));
    writeFileSync(join(repo, 'inside.yaml'), 'image: a:1 # {"$imagepolicy": "flux-system:podinfo"}\n');
    symlinkSync(join(repo, 'inside.yaml'), join(repo, 'alias.yaml'));
    const { result, explain } = await updateTree(repo, '', ctx);
    expect(readFileSync(join(outside, 'secret.yaml'), 'utf8')).toContain('a:1');
    expect(explain.skippedFiles.map((s) => s.file)).toEqual(['link.yaml']);
    expect(result.files.map((f) => f.file)).toEqual(['alias.yaml']);
  });

  it('file size, entries visited and marker reports are bounded', async () => {
    const repo = tmp();
    const line = 'image: a:1 # {"$imagepolicy": "flux-system:podinfo:tag"}\n';
    writeFileSync(join(repo, 'a-big.yaml'), `${line}#${'x'.repeat(400)}\n`);
    writeFileSync(join(repo, 'b-many.yaml'), Array.from({ length: 5 }, (_, i) => `k${i}: a:1 # {"$imagepolicy": "flux-system:podinfo:tag"}\n`).join(''));
    for (let i = 0; i < 5; i++) writeFileSync(join(repo, `z${i}.yaml`), line);
    // Entries visited count update.path itself: the directory, a-big, b-many, z0, z1.
    const { result, explain } = await updateTree(repo, '', ctx, { maxFileBytes: 300, maxFilesVisited: 5, maxMarkerReports: 3 });
    expect(explain.skippedFiles).toEqual([
      { file: 'z2.yaml', reason: 'more than 5 entries under update.path; the rest were not scanned' },
      { file: 'a-big.yaml', reason: 'larger than 300 bytes; not read' },
    ]);
    expect(explain.markers).toHaveLength(3);
    expect(explain.truncated).toBe(true);
    // Reports are cut, changes are not: every marker of the files read was set.
    expect(result.files.map((f) => [f.file, f.objects[0]?.changes.length])).toEqual([['b-many.yaml', 5], ['z0.yaml', 1], ['z1.yaml', 1]]);
  });

  it('a missing update.path is reported, not thrown', async () => {
    const { result, explain } = await updateTree(tmp(), 'nope', ctx);
    expect(result.files).toEqual([]);
    expect(explain.skippedFiles[0]?.reason).toMatch(/does not exist/);
  });
});

describe('updateText', () => {
  const set = (text: string) => updateText(text, 'f.yaml', ctx).text;

  it.each([
    ['plain stays plain', 'image: old # {"$imagepolicy": "flux-system:podinfo:tag"}\n', 'image: 5.0.3 # {"$imagepolicy": "flux-system:podinfo:tag"}\n'],
    ['double quotes stay', 'image: "old" # {"$imagepolicy": "flux-system:podinfo:tag"}\n', 'image: "5.0.3" # {"$imagepolicy": "flux-system:podinfo:tag"}\n'],
    ['single quotes stay', "image: 'old' # {\"$imagepolicy\": \"flux-system:podinfo:tag\"}\n", "image: '5.0.3' # {\"$imagepolicy\": \"flux-system:podinfo:tag\"}\n"],
    ['YAML 1.1 number gets quoted', 'tag: x # {"$imagepolicy": "flux-system:numeric:tag"}\n', 'tag: "1.10" # {"$imagepolicy": "flux-system:numeric:tag"}\n'],
    ['anchor kept', 'image: &a old # {"$imagepolicy": "flux-system:podinfo:tag"}\nother: *a\n', 'image: &a 5.0.3 # {"$imagepolicy": "flux-system:podinfo:tag"}\nother: *a\n'],
    ['marker with extra ## and spaces', 'image: old #  ## {"$imagepolicy":"flux-system:podinfo:tag"}  \n', 'image: 5.0.3 #  ## {"$imagepolicy":"flux-system:podinfo:tag"}  \n'],
    ['several documents, leading ---', '---\na: old # {"$imagepolicy": "flux-system:podinfo:tag"}\n---\n# c\nb: old # {"$imagepolicy": "flux-system:podinfo:tag"}\n...\n', '---\na: 5.0.3 # {"$imagepolicy": "flux-system:podinfo:tag"}\n---\n# c\nb: 5.0.3 # {"$imagepolicy": "flux-system:podinfo:tag"}\n...\n'],
    ['marker on a key is ignored', '# {"$imagepolicy": "flux-system:podinfo:tag"}\nimage: old\n', '# {"$imagepolicy": "flux-system:podinfo:tag"}\nimage: old\n'],
    ['an empty value is filled in', 'tag: # {"$imagepolicy": "flux-system:podinfo:tag"}\n', 'tag: 5.0.3 # {"$imagepolicy": "flux-system:podinfo:tag"}\n'],
    ['an empty sequence item is filled in', '- # {"$imagepolicy": "flux-system:podinfo:tag"}\n', '- 5.0.3 # {"$imagepolicy": "flux-system:podinfo:tag"}\n'],
    ['block scalar left alone', 'image: | # {"$imagepolicy": "flux-system:podinfo:tag"}\n  old\n', 'image: | # {"$imagepolicy": "flux-system:podinfo:tag"}\n  old\n'],
  ])('%s', (_name, input, expected) => {
    expect(set(input)).toBe(expected);
  });

  it('in a kind: List document, each change belongs to its list item', () => {
    const text = `apiVersion: v1
kind: List
items:
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: one, namespace: a}
    spec:
      image: x # {"$imagepolicy": "flux-system:podinfo:tag"}
  - apiVersion: batch/v1
    kind: CronJob
    metadata:
      name: two
    spec:
      image: y # {"$imagepolicy": "flux-system:podinfo:tag"}
`;
    expect(updateText(text, 'f', ctx).changes.map((c) => c.object)).toEqual([
      { apiVersion: 'apps/v1', kind: 'Deployment', name: 'one', namespace: 'a' },
      { apiVersion: 'batch/v1', kind: 'CronJob', name: 'two', namespace: '' },
    ]);
  });

  it('non-string JSON or trailing text is no marker', () => {
    expect(markerOf(' {"$imagepolicy": "a:b"} trailing')).toBeUndefined();
    expect(markerOf(' {"$imagepolicy": "a:b", "n": 1}')).toBeUndefined();
    expect(markerOf('# {"$imagepolicy": "a:b", "other": "x"}')).toBe('a:b');
    expect(markerOf('{"other": "x"}')).toBeUndefined();
  });

  it('a value that would break the YAML is quoted', () => {
    const weird: SetterContext = { namespace: 'n', policies: [{ namespace: 'n', name: 'p', latestRef: { name: 'x', tag: 'a: b #c' } }] };
    expect(updateText('t: old # {"$imagepolicy": "n:p:tag"}\n', 'f', weird).text).toBe('t: "a: b #c" # {"$imagepolicy": "n:p:tag"}\n');
    expect(updateText("t: 'old' # {\"$imagepolicy\": \"n:p:tag\"}\n", 'f', { ...weird, policies: [{ namespace: 'n', name: 'p', latestRef: { name: 'x', tag: "it's" } }] }).text)
      .toBe("t: 'it''s' # {\"$imagepolicy\": \"n:p:tag\"}\n");
  });
});

describe('properties', () => {
  it('any new value, in any quoting style, reads back exactly and a second run changes nothing', async () => {
    const { parse } = await import('yaml');
    const fc = await import('fast-check');
    const styles = ['plain', 'double', 'single'] as const;
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 30 }), fc.string({ maxLength: 12, unit: 'binary' })), fc.constantFrom(...styles), fc.boolean(), (tag, style, crlf) => {
        const old = style === 'plain' ? 'old' : style === 'double' ? '"old"' : "'old'";
        const eol = crlf ? '\r\n' : '\n';
        const text = `a: 1${eol}image: ${old} # {"$imagepolicy": "n:p:tag"}${eol}b: [x, y] # keep${eol}`;
        const c: SetterContext = { namespace: 'n', policies: [{ namespace: 'n', name: 'p', latestRef: { name: 'img', tag } }] };
        const first = updateText(text, 'f', c);
        const doc = parse(first.text) as { a: number; image: unknown; b: string[] };
        expect(doc.image).toBe(tag);
        expect(doc.a).toBe(1);
        expect(doc.b).toEqual(['x', 'y']);
        expect(first.text.startsWith(`a: 1${eol}image: `)).toBe(true);
        expect(first.text.endsWith(` # {"$imagepolicy": "n:p:tag"}${eol}b: [x, y] # keep${eol}`)).toBe(true);
        const second = updateText(first.text, 'f', c);
        expect(second.text).toBe(first.text);
        expect(second.changes).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});
