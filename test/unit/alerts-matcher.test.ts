import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { compileAlert } from '../../src/alerts/compile.js';
import { AlertIndex, type LabelLookup } from '../../src/alerts/matcher.js';
import { compileRegex } from '../../src/alerts/regex.js';
import type { FluxEvent, ObjectReference, Severity } from '../../src/events/event.js';
import type { Alert, AlertSpec } from '../../src/api/types.js';
import { kustomizationEvent } from '../support/events.js';

function alert(name: string, spec: Partial<AlertSpec> = {}, namespace = 'flux-system'): Alert {
  return {
    apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
    kind: 'Alert',
    metadata: { name, namespace },
    spec: { providerRef: { name: 'slack' }, eventSources: [{ kind: 'Kustomization', name: 'apps' }], ...spec },
  };
}

/** A Kustomization event for `namespace/name` (the fixture's object is flux-system/apps). */
function event(overrides: { namespace?: string | null; name?: string; kind?: string; severity?: Severity; message?: string } = {}): FluxEvent {
  const base = kustomizationEvent();
  const involvedObject: ObjectReference = { ...base.involvedObject };
  if (overrides.namespace === null) delete involvedObject.namespace;
  else if (overrides.namespace !== undefined) involvedObject.namespace = overrides.namespace;
  if (overrides.name !== undefined) involvedObject.name = overrides.name;
  if (overrides.kind !== undefined) involvedObject.kind = overrides.kind;
  return {
    ...base,
    involvedObject,
    severity: overrides.severity ?? base.severity,
    message: overrides.message ?? base.message,
  };
}

const noLabels: LabelLookup = () => {
  throw new Error('label look-up not expected');
};

async function matchKeys(alerts: Alert[], e: FluxEvent, labels: LabelLookup = noLabels, noCrossNamespaceRefs = false) {
  const index = new AlertIndex({ noCrossNamespaceRefs });
  for (const a of alerts) index.set(compileAlert(a));
  return (await index.match(e, labels)).map((c) => c.key);
}

const teamLabels: LabelLookup = () => ({ team: 'app-dev', tier: 'backend' });
const k = (kind: string, name: string, extra: { namespace?: string; matchLabels?: Record<string, string> } = {}) => ({ kind, name, ...extra });

describe('AlertIndex.match: event sources', () => {
  it.each<[string, Partial<AlertSpec>, FluxEvent, boolean, LabelLookup?]>([
    ['an exact name matches', {}, event(), true],
    ['another name does not', {}, event({ name: 'infra' }), false],
    ['another kind does not', {}, event({ kind: 'HelmRelease' }), false],
    ['the source namespace defaults to the Alert namespace', {}, event({ namespace: 'apps' }), false],
    ['an explicit source namespace selects that namespace', { eventSources: [k('Kustomization', 'apps', { namespace: 'apps' })] }, event({ namespace: 'apps' }), true],
    ['an explicit source namespace excludes the Alert namespace', { eventSources: [k('Kustomization', 'apps', { namespace: 'apps' })] }, event(), false],
    ['an empty source namespace means the Alert namespace', { eventSources: [k('Kustomization', 'apps', { namespace: '' })] }, event(), true],
    ['namespace * is not a wildcard', { eventSources: [k('Kustomization', 'apps', { namespace: '*' })] }, event({ namespace: 'apps' }), false],
    ['namespace * only matches a namespace literally named *', { eventSources: [k('Kustomization', 'apps', { namespace: '*' })] }, event({ namespace: '*' }), true],
    ['an event without a namespace matches nothing', {}, event({ namespace: null }), false],
    ['kind * is not a wildcard', { eventSources: [k('*', 'apps')] }, event(), false],
    ['name * matches every object of the kind', { eventSources: [k('Kustomization', '*')] }, event({ name: 'anything' }), true],
    ['name * stays within the kind', { eventSources: [k('Kustomization', '*')] }, event({ kind: 'HelmRelease' }), false],
    ['name * with matching labels matches', { eventSources: [k('Kustomization', '*', { matchLabels: { team: 'app-dev' } })] }, event(), true, teamLabels],
    ['name * with other labels does not', { eventSources: [k('Kustomization', '*', { matchLabels: { team: 'ops' } })] }, event(), false, teamLabels],
    ['every label must match', { eventSources: [k('Kustomization', '*', { matchLabels: { team: 'app-dev', tier: 'front' } })] }, event(), false, teamLabels],
    ['a missing label does not match', { eventSources: [k('Kustomization', '*', { matchLabels: { owner: 'x' } })] }, event(), false, teamLabels],
    ['an exact name with matchLabels needs the labels too', { eventSources: [k('Kustomization', 'apps', { matchLabels: { team: 'ops' } })] }, event(), false, teamLabels],
    ['an empty matchLabels needs a successful look-up', { eventSources: [k('Kustomization', '*', { matchLabels: {} })] }, event(), true, teamLabels],
    ['an empty matchLabels with a failed look-up does not match', { eventSources: [k('Kustomization', '*', { matchLabels: {} })] }, event(), false, () => undefined],
    ['a look-up that finds nothing means no match', { eventSources: [k('Kustomization', '*', { matchLabels: { team: 'app-dev' } })] }, event(), false, () => undefined],
    ['a look-up that throws means no match', { eventSources: [k('Kustomization', '*', { matchLabels: { team: 'app-dev' } })] }, event(), false, () => { throw new Error('forbidden'); }],
    ['a look-up that rejects means no match', { eventSources: [k('Kustomization', '*', { matchLabels: { team: 'app-dev' } })] }, event(), false, () => Promise.reject(new Error('timeout'))],
    ['an async look-up is awaited', { eventSources: [k('Kustomization', '*', { matchLabels: { team: 'app-dev' } })] }, event(), true, async () => ({ team: 'app-dev' })],
    ['an invalid label selector never matches', { eventSources: [k('Kustomization', '*', { matchLabels: { 'bad key': 'x' } })] }, event(), false, () => ({ 'bad key': 'x' })],
    ['one matching source out of several is enough', { eventSources: [k('GitRepository', 'apps'), k('Kustomization', 'apps')] }, event(), true],
    ['a label source failing does not hide a plain source', { eventSources: [k('Kustomization', '*', { matchLabels: { team: 'ops' } }), k('Kustomization', 'apps')] }, event(), true, teamLabels],
  ])('%s', async (_why, spec, e, fires, labels = noLabels) => {
    expect(await matchKeys([alert('a', spec)], e, labels)).toEqual(fires ? ['flux-system/a'] : []);
  });
});

describe('AlertIndex.match: severity, message filters, suspend', () => {
  it.each<[string, Partial<AlertSpec>, { severity?: Severity; message?: string }, boolean]>([
    ['info (default) takes info', {}, { severity: 'info' }, true],
    ['info (default) takes error', {}, { severity: 'error' }, true],
    ['info takes trace (Flux does not filter it)', { eventSeverity: 'info' }, { severity: 'trace' }, true],
    ['error takes error', { eventSeverity: 'error' }, { severity: 'error' }, true],
    ['error drops info', { eventSeverity: 'error' }, { severity: 'info' }, false],
    ['error drops trace', { eventSeverity: 'error' }, { severity: 'trace' }, false],
    ['an empty inclusionList includes everything', { inclusionList: [] }, { message: 'x' }, true],
    ['inclusion: one regex matching is enough', { inclusionList: ['nomatch', 'succeeded'] }, { message: 'upgrade succeeded' }, true],
    ['inclusion: no regex matching drops', { inclusionList: ['failed'] }, { message: 'upgrade succeeded' }, false],
    ['inclusion matches anywhere in the message', { inclusionList: ['grade'] }, { message: 'upgrade succeeded' }, true],
    ['exclusion: a match drops', { exclusionList: ['waiting.*socket'] }, { message: 'Error waiting on socket' }, false],
    ['exclusion: no match keeps', { exclusionList: ['waiting.*socket'] }, { message: 'clone failed' }, true],
    ['exclusion wins over inclusion', { inclusionList: ['succeeded'], exclusionList: ['uninstall'] }, { message: 'uninstall succeeded' }, false],
    ['inclusion of only invalid regexes drops everything', { inclusionList: ['('] }, { message: '(' }, false],
    ['an invalid inclusion regex does not hide a valid one', { inclusionList: ['(', 'succeeded'] }, { message: 'succeeded' }, true],
    ['an invalid exclusion regex is ignored', { exclusionList: ['(', '[z-a]'] }, { message: '(' }, true],
    ['an invalid exclusion regex does not hide a valid one', { exclusionList: ['(', 'succeeded'] }, { message: 'succeeded' }, false],
    ['a suspended Alert never fires', { suspend: true }, {}, false],
    ['suspend: false fires', { suspend: false }, {}, true],
  ])('%s', async (_why, spec, e, fires) => {
    expect(await matchKeys([alert('a', spec)], event(e))).toEqual(fires ? ['flux-system/a'] : []);
  });

  it('tests regexes against the message only, not the reason', async () => {
    const e = { ...event({ message: 'done' }), reason: 'ReconciliationSucceeded' };
    expect(await matchKeys([alert('a', { inclusionList: ['Succeeded'] })], e)).toEqual([]);
  });
});

describe('AlertIndex.match: --no-cross-namespace-refs', () => {
  const crossSource = { eventSources: [k('Kustomization', 'apps', { namespace: 'apps' })] };
  it.each<[string, Partial<AlertSpec>, string, boolean, boolean]>([
    ['allowed by default', crossSource, 'apps', false, true],
    ['blocked with the flag', crossSource, 'apps', true, false],
    ['own namespace still works with the flag', {}, 'flux-system', true, true],
    ['an explicit own namespace still works with the flag', { eventSources: [k('Kustomization', 'apps', { namespace: 'flux-system' })] }, 'flux-system', true, true],
  ])('%s', async (_why, spec, namespace, flag, fires) => {
    expect(await matchKeys([alert('a', spec)], event({ namespace }), noLabels, flag)).toEqual(fires ? ['flux-system/a'] : []);
  });
});

describe('AlertIndex.match: results', () => {
  it('returns an Alert once even when several sources match', async () => {
    const sources = [k('Kustomization', 'apps'), k('Kustomization', '*'), k('Kustomization', 'apps', { namespace: 'flux-system' })];
    expect(await matchKeys([alert('a', { eventSources: sources })], event())).toEqual(['flux-system/a']);
  });

  it.each([
    ['a label source by wildcard, a plain source by name', [k('Kustomization', '*', { matchLabels: { team: 'app-dev' } }), k('Kustomization', 'apps')]],
    ['a label source by name, a plain source by wildcard', [k('Kustomization', 'apps', { matchLabels: { team: 'app-dev' } }), k('Kustomization', '*')]],
  ])('returns an Alert once when both match: %s', async (_why, sources) => {
    expect(await matchKeys([alert('a', { eventSources: sources })], event(), teamLabels)).toEqual(['flux-system/a']);
  });

  it('orders the Alerts by key', async () => {
    const alerts = [alert('c'), alert('a', {}, 'z-ns'), alert('b')].map((a) =>
      a.metadata.namespace === 'z-ns' ? { ...a, spec: { ...a.spec, eventSources: [k('Kustomization', '*', { namespace: 'flux-system' })] } } : a,
    );
    expect(await matchKeys(alerts, event())).toEqual(['flux-system/b', 'flux-system/c', 'z-ns/a']);
  });

  it('looks labels up once per event, and only for Alerts that passed the cheaper checks', async () => {
    const lookup = vi.fn(teamLabels);
    const withLabels = (name: string, spec: Partial<AlertSpec> = {}) =>
      alert(name, { eventSources: [k('Kustomization', '*', { matchLabels: { team: 'app-dev' } })], ...spec });
    const index = new AlertIndex({ noCrossNamespaceRefs: false });
    index.set(compileAlert(withLabels('errors-only', { eventSeverity: 'error' })));
    index.set(compileAlert(withLabels('excluded', { exclusionList: ['.'] })));
    index.set(compileAlert(alert('plain')));
    expect((await index.match(event(), lookup)).map((c) => c.key)).toEqual(['flux-system/plain']);
    expect(lookup).not.toHaveBeenCalled();

    index.set(compileAlert(withLabels('x')));
    index.set(compileAlert(withLabels('y')));
    expect((await index.match(event(), lookup)).map((c) => c.key)).toEqual(['flux-system/plain', 'flux-system/x', 'flux-system/y']);
    expect(lookup).toHaveBeenCalledTimes(1);
    expect(lookup).toHaveBeenCalledWith(event().involvedObject);
  });
});

describe('AlertIndex: updates', () => {
  it('replaces an Alert set again under the same key, and forgets a deleted one', async () => {
    const index = new AlertIndex({ noCrossNamespaceRefs: false });
    const keys = async (e = event()) => (await index.match(e, noLabels)).map((c) => c.key);
    index.set(compileAlert(alert('a')));
    index.set(compileAlert(alert('b')));
    expect(index.size).toBe(2);
    expect(await keys()).toEqual(['flux-system/a', 'flux-system/b']);

    index.set(compileAlert(alert('a', { eventSources: [k('Kustomization', 'infra')] })));
    expect(index.size).toBe(2);
    expect(await keys()).toEqual(['flux-system/b']);
    expect(await keys(event({ name: 'infra' }))).toEqual(['flux-system/a']);

    index.set(compileAlert(alert('b', { suspend: true })));
    expect(await keys()).toEqual([]);
    expect(index.size).toBe(2);
    index.set(compileAlert(alert('b')));
    expect(await keys()).toEqual(['flux-system/b']);

    index.delete('flux-system/b');
    index.delete('flux-system/unknown');
    expect(index.size).toBe(1);
    expect(await keys()).toEqual([]);
    index.delete('flux-system/a');
    expect(index.size).toBe(0);
    expect(await keys(event({ name: 'infra' }))).toEqual([]);
  });

  it('does not change a matched Alert through a later match', async () => {
    const index = new AlertIndex({ noCrossNamespaceRefs: false });
    const sources = [k('Kustomization', 'apps', { matchLabels: { team: 'a' } }), k('Kustomization', '*', { matchLabels: { team: 'b' } })];
    index.set(compileAlert(alert('a', { eventSources: sources })));
    for (let i = 0; i < 3; i++) expect(await index.match(event(), () => ({ team: 'b' }))).toHaveLength(1);
    expect(await index.match(event({ name: 'other' }), () => ({ team: 'a' }))).toHaveLength(0);
  });
});

describe('compileAlert', () => {
  it('reports each invalid field and keeps the valid parts', () => {
    const compiled = compileAlert(
      alert('a', {
        inclusionList: ['ok', '('],
        exclusionList: ['(?=x)', 'fine'],
        eventSources: [k('Kustomization', '*', { matchLabels: { 'bad key': 'v', team: 'not valid!' } }), k('Kustomization', 'apps')],
      }),
    );
    expect(compiled.key).toBe('flux-system/a');
    expect(compiled.problems).toEqual([
      'spec.inclusionList[1]: invalid RE2 expression "(": missing closing )',
      'spec.exclusionList[0]: invalid RE2 expression "(?=x)": invalid or unsupported Perl syntax',
      'spec.eventSources[0].matchLabels: invalid label key "bad key"',
      'spec.eventSources[0].matchLabels: invalid label value "not valid!" for key "team"',
    ]);
    expect(compiled.inclusion?.map((r) => r.source)).toEqual(['ok']);
    expect(compiled.exclusion.map((r) => r.source)).toEqual(['fine']);
    expect(compiled.sources).toEqual([{ namespace: 'flux-system', kind: 'Kustomization', name: 'apps' }]);
  });

  it.each([
    ['app.kubernetes.io/part-of', 'flux', true],
    ['team', '', true],
    ['a/b/c', 'x', false],
    ['/team', 'x', false],
    ['Example.com/team', 'x', false],
    ['team', 'x'.repeat(64), false],
    ['x'.repeat(64), 'v', false],
  ])('label key %j with value %j is valid: %s', (key, value, valid) => {
    const compiled = compileAlert(alert('a', { eventSources: [k('Kustomization', '*', { matchLabels: { [key]: value } })] }));
    expect(compiled.problems).toHaveLength(valid ? 0 : 1);
  });

  it('has no inclusion filter when the list is empty, and an empty one when every regex is invalid', () => {
    expect(compileAlert(alert('a')).inclusion).toBeUndefined();
    expect(compileAlert(alert('a', { inclusionList: ['('] })).inclusion).toEqual([]);
  });
});

describe('AlertIndex: cost', () => {
  function timeMatches(index: AlertIndex, e: FluxEvent, rounds: number): Promise<number> {
    return (async () => {
      const started = performance.now();
      for (let i = 0; i < rounds; i++) await index.match(e, noLabels);
      return performance.now() - started;
    })();
  }

  it('does not grow with Alerts that cannot match', async () => {
    const build = (nonMatching: number) => {
      const index = new AlertIndex({ noCrossNamespaceRefs: false });
      index.set(compileAlert(alert('target')));
      for (let i = 0; i < nonMatching; i++) {
        // Same namespace and kind but another name, another kind, another namespace.
        const spec = [
          { eventSources: [k('Kustomization', `other-${i}`)] },
          { eventSources: [k('HelmRelease', '*')] },
          { eventSources: [k('Kustomization', '*')] },
        ][i % 3]!;
        index.set(compileAlert(alert(`n${i}`, spec, i % 3 === 2 ? `ns-${i}` : 'flux-system')));
      }
      return index;
    };
    const small = build(10);
    const large = build(10_000);
    expect(await large.match(event(), noLabels)).toHaveLength(1);
    const best = async (index: AlertIndex) => {
      let fastest = Infinity;
      for (let run = 0; run < 5; run++) fastest = Math.min(fastest, await timeMatches(index, event(), 20_000));
      return fastest;
    };
    const [smallMs, largeMs] = [await best(small), await best(large)];
    expect(largeMs).toBeLessThan(smallMs * 4 + 20);
  });
});

describe('AlertIndex: agrees with a linear scan of the Flux rules', () => {
  const namespaces = ['a', 'b', '*'];
  const kinds = ['Kustomization', 'HelmRelease'];
  const names = ['x', 'y', '*'];
  const patterns = ['x', 'ok', '^f', '(', ''];
  const labelSets: Array<Record<string, string> | undefined> = [undefined, {}, { team: 'a' }, { team: 'b' }, { team: 'a', tier: 'web' }];

  const sourceArb = fc.record({
    kind: fc.constantFrom(...kinds),
    name: fc.constantFrom(...names),
    namespace: fc.option(fc.constantFrom(...namespaces, ''), { nil: undefined }),
    matchLabels: fc.constantFrom(...labelSets),
  });
  const alertArb = fc.record({
    name: fc.constantFrom('p', 'q', 'r', 's'),
    namespace: fc.constantFrom('a', 'b'),
    eventSources: fc.array(sourceArb, { minLength: 1, maxLength: 3 }),
    eventSeverity: fc.constantFrom(undefined, 'info' as const, 'error' as const),
    inclusionList: fc.option(fc.array(fc.constantFrom(...patterns), { maxLength: 2 }), { nil: undefined }),
    exclusionList: fc.option(fc.array(fc.constantFrom(...patterns), { maxLength: 2 }), { nil: undefined }),
    suspend: fc.boolean(),
  });
  const opArb = fc.oneof(
    { weight: 4, arbitrary: alertArb.map((a) => ({ op: 'set' as const, a })) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), key: fc.constantFrom('a/p', 'b/q', 'a/r') }) },
  );
  const eventArb = fc.record({
    namespace: fc.constantFrom('a', 'b', '*'),
    kind: fc.constantFrom(...kinds),
    name: fc.constantFrom('x', 'y', 'z'),
    severity: fc.constantFrom<Severity>('info', 'error', 'trace'),
    message: fc.constantFrom('ok', 'x marks', 'fail', '('),
  });
  // Labels per object name: found, different, not found, or a failing look-up.
  const labelsByName: Record<string, () => Record<string, string> | undefined> = {
    x: () => ({ team: 'a', tier: 'web' }),
    y: () => undefined,
    z: () => {
      throw new Error('boom');
    },
  };

  /** The rules read straight from FLUX-NOTES, one Alert at a time. */
  function linearScan(alerts: Alert[], e: FluxEvent, noCrossNamespaceRefs: boolean): string[] {
    const obj = e.involvedObject;
    const matches = (pattern: string) => {
      const compiled = compileRegex(pattern);
      return compiled.ok && compiled.regex.test(e.message);
    };
    const labels = (() => {
      try {
        return labelsByName[obj.name]!();
      } catch {
        return undefined;
      }
    })();
    return alerts
      .filter((a) => {
        if (a.spec.suspend) return false;
        if (noCrossNamespaceRefs && obj.namespace !== a.metadata.namespace) return false;
        if (a.spec.eventSeverity === 'error' && e.severity !== 'error') return false;
        const sourceMatches = a.spec.eventSources.some((s) => {
          const namespace = s.namespace || a.metadata.namespace;
          if (namespace !== obj.namespace || s.kind !== obj.kind) return false;
          if (s.name !== '*' && s.name !== obj.name) return false;
          if (s.matchLabels === undefined) return true;
          return labels !== undefined && Object.entries(s.matchLabels).every(([key, v]) => labels[key] === v);
        });
        if (!sourceMatches) return false;
        const inclusion = a.spec.inclusionList ?? [];
        if (inclusion.length > 0 && !inclusion.some(matches)) return false;
        return !(a.spec.exclusionList ?? []).some(matches);
      })
      .map((a) => `${a.metadata.namespace}/${a.metadata.name}`)
      .sort();
  }

  it('for random Alerts, updates and events', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 25 }), fc.array(eventArb, { minLength: 1, maxLength: 5 }), fc.boolean(), async (ops, events, noCross) => {
        const index = new AlertIndex({ noCrossNamespaceRefs: noCross });
        const model = new Map<string, Alert>();
        for (const op of ops) {
          if (op.op === 'delete') {
            index.delete(op.key);
            model.delete(op.key);
            continue;
          }
          const { name, namespace, ...spec } = op.a;
          const a = alert(name, spec, namespace);
          index.set(compileAlert(a));
          model.set(`${namespace}/${name}`, a);
        }
        expect(index.size).toBe(model.size);
        for (const fields of events) {
          const e = event(fields);
          const lookup: LabelLookup = (ref) => labelsByName[ref.name]!();
          const got = (await index.match(e, lookup)).map((c) => c.key);
          expect(got).toEqual(linearScan([...model.values()], e, noCross));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('compileAlert: shared regexes', () => {
  it('compiles a pattern once for every Alert that uses it, and still reports an invalid one for each', () => {
    const [a, b] = ['a', 'b'].map((name) => compileAlert(alert(name, { inclusionList: ['shared-.*'], exclusionList: ['(bad'] })));
    expect(a?.inclusion?.[0]).toBeDefined();
    expect(a?.inclusion?.[0]).toBe(b?.inclusion?.[0]);
    expect(a?.problems).toEqual([expect.stringMatching(/^spec\.exclusionList\[0\]: invalid RE2 expression "\(bad"/)]);
    expect(b?.problems).toEqual(a?.problems);
    expect(a?.inclusion?.[0]?.test('shared-x')).toBe(true);
    expect(b?.inclusion?.[0]?.test('other')).toBe(false);
  });
});
