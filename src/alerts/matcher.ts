/**
 * Finds the Alerts an event fires, with Flux's semantics (notification-controller,
 * internal/server/event_handlers.go: filterAlertsForEvent and eventMatchesAlertSource), but
 * indexed: an event is only checked against the Alerts that have a source for its
 * (namespace, kind, name) or (namespace, kind, `*`), so Alerts that cannot match cost nothing.
 */
import type { FluxEvent, ObjectReference, Severity } from '../events/event.js';
import type { CompiledAlert, CompiledSource } from './compile.js';

/**
 * The current labels of an event's involved object. Undefined (not found) and a throw or a
 * rejection all mean "no labels": a source with `matchLabels` then does not match, as in Flux
 * when getting the object fails.
 */
export type LabelLookup = (
  ref: ObjectReference,
) => Record<string, string> | undefined | Promise<Record<string, string> | undefined>;

/** An Alert's sources that fall in one index bucket. */
interface Posting {
  alert: CompiledAlert;
  sources: CompiledSource[];
}

/** Postings by Alert key, so replacing or deleting an Alert is O(its sources). */
type Postings = Map<string, Posting>;

interface KindBucket {
  byName: Map<string, Postings>;
  anyName: Postings;
}

export class AlertIndex {
  /** With `--no-cross-namespace-refs`, an Alert takes events from its own namespace only. */
  readonly noCrossNamespaceRefs: boolean;
  private readonly alerts = new Map<string, CompiledAlert>();
  /** namespace → kind → bucket. Nested maps, so a look-up builds no composite key. */
  private readonly buckets = new Map<string, Map<string, KindBucket>>();

  constructor(opts: { noCrossNamespaceRefs: boolean }) {
    this.noCrossNamespaceRefs = opts.noCrossNamespaceRefs;
  }

  get size(): number {
    return this.alerts.size;
  }

  /** Adds the Alert, or replaces the one with the same key. */
  set(alert: CompiledAlert): void {
    this.delete(alert.key);
    this.alerts.set(alert.key, alert);
    // A suspended Alert is skipped by Flux before anything else: keep it out of the index.
    if (alert.alert.spec.suspend === true) return;
    for (const source of this.indexableSources(alert)) {
      const postings = this.postingsFor(source, true);
      const posting = postings.get(alert.key);
      if (posting) posting.sources.push(source);
      else postings.set(alert.key, { alert, sources: [source] });
    }
  }

  /** The Alert stored under `namespace/name`. */
  get(key: string): CompiledAlert | undefined {
    return this.alerts.get(key);
  }

  /** Every Alert held, suspended ones included, ordered by key (for explaining a match, not for matching). */
  all(): CompiledAlert[] {
    return [...this.alerts.values()].sort(byKey);
  }

  delete(key: string): void {
    const alert = this.alerts.get(key);
    if (!alert) return;
    this.alerts.delete(key);
    for (const source of alert.sources) {
      this.postingsFor(source, false)?.delete(key);
      this.dropEmptyBucket(source);
    }
  }

  /**
   * The Alerts that fire for the event (metadata is not looked at), each at most once, ordered
   * by key. `labels` is called at most once, and only when an Alert that passed every other
   * check depends on `matchLabels`.
   */
  async match(event: FluxEvent, labels: LabelLookup): Promise<CompiledAlert[]> {
    const { namespace = '', kind, name } = event.involvedObject;
    const bucket = this.buckets.get(namespace)?.get(kind);
    if (!bucket) return [];

    const fired: CompiledAlert[] = [];
    const decided = new Set<string>();
    const awaitingLabels = new Map<string, Posting>();
    const consider = (posting: Posting): void => {
      const { alert } = posting;
      if (decided.has(alert.key)) return;
      // Alert-wide checks, cheapest first, once per Alert (an Alert awaiting labels passed them).
      const passedBefore = awaitingLabels.has(alert.key);
      if (!passedBefore && (!takesSeverity(alert, event.severity) || !takesMessage(alert, event.message))) {
        decided.add(alert.key);
        return;
      }
      if (posting.sources.some((source) => source.matchLabels === undefined)) {
        decided.add(alert.key);
        awaitingLabels.delete(alert.key);
        fired.push(alert);
        return;
      }
      // A copy: the index's own posting must not grow.
      const waiting = awaitingLabels.get(alert.key);
      awaitingLabels.set(alert.key, { alert, sources: waiting ? [...waiting.sources, ...posting.sources] : posting.sources });
    };
    bucket.byName.get(name)?.forEach(consider);
    bucket.anyName.forEach(consider);

    if (awaitingLabels.size > 0) {
      const objectLabels = await lookUpLabels(labels, event.involvedObject);
      if (objectLabels) {
        for (const { alert, sources } of awaitingLabels.values()) {
          if (sources.some((source) => carriesLabels(objectLabels, source))) fired.push(alert);
        }
      }
    }
    return fired.sort(byKey);
  }

  /**
   * With --no-cross-namespace-refs an Alert only handles events from its own namespace; since a
   * source only matches events from its namespace, sources elsewhere can never fire.
   */
  private indexableSources(alert: CompiledAlert): readonly CompiledSource[] {
    if (!this.noCrossNamespaceRefs) return alert.sources;
    return alert.sources.filter((source) => source.namespace === alert.alert.metadata.namespace);
  }

  private postingsFor(source: CompiledSource, create: true): Postings;
  private postingsFor(source: CompiledSource, create: false): Postings | undefined;
  private postingsFor(source: CompiledSource, create: boolean): Postings | undefined {
    let kinds = this.buckets.get(source.namespace);
    if (!kinds) {
      if (!create) return undefined;
      kinds = new Map();
      this.buckets.set(source.namespace, kinds);
    }
    let bucket = kinds.get(source.kind);
    if (!bucket) {
      if (!create) return undefined;
      bucket = { byName: new Map(), anyName: new Map() };
      kinds.set(source.kind, bucket);
    }
    if (source.name === '*') return bucket.anyName;
    let postings = bucket.byName.get(source.name);
    if (!postings && create) {
      postings = new Map();
      bucket.byName.set(source.name, postings);
    }
    return postings;
  }

  private dropEmptyBucket(source: CompiledSource): void {
    const kinds = this.buckets.get(source.namespace);
    const bucket = kinds?.get(source.kind);
    if (!kinds || !bucket) return;
    if (bucket.byName.get(source.name)?.size === 0) bucket.byName.delete(source.name);
    if (bucket.byName.size === 0 && bucket.anyName.size === 0) kinds.delete(source.kind);
    if (kinds.size === 0) this.buckets.delete(source.namespace);
  }
}

/**
 * Flux takes an event when its severity equals the Alert's or the Alert's is `info` (the
 * default). So an `error` Alert takes only errors and an `info` Alert takes everything,
 * `trace` included: the notification-controller does not filter `trace`; Flux's own senders
 * (fluxcd/pkg runtime/events) just never post it, keeping traces as Kubernetes events only.
 */
export function takesSeverity(alert: CompiledAlert, severity: Severity): boolean {
  const wanted = alert.alert.spec.eventSeverity ?? 'info';
  return wanted === 'info' || wanted === severity;
}

/** Inclusion first (one regex must match, when the list is set), then exclusion wins. */
export function takesMessage(alert: CompiledAlert, message: string): boolean {
  if (alert.inclusion && !alert.inclusion.some((regex) => regex.test(message))) return false;
  return !alert.exclusion.some((regex) => regex.test(message));
}

export function carriesLabels(labels: Record<string, string>, source: CompiledSource): boolean {
  return (source.matchLabels ?? []).every(([key, value]) => Object.hasOwn(labels, key) && labels[key] === value);
}

export async function lookUpLabels(labels: LabelLookup, ref: ObjectReference): Promise<Record<string, string> | undefined> {
  try {
    return (await labels(ref)) ?? undefined;
  } catch {
    return undefined;
  }
}

function byKey(a: CompiledAlert, b: CompiledAlert): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
