/**
 * `explainEvent`: each check's verdict in words, the Provider's fate, and — the property that
 * keeps explanations honest — the same matched set as the matcher's index for every case.
 */
import { describe, expect, it } from 'vitest';
import { compileAlert } from '../../src/alerts/compile.js';
import { explainEvent, type ExplainedProvider } from '../../src/alerts/explain.js';
import { AlertIndex, type LabelLookup } from '../../src/alerts/matcher.js';
import type { FluxEvent, Severity } from '../../src/events/event.js';
import type { Alert, AlertSpec } from '../../src/api/types.js';
import { kustomizationEvent } from '../support/events.js';

function alert(spec: Partial<AlertSpec> = {}, namespace = 'flux-system'): Alert {
  return {
    apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
    kind: 'Alert',
    metadata: { name: 'a', namespace },
    spec: { providerRef: { name: 'hook' }, eventSources: [{ kind: 'Kustomization', name: 'apps' }], ...spec },
  };
}

function event(overrides: { namespace?: string; name?: string; kind?: string; severity?: Severity; message?: string; metadata?: Record<string, string> } = {}): FluxEvent {
  const base = kustomizationEvent();
  return {
    ...base,
    involvedObject: {
      ...base.involvedObject,
      namespace: overrides.namespace ?? 'flux-system',
      name: overrides.name ?? 'apps',
      kind: overrides.kind ?? 'Kustomization',
    },
    severity: overrides.severity ?? 'info',
    message: overrides.message ?? base.message,
    metadata: overrides.metadata ?? base.metadata,
  };
}

const readyGeneric: ExplainedProvider = { suspended: false, ready: true, reason: 'Succeeded', message: 'Provider is ready', adapter: { type: 'generic' } };
const noLabels: LabelLookup = () => undefined;
const labelled: LabelLookup = () => ({ team: 'web' });

async function explainOne(a: Alert, e: FluxEvent, opts: { labels?: LabelLookup; provider?: ExplainedProvider | null; noCrossNamespaceRefs?: boolean } = {}) {
  const [only] = await explainEvent({
    event: e,
    alerts: [compileAlert(a)],
    provider: () => (opts.provider === null ? undefined : (opts.provider ?? readyGeneric)),
    labels: opts.labels ?? noLabels,
    noCrossNamespaceRefs: opts.noCrossNamespaceRefs ?? false,
  });
  return only!;
}

describe('explainEvent: why an Alert does not match', () => {
  it.each<[string, Partial<AlertSpec>, FluxEvent, RegExp, { labels?: LabelLookup; noCrossNamespaceRefs?: boolean; namespace?: string }?]>([
    ['kind', {}, event({ kind: 'HelmRelease' }), /^spec\.eventSources\[0\] Kustomization\/flux-system\/apps does not match: kind Kustomization is not the event's HelmRelease$/],
    ['name', {}, event({ name: 'infra' }), /does not match: name apps is not the event's infra$/],
    ['namespace', {}, event({ namespace: 'apps' }), /does not match: namespace flux-system is not the event's apps$/],
    [
      'labels (matchLabels)',
      { eventSources: [{ kind: 'Kustomization', name: '*', matchLabels: { team: 'ops' } }] },
      event(),
      /does not match: matchLabels: the object does not carry team=ops$/,
      { labels: labelled },
    ],
    [
      'labels of an object not found',
      { eventSources: [{ kind: 'Kustomization', name: '*', matchLabels: { team: 'ops' } }] },
      event(),
      /matchLabels needs the object's labels, and Kustomization\/flux-system\/apps was not found$/,
    ],
    ['severity', { eventSeverity: 'error' }, event(), /^severity info is not taken: spec\.eventSeverity is error, which takes only error events$/],
    ['inclusion', { inclusionList: ['^Health'] }, event(), /^no spec\.inclusionList pattern matches the message "Reconciliation finished/],
    ['exclusion', { exclusionList: ['finished'] }, event(), /^spec\.exclusionList pattern "finished" matches the message: excluded$/],
    ['suspended', { suspend: true }, event(), /^the Alert is suspended \(spec\.suspend: true\)$/],
    [
      'cross-namespace',
      { eventSources: [{ kind: 'Kustomization', name: 'apps', namespace: 'flux-system' }] },
      event(),
      /with --no-cross-namespace-refs the Alert only takes events from its own namespace apps$/,
      { noCrossNamespaceRefs: true, namespace: 'apps' },
    ],
  ])('%s', async (_check, spec, e, reason, opts = {}) => {
    const explained = await explainOne(alert(spec, opts.namespace), e, opts);
    expect(explained.matched).toBe(false);
    expect(explained.reasons.some((r) => reason.test(r)), explained.reasons.join('\n')).toBe(true);
    expect(explained.notification).toBeUndefined();
    expect(explained.provider).toBeUndefined();
  });
});

describe('explainEvent: a matching Alert and its Provider', () => {
  it('says which source matched and what the Provider receives (metadata merged for this Alert)', async () => {
    const explained = await explainOne(alert({ eventMetadata: { env: 'prod' }, summary: 'apps' }), event());
    expect(explained).toMatchObject({ alert: 'flux-system/a', matched: true, provider: 'flux-system/hook', providerType: 'generic' });
    expect(explained.reasons).toEqual([
      'spec.eventSources[0] Kustomization/flux-system/apps matches Kustomization/flux-system/apps',
      'severity info is taken (spec.eventSeverity info takes every severity)',
      'no spec.inclusionList: every message is included',
    ]);
    expect(explained.notification?.metadata).toEqual({ env: 'prod', summary: 'apps', revision: 'main@sha1:6f1d5e3c8a2b4f7e9d0c1b2a3f4e5d6c7b8a9f0e' });
    expect(explained.dropped).toBeUndefined();
  });

  it.each<[string, ExplainedProvider | null, FluxEvent, RegExp]>([
    ['a missing Provider', null, event(), /^Provider flux-system\/hook was not found: nothing is sent/],
    ['a suspended Provider', { ...readyGeneric, suspended: true }, event(), /^Provider flux-system\/hook is suspended/],
    [
      'a provider type that does not take the event (a commit-status provider, no commit)',
      { ...readyGeneric, adapter: { type: 'github', commitStatus: true } },
      event(),
      /^provider type github does not take this event/,
    ],
    [
      'a status update to a chat provider',
      { ...readyGeneric, adapter: { type: 'slack' } },
      event({ metadata: { 'kustomize.toolkit.fluxcd.io/commit_status': 'update' } }),
      /^provider type slack does not take this event/,
    ],
  ])('%s: matched, but dropped with the reason', async (_case, provider, e, why) => {
    const explained = await explainOne(alert(), e, { provider });
    expect(explained.matched).toBe(true);
    expect(explained.dropped).toMatch(why);
    expect(explained.notification).toBeUndefined();
  });

  it('a Provider that is not ready still gets the notification (queued and retried), and says so', async () => {
    const explained = await explainOne(alert(), event(), { provider: { ...readyGeneric, ready: false, reason: 'SecretNotFound', message: 'Secret x not found' } });
    expect(explained.notification).toBeDefined();
    expect(explained.reasons.at(-1)).toBe('Provider flux-system/hook is not ready (SecretNotFound): Secret x not found; the notification is queued and retried until it is');
  });

  it('an Alert too broken to compile is listed as not matching, with its problems', async () => {
    const [explained] = await explainEvent({
      event: event(),
      alerts: [],
      invalidAlerts: [{ key: 'flux-system/broken', problems: ['spec.eventSources must list at least one event source'] }],
      provider: () => readyGeneric,
      labels: noLabels,
      noCrossNamespaceRefs: false,
    });
    expect(explained).toEqual({
      alert: 'flux-system/broken',
      matched: false,
      reasons: ['the Alert is not valid, so it matches nothing: spec.eventSources must list at least one event source'],
    });
  });
});

describe('explainEvent agrees with the matcher', () => {
  const specs: Array<Partial<AlertSpec>> = [
    {},
    { eventSources: [{ kind: 'Kustomization', name: '*' }] },
    { eventSources: [{ kind: 'Kustomization', name: '*', matchLabels: { team: 'web' } }] },
    { eventSources: [{ kind: 'Kustomization', name: '*', matchLabels: { team: 'ops' } }, { kind: 'Kustomization', name: 'apps' }] },
    { eventSources: [{ kind: 'Kustomization', name: 'apps', namespace: 'apps' }] },
    { eventSeverity: 'error' },
    { inclusionList: ['finished'], exclusionList: ['10m'] },
    { inclusionList: ['['] },
    { suspend: true },
  ];
  const events = [event(), event({ severity: 'error' }), event({ namespace: 'apps' }), event({ name: 'infra', message: 'Health check failed' })];

  it.each(specs.flatMap((spec) => [false, true].map((noCross) => [JSON.stringify(spec), spec, noCross] as const)))(
    '%s (no cross-namespace refs: %s)',
    async (_name, spec, noCrossNamespaceRefs) => {
      for (const e of events) {
        for (const labels of [noLabels, labelled]) {
          const index = new AlertIndex({ noCrossNamespaceRefs });
          const compiled = compileAlert(alert(spec));
          index.set(compiled);
          const fired = (await index.match(e, labels)).length > 0;
          const explained = await explainOne(alert(spec), e, { labels, noCrossNamespaceRefs });
          expect(explained.matched, `${JSON.stringify(e.involvedObject)} ${e.severity}`).toBe(fired);
        }
      }
    },
  );
});
