import { describe, expect, it } from 'vitest';
import { parseManifests, toStoredObject } from '../../src/resources/manifests.js';
import { isAlert, isProvider, isSecret, type Alert, type Provider, type Secret } from '../../src/api/types.js';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

describe('parseManifests', () => {
  it('reads every document of a multi-document file and tells the kinds apart', () => {
    const text = `
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata:
  name: slack
  namespace: flux-system
spec:
  type: slack
  secretRef:
    name: slack-token
---
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Alert
metadata:
  name: on-call
spec:
  providerRef:
    name: slack
  eventSources:
    - kind: Kustomization
      name: '*'
      matchLabels:
        team: a
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: flux-system
  labels:
    team: a
spec:
  path: ./apps
---
`;
    const { objects, problems } = parseManifests(text, 'all.yaml');
    expect(problems).toEqual([]);
    expect(objects).toHaveLength(3);
    const [provider, alert, kustomization] = objects;
    expect(provider && isProvider(provider)).toBe(true);
    expect((provider as Provider).spec).toEqual({ type: 'slack', secretRef: { name: 'slack-token' } });
    expect(alert && isAlert(alert)).toBe(true);
    // metadata.namespace defaults to `default`
    expect((alert as Alert).metadata).toEqual({ name: 'on-call', namespace: 'default' });
    // Other objects keep only what label look-ups need.
    expect(kustomization).toEqual({
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name: 'apps', namespace: 'flux-system', labels: { team: 'a' } },
    });
  });

  it('decodes Secret data from base64 and merges stringData over it', () => {
    const text = `
apiVersion: v1
kind: Secret
metadata:
  name: webhook
  namespace: apps
data:
  token: ${b64('from-data')}
  address: ${b64('https://hooks.example.com/ünïcode')}
stringData:
  token: from-stringData
  username: bot
`;
    const { objects, problems } = parseManifests(text, 'secret.yaml');
    expect(problems).toEqual([]);
    const [secret] = objects;
    expect(secret && isSecret(secret)).toBe(true);
    expect((secret as Secret).data).toEqual({
      token: 'from-stringData',
      address: 'https://hooks.example.com/ünïcode',
      username: 'bot',
    });
  });

  it('reports a document that is not valid YAML with its file and position, and loads the others', () => {
    const text = `
apiVersion: v1
kind: Secret
metadata: { name: ok }
stringData: { token: fine }
---
apiVersion: v1
kind: Secret
metadata: { name: broken }
stringData:
  token: s3cr3t-value: in a broken doc
---
apiVersion: v1
kind: ConfigMap
metadata: { name: after }
`;
    const { objects, problems } = parseManifests(text, 'dir/mixed.yaml');
    expect(objects.map((o) => o.metadata.name)).toEqual(['ok', 'after']);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ file: 'dir/mixed.yaml', document: 2 });
    expect(problems[0]?.message).toMatch(/^invalid YAML at line \d+, column \d+: /);
    // The problem must not quote the source: the broken line holds a secret.
    expect(problems[0]?.message).not.toContain('s3cr3t');
  });

  it('rejects documents the API server would reject, naming the field', () => {
    const text = `
- just a list
---
kind: Provider
metadata: { name: no-api-version }
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: { namespace: x }
spec: { type: generic }
---
apiVersion: notification.toolkit.fluxcd.io/v1beta1
kind: Alert
metadata: { name: old }
spec: {}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: { name: typed }
spec:
  eventSources: { kind: Kustomization }
  suspend: "yes"
---
apiVersion: v1
kind: Secret
metadata: { name: bad-base64 }
data: { token: "not base64!" }
---
apiVersion: v1
kind: Secret
metadata: { name: number }
stringData: { port: 8080 }
`;
    const { objects, problems } = parseManifests(text, 'bad.yaml');
    // The Secret with invalid base64 is kept, empty and marked, so a Provider naming it says why.
    // (One of the wrong shape is not: the API server would refuse it.)
    expect(objects).toEqual([
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'bad-base64', namespace: 'default' }, data: {}, invalid: 'data.token is not valid base64' },
    ]);
    expect(problems.map((p) => [p.document, p.message])).toEqual([
      [1, 'document is not a YAML mapping'],
      [2, 'apiVersion and kind are required strings'],
      [3, 'Provider: metadata.name is required'],
      [4, expect.stringContaining('Alert default/old: apiVersion notification.toolkit.fluxcd.io/v1beta1 is not supported')],
      [5, 'Alert default/typed: spec.eventSources must be a list; spec.suspend must be a boolean'],
      [6, 'Secret default/bad-base64: data.token is not valid base64'],
      [7, 'Secret default/number: stringData.port must be a string (quote it)'],
    ]);
  });

  it('treats null fields as absent and skips empty documents', () => {
    const text = `---
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata:
  name: p
  labels:
spec:
  type: generic
  secretRef:
  timeout:
`;
    const { objects, problems } = parseManifests(text, 'nulls.yaml');
    expect(problems).toEqual([]);
    expect(objects).toHaveLength(1);
    expect(objects[0]?.metadata).toEqual({ name: 'p', namespace: 'default' });
    expect((objects[0] as Provider).spec).toEqual({ type: 'generic' });
  });

  it('expands a kind: List into its items', () => {
    const text = `
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Secret
    metadata: { name: a }
    stringData: { token: t }
  - apiVersion: v1
    kind: Namespace
    metadata: { name: apps, labels: { env: prod } }
`;
    const { objects, problems } = parseManifests(text, 'list.yaml');
    expect(problems).toEqual([]);
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(['Secret/a', 'Namespace/apps']);
  });
});

describe('toStoredObject', () => {
  it('keeps a Crossplane Provider as a labelled object, not a Flux Provider', () => {
    const result = toStoredObject({
      apiVersion: 'pkg.crossplane.io/v1',
      kind: 'Provider',
      metadata: { name: 'aws', labels: { a: 'b' } },
      spec: { package: 'x' },
    });
    expect('object' in result && isProvider(result.object)).toBe(false);
    expect(result).toEqual({
      object: { apiVersion: 'pkg.crossplane.io/v1', kind: 'Provider', metadata: { name: 'aws', namespace: 'default', labels: { a: 'b' } } },
    });
  });
});

describe('YAML errors in Secrets', () => {
  it.each(['*', '|', '>'])('do not quote an unquoted value starting with %s', (lead) => {
    const text = `apiVersion: v1\nkind: Secret\nmetadata: { name: s }\nstringData:\n  password: ${lead}s3cr3t-value trailing\n`;
    const { problems } = parseManifests(text, 's.yaml');
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(/^invalid YAML/);
    expect(problems[0]?.message).not.toContain('s3cr3t');
  });
});

describe('Secret values that are not plain strings', () => {
  const secretDoc = (body: string) => `apiVersion: v1\nkind: Secret\nmetadata: { name: s, namespace: ns }\n${body}`;

  it.each([
    ['a tag with no suffix', 'stringData:\n  token: !s3cr3tTAG7!\n', /^invalid YAML at line 5, column 10: TAG_RESOLVE_FAILED$/],
    ['an unknown tag, which yaml loads as an empty string', 'stringData:\n  token: !s3cr3tTAG\n', /^invalid YAML at line 5, column 10: TAG_RESOLVE_FAILED$/],
    ['an unknown tag before a value', 'data:\n  token: !s3cr3tTAG c2VjcmV0\n', /^invalid YAML at line 5, column 10: TAG_RESOLVE_FAILED$/],
    ['an invalid escape in a quoted value', 'stringData:\n  token: "ab\\qs3cr3t"\n', /^invalid YAML at line 5, column 13: BAD_DQ_ESCAPE$/],
    ['an alias with no anchor', 'stringData:\n  token: *s3cr3t\n', /^invalid YAML \(ALIAS\)/],
    ['an alias of another value', 'stringData:\n  other: &a s3cr3t\n  token: *a\n', /^Secret ns\/s: stringData\.token must be a plain string/],
    // These three are not strings once loaded, which the type check already refuses.
    ['a standard tag', 'data:\n  token: !!binary czNjcjN0\n', /^Secret ns\/s: data\.token must be a string/],
    ['a flow map', 'stringData:\n  token: {s3cr3t: 1}\n', /^Secret ns\/s: stringData\.token must be a string/],
    ['a list', 'stringData:\n  token: [s3cr3t]\n', /^Secret ns\/s: stringData\.token must be a string/],
  ])('refuses %s, naming the key and position only', (_what, body, message) => {
    const { objects, problems } = parseManifests(secretDoc(body), 's.yaml');
    expect(objects).toEqual([]);
    expect(problems).toEqual([{ file: 's.yaml', document: 1, message: expect.stringMatching(message) }]);
    expect(problems[0]?.message).not.toMatch(/s3cr3t|czNj/);
  });

  it('checks the Secrets of a kind: List too, and accepts quoted, block and !!str values', () => {
    const text = `apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Secret
    metadata: { name: fine }
    stringData:
      a: 'single'
      b: "double"
      c: !!str tagged
      d: |
        block
  - apiVersion: v1
    kind: Secret
    metadata: { name: aliased }
    stringData:
      token: *anchor
`.replace('a: \'single\'', "a: &anchor 'single'");
    const { objects, problems } = parseManifests(text, 'list.yaml');
    expect(objects.map((o) => o.metadata.name)).toEqual(['fine']);
    expect((objects[0] as Secret).data).toEqual({ a: 'single', b: 'double', c: 'tagged', d: 'block\n' });
    expect(problems).toEqual([{ file: 'list.yaml', document: 1, message: expect.stringMatching(/^Secret default\/aliased: stringData\.token must be a plain string/) }]);
  });
});

describe('unknown fields', () => {
  const manifest = `
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: { name: typos, namespace: apps }
spec:
  providerRef: { name: hook, nmae: x }
  eventSources:
    - kind: Kustomization
      name: '*'
      matchlabels: { app: web }
  exclusionlist: ['^Dependencies']
  summery: hello
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: { name: hook, namespace: apps, labels: { anyKey: ok } }
spec:
  type: generic
  adress: https://hooks.example.com
  address: https://hooks.example.com
sepc: {}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: { name: clean, namespace: apps }
spec: { type: generic, address: 'https://hooks.example.com' }
status: { conditions: [] }
`;

  it('are warnings on the object, each named, with the field meant when only the case differs', () => {
    const { objects, problems } = parseManifests(manifest, 'typos.yaml');
    expect(problems).toEqual([]);
    const [typos, hook, clean] = objects as [Alert, Provider, Provider];
    expect(typos.warnings).toEqual([
      'unknown field spec.providerRef.nmae is ignored',
      'unknown field spec.eventSources[0].matchlabels is ignored (did you mean spec.eventSources[0].matchLabels?)',
      'unknown field spec.exclusionlist is ignored (did you mean spec.exclusionList?)',
      'unknown field spec.summery is ignored',
    ]);
    // The field itself is not read: the Alert excludes nothing.
    expect(typos.spec.exclusionList).toBeUndefined();
    expect(hook.warnings).toEqual(['unknown field sepc is ignored', 'unknown field spec.adress is ignored']);
    expect(clean.warnings).toBeUndefined();
  });

  it('on a Receiver too, with its spec\'s own fields known (OIDC providers\' left to their module)', () => {
    const { objects, problems } = parseManifests(
      `apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: { name: hook, namespace: apps }
spec:
  type: github
  events: [push]
  resources:
    - { kind: GitRepository, name: app, matchlabels: { a: b } }
  secretRef: { name: token }
  resourcefilter: 'true'
  suspend: false
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: { name: oidc, namespace: apps }
spec:
  type: generic-oidc
  interval: 10m
  resourceFilter: 'true'
  oidcProviders: [{ issuerURL: 'https://issuer.example.com' }]
  resources: [{ apiVersion: source.toolkit.fluxcd.io/v1, kind: GitRepository, name: '*', namespace: apps, matchLabels: { a: b } }]
`,
      'receivers.yaml',
    );
    expect(problems).toEqual([]);
    expect(objects.map((o) => (o as { warnings?: string[] }).warnings)).toEqual([
      [
        'unknown field spec.resources[0].matchlabels is ignored (did you mean spec.resources[0].matchLabels?)',
        'unknown field spec.resourcefilter is ignored (did you mean spec.resourceFilter?)',
      ],
      undefined,
    ]);
  });

  it('are bounded per resource', () => {
    const fields = Array.from({ length: 50 }, (_, i) => `  extra${i}: x`).join('\n');
    const { objects } = parseManifests(
      `apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Provider\nmetadata: { name: many }\nspec:\n  type: generic\n${fields}\n`,
      'many.yaml',
    );
    const warnings = (objects[0] as Provider).warnings!;
    expect(warnings).toHaveLength(21);
    expect(warnings[20]).toBe('30 more unknown fields');
  });

  it('come from objects of the Kubernetes API too (the same conversion)', () => {
    const result = toStoredObject({
      apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
      kind: 'Alert',
      metadata: { name: 'a', namespace: 'apps', uid: 'u', managedFields: [{}] },
      spec: { providerRef: { name: 'hook' }, eventSources: [{ kind: 'Kustomization', name: '*' }], inclusionlist: ['x'] },
      status: { conditions: [] },
    });
    expect('object' in result && (result.object as Alert).warnings).toEqual([
      'unknown field spec.inclusionlist is ignored (did you mean spec.inclusionList?)',
    ]);
  });
});

describe('image automation kinds', () => {
  it('keeps the spec of the image automation kinds and of GitRepository for the image controller, and reports an unsupported version', () => {
    const text = `
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: { name: app, namespace: flux-system }
spec: { image: ghcr.io/org/app, interval: 5m, exclusionList: ~ }
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata: { name: app, namespace: flux-system }
spec: { imageRepositoryRef: { name: app }, policy: { semver: { range: 1.x } } }
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: { name: fleet, namespace: flux-system }
spec: { url: 'file:///srv/fleet.git' }
---
apiVersion: image.toolkit.fluxcd.io/v1alpha1
kind: ImageUpdateAutomation
metadata: { name: old, namespace: flux-system }
spec: {}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: { name: odd, namespace: flux-system }
spec: [not, a, mapping]
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: { name: apps }
spec: { path: ./apps }
`;
    const { objects, problems } = parseManifests(text, 'images.yaml');
    expect(objects).toEqual([
      { apiVersion: 'image.toolkit.fluxcd.io/v1', kind: 'ImageRepository', metadata: { name: 'app', namespace: 'flux-system' }, spec: { image: 'ghcr.io/org/app', interval: '5m' } },
      { apiVersion: 'image.toolkit.fluxcd.io/v1beta2', kind: 'ImagePolicy', metadata: { name: 'app', namespace: 'flux-system' }, spec: { imageRepositoryRef: { name: 'app' }, policy: { semver: { range: '1.x' } } } },
      { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'fleet', namespace: 'flux-system' }, spec: { url: 'file:///srv/fleet.git' } },
      // Other kinds keep only their labels, as before.
      { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: 'apps', namespace: 'default' } },
    ]);
    expect(problems).toEqual([
      { file: 'images.yaml', document: 4, message: expect.stringMatching(/^ImageUpdateAutomation flux-system\/old: apiVersion image\.toolkit\.fluxcd\.io\/v1alpha1 is not supported; use image\.toolkit\.fluxcd\.io\/v1 or /) },
      { file: 'images.yaml', document: 5, message: 'ImageUpdateAutomation flux-system/odd: spec must be a mapping' },
    ]);
  });
});
