/**
 * Matching cost against the number of Alerts: the same events matched by an AlertIndex of 10
 * Alerts and one of 10,000, where all but a few Alerts cannot match those events (other
 * namespaces, other kinds, other object names in the events' own namespace and kind). The
 * index is meant to make the extra Alerts free; the target is ≤ 1.2× the time with 10.
 */
import { compileAlert } from '../src/alerts/compile.js';
import { AlertIndex, type LabelLookup } from '../src/alerts/matcher.js';
import type { FluxEvent } from '../src/events/event.js';
import type { Alert, EventSource } from '../src/api/types.js';
import { median } from './stats.js';

export interface MatchResult {
  small: { alerts: number; nsPerEvent: number };
  large: { alerts: number; nsPerEvent: number };
  ratio: number;
  /** Alerts fired per pass over the event mix (identical for both sizes, checked). */
  firedPerPass: number;
  eventsPerRound: number;
  rounds: number;
}

function alert(namespace: string, name: string, sources: EventSource[], spec: Partial<Alert['spec']> = {}): Alert {
  return {
    apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
    kind: 'Alert',
    metadata: { namespace, name, generation: 1 },
    spec: { providerRef: { name: 'bench' }, eventSources: sources, ...spec },
  };
}

/** The Alerts that do take (some of) the events, all in flux-system. */
function matchingAlerts(): Alert[] {
  return [
    alert('flux-system', 'all-kustomizations', [{ kind: 'Kustomization', name: '*' }]),
    alert('flux-system', 'apps-ready', [{ kind: 'Kustomization', name: 'apps' }], {
      inclusionList: ['^Reconciliation finished'],
      exclusionList: ['^Dependencies do not meet ready condition'],
    }),
    alert('flux-system', 'helm-errors', [{ kind: 'HelmRelease', name: '*' }], { eventSeverity: 'error' }),
    alert('flux-system', 'platform-labelled', [{ kind: 'Kustomization', name: '*', matchLabels: { team: 'platform' } }]),
  ];
}

const FILLER_KINDS = ['HelmRelease', 'GitRepository', 'OCIRepository', 'Kustomization', 'ImageUpdateAutomation', 'Bucket'];

/**
 * Alert `i` of the ones that cannot match the benchmark's events: most live in other
 * namespaces; one in ten sits in flux-system but names an object no event is about (the same
 * index bucket as the events' kind, which must still cost nothing); one in ten is a
 * cross-namespace source from a team namespace to a flux-system object that never sends.
 */
function fillerAlert(i: number): Alert {
  const kind = FILLER_KINDS[i % FILLER_KINDS.length] as string;
  if (i % 10 === 0) return alert('flux-system', `filler-${i}`, [{ kind, name: `svc-${i}` }]);
  const team = `team-${i % 500}`;
  if (i % 10 === 1) return alert(team, `filler-${i}`, [{ kind, name: `svc-${i}`, namespace: 'flux-system' }]);
  // A `*` source too, on a kind no event in the mix has in a team namespace.
  return alert(team, `filler-${i}`, [
    { kind, name: `svc-${i}` },
    { kind: 'HelmRelease', name: '*' },
  ]);
}

function buildIndex(size: number): AlertIndex {
  const index = new AlertIndex({ noCrossNamespaceRefs: false });
  const matching = matchingAlerts();
  for (const a of matching) index.set(compileAlert(a));
  for (let i = 0; i < size - matching.length; i++) {
    const compiled = compileAlert(fillerAlert(i));
    if (compiled.problems.length > 0) throw new Error(`bench alert invalid: ${compiled.problems.join('; ')}`);
    index.set(compiled);
  }
  if (index.size !== size) throw new Error(`index holds ${index.size} alerts, expected ${size}`);
  return index;
}

function event(kind: string, namespace: string, name: string, message: string, severity: FluxEvent['severity'] = 'info'): FluxEvent {
  return {
    involvedObject: { kind, namespace, name, apiVersion: 'kustomize.toolkit.fluxcd.io/v1', uid: 'b3c1' },
    severity,
    timestamp: '2026-11-24T09:00:00Z',
    message,
    reason: severity === 'error' ? 'ReconciliationFailed' : 'ReconciliationSucceeded',
    metadata: { 'kustomize.toolkit.fluxcd.io/revision': 'main@sha1:6f1d5e3c' },
    reportingController: 'kustomize-controller',
  };
}

/** A mix: events that fire 1–3 Alerts, one excluded by regex, and events nothing takes. */
function eventMix(): FluxEvent[] {
  return [
    event('Kustomization', 'flux-system', 'apps', 'Reconciliation finished in 1.2s, next run in 10m0s'),
    event('Kustomization', 'flux-system', 'apps', 'Dependencies do not meet ready condition, retrying in 30s'),
    event('Kustomization', 'flux-system', 'infrastructure', 'Reconciliation finished in 3.4s, next run in 1h0m0s'),
    event('HelmRelease', 'flux-system', 'podinfo', 'Helm upgrade failed: timed out waiting for the condition', 'error'),
    event('HelmRelease', 'flux-system', 'podinfo', 'Helm upgrade succeeded'),
    event('GitRepository', 'team-7', 'app-source', "stored artifact for commit 'Merge pull request #42'"),
    event('Kustomization', 'team-12', 'frontend', 'Reconciliation finished in 0.8s, next run in 5m0s'),
    event('OCIRepository', 'other', 'charts', 'stored artifact with revision 1.2.3'),
  ];
}

const labels: LabelLookup = (ref) => (ref.name === 'infrastructure' ? { team: 'platform' } : { team: 'apps' });

async function round(index: AlertIndex, events: FluxEvent[], iterations: number): Promise<{ ns: number; fired: number }> {
  let fired = 0;
  const n = events.length;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    fired += (await index.match(events[i % n] as FluxEvent, labels)).length;
  }
  const ns = Number(process.hrtime.bigint() - t0) / iterations;
  return { ns, fired };
}

export async function runMatchBenchmark(opts: { iterations: number; rounds: number; sizes?: [number, number] }): Promise<MatchResult> {
  const [smallSize, largeSize] = opts.sizes ?? [10, 10_000];
  const events = eventMix();
  const small = buildIndex(smallSize);
  const large = buildIndex(largeSize);

  // Same answers from both: the filler really cannot match.
  let firedPerPass = 0;
  for (const e of events) {
    const a = (await small.match(e, labels)).map((x) => x.key).join(',');
    const b = (await large.match(e, labels)).map((x) => x.key).join(',');
    if (a !== b) throw new Error(`indexes disagree on ${e.involvedObject.kind}/${e.involvedObject.name}: [${a}] vs [${b}]`);
    firedPerPass += (await small.match(e, labels)).length;
  }

  // Warm up both (JIT, inline caches), then alternate rounds so drift hits both alike.
  for (let i = 0; i < 3; i++) {
    await round(small, events, opts.iterations / 4);
    await round(large, events, opts.iterations / 4);
  }
  const smallNs: number[] = [];
  const largeNs: number[] = [];
  for (let i = 0; i < opts.rounds; i++) {
    smallNs.push((await round(small, events, opts.iterations)).ns);
    largeNs.push((await round(large, events, opts.iterations)).ns);
  }
  const s = median(smallNs);
  const l = median(largeNs);
  return {
    small: { alerts: smallSize, nsPerEvent: s },
    large: { alerts: largeSize, nsPerEvent: l },
    ratio: l / s,
    firedPerPass,
    eventsPerRound: opts.iterations,
    rounds: opts.rounds,
  };
}
