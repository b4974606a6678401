/**
 * The current Providers, Alerts and Secrets, validated, plus every other object's labels for
 * `matchLabels`. Both sources feed it through the same path: the manifests directory sends
 * full snapshots (`replaceAll`), the Kubernetes informers single objects (`upsert`, `remove`).
 *
 * Work is proportional to what changed: an unchanged object (same content, whatever its keys'
 * order) is not looked at again, a Secret change re-resolves only the Providers that reference it, and a Provider
 * change re-validates only the Alerts that name it. Alert regexes are compiled only when the
 * Alert itself changes.
 *
 * Which Alerts are in the matcher's index: every Alert whose spec is well-formed (it has a
 * providerRef and event sources), including those with an invalid regex (Flux still matches
 * them: the invalid pattern is reported, the rest applies) and those whose Provider is
 * missing, not ready or suspended. Flux finds that out only at dispatch, and so does Herald:
 * the dispatcher asks `provider()` and skips the Alert. Suspended Alerts are left out by the
 * index itself.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { ProviderAdapter, ProviderConfig } from '../../providers/types.js';
import { compileAlert, type CompiledAlert } from '../alerts/compile.js';
import { AlertIndex } from '../alerts/matcher.js';
import { apiGroup, type ObjectReference } from '../events/event.js';
import { readyCondition } from '../api/conditions.js';
import type { ManifestProblem } from './manifests.js';
import {
  NOTIFICATION_GROUP,
  groupOf,
  isAlert,
  isProvider,
  isReceiver,
  isSecret,
  objectKey,
  parseObjectKey,
  storedKey,
  storedObjectKey,
  type Alert,
  type Finding,
  type Logger,
  type Provider,
  type ReadyCondition,
  type ReceiverObject,
  type Secret,
  type StoredObject,
} from '../api/types.js';
import { TalliedStates, type ReadyStatus } from './tallied-states.js';
import { compileFindings, providerRefFindings, validateAlertSpec, validateProvider } from './validate.js';

export interface ResolvedProvider {
  resource: Provider;
  ready: boolean;
  reason: string;
  message: string;
  suspended: boolean;
  /** Set whenever Herald has an adapter for `spec.type`, ready or not. */
  adapter?: ProviderAdapter;
  /** Set when ready. */
  config?: ProviderConfig;
  /** Set when ready: the adapter's prepared configuration. */
  prepared?: unknown;
  /**
   * Set when ready: a hash of `config`, the same for as long as the resolved configuration is.
   * Delivery's HTTP client cache keys each Provider's client by it.
   */
  configHash?: string;
}

export interface ResourceStatus {
  kind: 'Provider' | 'Alert' | 'Receiver';
  namespace: string;
  name: string;
  ready: ReadyCondition;
  suspended?: boolean;
  /** Each finding's message, when not ready. */
  problems?: string[];
  /** The manifest's fields Herald does not know (ignored), ready or not. */
  warnings?: string[];
  /** Receivers: `status.webhookPath` ('' when there is none). */
  webhookPath?: string;
  /** Receivers: when the last verified request arrived (RFC 3339), if one did. */
  lastRequestAt?: string;
  /** Receivers: not Ready for a configuration error no retry fixes (Flux's `Stalled` condition). */
  stalled?: boolean;
  /** Receivers: the `reconcile.fluxcd.io/requestedAt` value handled last (what `flux reconcile` waits for). */
  lastHandledReconcileAt?: string;
}

/** What the status API serves: every resource's Ready condition and the manifests that did not load. */
export interface StoreStatuses {
  resources: ResourceStatus[];
  problems: ManifestProblem[];
}

/** How many resources of a kind are in one Ready status. */
export interface ReadyCount {
  kind: ResourceStatus['kind'];
  ready: ReadyStatus;
  count: number;
}

/** Payload of the `'changed'` event: the `namespace/name` of each resource evaluated again. */
export interface StoreChange {
  providers: string[];
  alerts: string[];
}

export interface ResourceStoreOptions {
  noCrossNamespaceRefs?: boolean;
  logger?: Logger;
}

interface ProviderState {
  resolved: ResolvedProvider;
  condition: ReadyCondition;
  findings: Finding[];
  /** `namespace/name` of each Secret the spec references, found or not. */
  secretKeys: string[];
}

interface AlertState {
  resource: Alert;
  /** The spec's own findings and the compiler's; they change only with the Alert. */
  ownFindings: Finding[];
  compiled?: CompiledAlert;
  condition: ReadyCondition;
  findings: Finding[];
}


/** One object to add or replace (`object` set) or to delete. */
interface Change {
  identity: string;
  object?: StoredObject;
}

/**
 * Everything a snapshot determines. Single changes are applied to the current state in place;
 * `replaceAllGradually` builds the next state aside and swaps it in whole. States share the
 * objects, Provider and Alert states and compiled Alerts that did not change: none of them is
 * ever modified, only replaced.
 */
interface StoreState {
  /** Every object by `storedObjectKey`. */
  objects: Map<string, StoredObject>;
  /** The same objects by `kind|namespace|name`, then group: for label look-ups. */
  byName: Map<string, Map<string, StoredObject>>;
  providerStates: TalliedStates<ProviderState>;
  alertStates: TalliedStates<AlertState>;
  /** The matcher's index of the Alerts. */
  index: AlertIndex;
}

/** What an Alert's own spec yields, whatever the state of its Provider. */
interface PreparedAlert {
  ownFindings: Finding[];
  /** Undefined when the spec is not well-formed enough to match anything. */
  compiled?: CompiledAlert;
}

export interface ResourceStore {
  on(event: 'changed', listener: (change: StoreChange) => void): this;
  emit(event: 'changed', change: StoreChange): boolean;
}

export class ResourceStore extends EventEmitter {
  private readonly noCrossNamespaceRefs: boolean;
  private readonly logger?: Logger;
  private state: StoreState;
  private fileProblems: ManifestProblem[] = [];
  /** Ready-condition changes not logged yet: a swap of thousands of Alerts logs them after, in slices. */
  private transitions: Array<{ kind: string; key: string; condition: ReadyCondition }> = [];
  /** Resources whose unknown fields changed since the last log, to log once. */
  private warned: Array<{ kind: string; key: string; warnings: string[] }> = [];
  private isLoaded = false;
  /** Statuses of kinds evaluated above the store (Receivers), merged into `statuses()`. */
  private readonly statusSources: Array<() => ResourceStatus[]> = [];

  constructor(opts: ResourceStoreOptions = {}) {
    super();
    this.noCrossNamespaceRefs = opts.noCrossNamespaceRefs ?? false;
    this.logger = opts.logger;
    this.state = this.emptyState();
  }

  /** The matcher's index of the current Alerts. */
  get alerts(): AlertIndex {
    return this.state.index;
  }

  /** True once the first full snapshot has been applied. */
  get loaded(): boolean {
    return this.isLoaded;
  }

  /** Replaces everything with a full snapshot; `problems` are the snapshot's parse problems. */
  replaceAll(objects: readonly StoredObject[], problems: readonly ManifestProblem[]): void {
    const next = new Map<string, StoredObject>();
    for (const object of objects) next.set(storedObjectKey(object), object);
    const changes: Change[] = [...next].map(([identity, object]) => ({ identity, object }));
    for (const identity of this.state.objects.keys()) if (!next.has(identity)) changes.push({ identity });
    const forceNotify = this.takeProblems(problems);
    this.applyAndNotify(changes, forceNotify);
  }

  /**
   * `replaceAll` for snapshots of any size, without holding up the event loop: the next state
   * is built aside in slices of `sliceMs` (comparison with the current objects; validation,
   * compiled regexes and conditions of what changed; a new matcher index), between which events are still matched
   * against the current state, untouched; then it is swapped in in one step. Not to be mixed
   * with `upsert` or `remove` while it runs (the directory source only replaces snapshots).
   */
  async replaceAllGradually(objects: readonly StoredObject[], problems: readonly ManifestProblem[], sliceMs = 5): Promise<void> {
    const live = this.state;
    const next = this.emptyState();
    const pause = slicer(sliceMs);
    const changed = { secrets: new Set<string>(), providers: new Set<string>(), alerts: new Set<string>() };
    const noteChange = (object: StoredObject) => {
      const key = objectKey(object.metadata);
      if (isSecret(object)) changed.secrets.add(key);
      else if (isProvider(object)) changed.providers.add(key);
      else if (isAlert(object)) changed.alerts.add(key);
    };
    const providerKeys = new Set<string>();
    const alertKeys = new Set<string>();
    const prepared = new Map<string, PreparedAlert>();
    let changedObjects = 0;

    for (const object of objects) {
      await pause();
      const identity = storedObjectKey(object);
      const previous = live.objects.get(identity);
      const unchanged = previous !== undefined && sameContent(previous, object);
      put(next, identity, unchanged ? previous : object);
      if (isProvider(object)) providerKeys.add(objectKey(object.metadata));
      if (isAlert(object)) alertKeys.add(objectKey(object.metadata));
      if (unchanged) continue;
      changedObjects++;
      noteChange(object);
      if (isAlert(object)) prepared.set(objectKey(object.metadata), prepareAlert(object));
    }
    for (const [identity, object] of live.objects) {
      await pause();
      if (next.objects.has(identity)) continue;
      changedObjects++;
      noteChange(object);
    }

    // Providers whose manifest or Secrets changed are resolved again; the others are kept.
    const providersThatMoved = new Set([...live.providerStates.keys()].filter((key) => !providerKeys.has(key)));
    for (const key of providerKeys) {
      await pause();
      const previous = live.providerStates.get(key);
      const secretChanged = previous?.secretKeys.some((secretKey) => changed.secrets.has(secretKey)) ?? false;
      if (previous && !changed.providers.has(key) && !secretChanged) {
        next.providerStates.set(key, previous);
        continue;
      }
      changed.providers.add(key);
      if (this.evaluateProvider(key, next, live)) providersThatMoved.add(key);
    }
    // Alerts whose manifest changed, or whose Provider's readiness did, are evaluated again.
    for (const key of alertKeys) {
      await pause();
      const previous = live.alertStates.get(key);
      const providerMoved = previous !== undefined && providersThatMoved.has(providerKeyOf(previous.resource));
      if (previous && !changed.alerts.has(key) && !providerMoved) {
        next.alertStates.set(key, previous);
        if (previous.compiled) next.index.set(previous.compiled);
        continue;
      }
      this.evaluateAlert(key, changed.alerts.has(key), prepared.get(key), next, live);
      changed.alerts.add(key);
    }

    const forceNotify = this.takeProblems(problems);
    this.state = next;
    if (forceNotify || changedObjects > 0) {
      this.emit('changed', { providers: [...changed.providers].sort(), alerts: [...changed.alerts].sort() });
    }
    await this.logTransitions(sliceMs);
  }

  /** Adds or replaces one object. */
  upsert(object: StoredObject): void {
    this.applyAndNotify([{ identity: storedObjectKey(object), object }], false);
  }

  /**
   * Deletes one object. Without `apiVersion`, `Provider` and `Alert` mean Flux's kinds,
   * `Secret` the core one, and any other kind every group's object of that kind and name.
   */
  remove(kind: string, namespace: string, name: string, apiVersion?: string): void {
    const group = apiVersion !== undefined ? groupOf(apiVersion) : defaultGroupOf(kind);
    const candidates = this.state.byName.get(nameKey(kind, namespace, name)) ?? new Map<string, StoredObject>();
    const changes = [...candidates.keys()]
      .filter((candidateGroup) => group === undefined || candidateGroup === group)
      .map((candidateGroup) => ({ identity: storedKey(candidateGroup, kind, namespace, name) }));
    this.applyAndNotify(changes, false);
  }

  provider(namespace: string, name: string): ResolvedProvider | undefined {
    return this.state.providerStates.get(objectKey({ namespace, name }))?.resolved;
  }

  /**
   * The labels of the object an event is about (`{}` when it has none), or undefined when no
   * such object is stored. The API group must match when the reference has one, except that
   * any two Flux groups (`*.toolkit.fluxcd.io`) count as the same: Flux's kind names are
   * unique across its groups. The version never matters.
   */
  labelsOf(ref: ObjectReference): Record<string, string> | undefined {
    const candidates = this.state.byName.get(nameKey(ref.kind, ref.namespace || 'default', ref.name));
    if (!candidates) return undefined;
    const group = ref.apiVersion ? apiGroup(ref) : undefined;
    const found =
      group === undefined
        ? candidates.values().next().value
        : (candidates.get(group) ?? (isFluxGroup(group) ? [...candidates].find(([g]) => isFluxGroup(g))?.[1] : undefined));
    return found ? { ...found.metadata.labels } : undefined;
  }

  /** Every stored Receiver, as stored (the receivers module validates them). */
  receivers(): ReceiverObject[] {
    return [...this.state.objects.values()].filter(isReceiver);
  }

  /** Every stored object: the targets a Receiver resolves in manifests mode. */
  objects(): Iterable<StoredObject> {
    return [...this.state.objects.values()];
  }

  /** The decoded data of a Secret, or undefined when it is absent or unusable. */
  secretData(namespace: string, name: string): Readonly<Record<string, string>> | undefined {
    const secret = objectAt<Secret>(this.state, '', 'Secret', namespace, name);
    return secret && secret.invalid === undefined ? secret.data : undefined;
  }

  /** Adds the statuses of a kind evaluated outside the store (Receivers) to `statuses()`. */
  addStatusSource(source: () => ResourceStatus[]): void {
    this.statusSources.push(source);
  }

  /** Every stored object of a kind in an API group (any version), e.g. the image automation kinds for their controller. */
  objectsOf(group: string, kind: string): StoredObject[] {
    const found: StoredObject[] = [];
    for (const object of this.state.objects.values()) {
      if (object.kind === kind && groupOf(object.apiVersion) === group) found.push(object);
    }
    return found;
  }

  /** The Ready condition of every Provider, Alert and Receiver, and the last snapshot's parse problems; free of secret values. */
  statuses(): StoreStatuses {
    const entries: ResourceStatus[] = [];
    const add = (kind: ResourceStatus['kind'], resource: Provider | Alert, condition: ReadyCondition, findings: Finding[]) => {
      const status: ResourceStatus = { kind, namespace: resource.metadata.namespace, name: resource.metadata.name, ready: condition };
      if (resource.spec.suspend === true) status.suspended = true;
      if (findings.length > 0) status.problems = findings.map((f) => f.message);
      if (resource.warnings?.length) status.warnings = [...resource.warnings];
      entries.push(status);
    };
    for (const state of this.state.providerStates.values()) add('Provider', state.resolved.resource, state.condition, state.findings);
    for (const state of this.state.alertStates.values()) add('Alert', state.resource, state.condition, state.findings);
    for (const source of this.statusSources) entries.push(...source());
    entries.sort((a, b) => statusOrder(a).localeCompare(statusOrder(b)));
    return { resources: entries, problems: this.fileProblems.map((problem) => ({ ...problem })) };
  }

  /**
   * How many Providers, Alerts and Receivers are in each Ready status. Providers and Alerts are
   * counted as they change, so this costs the same whatever their number; the Receivers (few)
   * are counted from their status sources.
   */
  readyCounts(): ReadyCount[] {
    const counts: ReadyCount[] = [];
    for (const [ready, count] of this.state.providerStates.counts()) counts.push({ kind: 'Provider', ready, count });
    for (const [ready, count] of this.state.alertStates.counts()) counts.push({ kind: 'Alert', ready, count });
    const others = new Map<string, ReadyCount>();
    for (const source of this.statusSources) {
      for (const { kind, ready } of source()) {
        const key = `${kind}|${ready.status}`;
        const entry = others.get(key) ?? { kind, ready: ready.status, count: 0 };
        entry.count++;
        others.set(key, entry);
      }
    }
    return [...counts, ...others.values()];
  }

  /** Keeps the snapshot's problems; true when they changed or this is the first snapshot (listeners must hear of it). */
  private takeProblems(problems: readonly ManifestProblem[]): boolean {
    const problemsChanged = JSON.stringify(problems) !== JSON.stringify(this.fileProblems);
    this.fileProblems = [...problems];
    const firstSnapshot = !this.isLoaded;
    this.isLoaded = true;
    return firstSnapshot || problemsChanged;
  }

  private emptyState(): StoreState {
    return {
      objects: new Map(),
      byName: new Map(),
      providerStates: new TalliedStates(),
      alertStates: new TalliedStates(),
      index: new AlertIndex({ noCrossNamespaceRefs: this.noCrossNamespaceRefs }),
    };
  }

  private applyAndNotify(changes: Change[], forceNotify: boolean): void {
    const change = this.apply(changes);
    void this.logTransitions();
    if (forceNotify || change.changedObjects > 0) this.emit('changed', { providers: change.providers, alerts: change.alerts });
  }

  private apply(changes: Change[]): StoreChange & { changedObjects: number } {
    const secrets = new Set<string>();
    const providers = new Set<string>();
    const alerts = new Set<string>();
    let changedObjects = 0;
    for (const { identity, object } of changes) {
      const previous = this.state.objects.get(identity);
      if (object ? previous !== undefined && sameContent(previous, object) : previous === undefined) continue;
      changedObjects++;
      const affected = object ?? previous;
      if (!affected) continue;
      if (object) put(this.state, identity, object);
      else drop(this.state, identity, affected);
      const key = objectKey(affected.metadata);
      if (isSecret(affected)) secrets.add(key);
      else if (isProvider(affected)) providers.add(key);
      else if (isAlert(affected)) alerts.add(key);
    }

    // A Secret change re-resolves the Providers that reference it. (Both loops below look at
    // every Provider or Alert: only when there is a reason to, so that one Alert's change
    // costs the same among 10,000 Alerts as among 10.)
    if (secrets.size > 0) {
      for (const [key, state] of this.state.providerStates) {
        if (state.secretKeys.some((secretKey) => secrets.has(secretKey))) providers.add(key);
      }
    }
    const providersThatMoved = new Set([...providers].filter((key) => this.evaluateProvider(key)));

    // Alerts whose own manifest changed are recompiled; those naming a Provider whose
    // readiness changed only get a new condition.
    const recompile = new Set(alerts);
    if (providersThatMoved.size > 0) {
      for (const [key, state] of this.state.alertStates) {
        if (providersThatMoved.has(providerKeyOf(state.resource))) alerts.add(key);
      }
    }
    for (const key of alerts) this.evaluateAlert(key, recompile.has(key));

    return { providers: [...providers].sort(), alerts: [...alerts].sort(), changedObjects };
  }

  /**
   * Validates and resolves one Provider of `into`, `before` holding its previous state; true
   * when its readiness or message changed (its Alerts care).
   */
  private evaluateProvider(key: string, into: StoreState = this.state, before: StoreState = into): boolean {
    const previous = before.providerStates.get(key);
    const resource = objectAt<Provider>(into, NOTIFICATION_GROUP, 'Provider', ...parseObjectKey(key));
    if (!resource) {
      into.providerStates.delete(key);
      return previous !== undefined;
    }

    const validation = validateProvider(resource, (namespace, name) => objectAt<Secret>(into, '', 'Secret', namespace, name));
    const findings = [...validation.findings];
    const { config } = validation;

    const condition = readyCondition(findings, 'Provider is ready', previous?.condition, resource.metadata.generation);
    const state: ProviderState = {
      resolved: {
        resource,
        ready: condition.status === 'True',
        reason: condition.reason,
        message: condition.message,
        suspended: resource.spec.suspend === true,
        adapter: validation.adapter,
        config,
        prepared: config && validation.prepared,
        configHash: config && contentHash(config),
      },
      condition,
      findings,
      secretKeys: referencedSecretKeys(resource),
    };
    into.providerStates.set(key, state);
    this.logTransition('Provider', key, previous?.condition, condition);
    this.noteWarnings('Provider', key, previous?.resolved.resource, resource);
    return previous === undefined || previous.condition.status !== condition.status || previous.condition.message !== condition.message;
  }

  /**
   * Evaluates one Alert of `into`, `before` holding its previous state; `prepared` is its
   * validation and compilation when already done.
   */
  private evaluateAlert(key: string, recompile: boolean, prepared?: PreparedAlert, into: StoreState = this.state, before: StoreState = into): void {
    const previous = before.alertStates.get(key);
    const resource = objectAt<Alert>(into, NOTIFICATION_GROUP, 'Alert', ...parseObjectKey(key));
    if (!resource) {
      into.index.delete(key);
      into.alertStates.delete(key);
      return;
    }

    let { ownFindings, compiled } = previous ?? { ownFindings: [], compiled: undefined };
    if (recompile || !previous) {
      ({ ownFindings, compiled } = prepared ?? prepareAlert(resource));
      if (compiled) into.index.set(compiled);
      else into.index.delete(key);
    } else if (into !== before && compiled) {
      into.index.set(compiled); // a new index, built aside
    }
    const providerFindings = compiled ? providerRefFindings(resource, into.providerStates.get(providerKeyOf(resource))?.resolved) : [];
    const findings = [...ownFindings, ...providerFindings];
    const condition = readyCondition(findings, 'Alert is ready', previous?.condition, resource.metadata.generation);
    into.alertStates.set(key, { resource, ownFindings, compiled, condition, findings });
    this.logTransition('Alert', key, previous?.condition, condition);
    this.noteWarnings('Alert', key, previous?.resource, resource);
  }

  /** Noted during a change, logged after it (`logTransitions`). */
  private logTransition(kind: string, key: string, previous: ReadyCondition | undefined, next: ReadyCondition): void {
    if (!this.logger || (previous?.status === next.status && previous.message === next.message)) return;
    this.transitions.push({ kind, key, condition: next });
  }

  /** Notes a resource's unknown fields for the log when they differ from its previous version's. */
  private noteWarnings(kind: string, key: string, previous: Provider | Alert | undefined, next: Provider | Alert): void {
    if (!this.logger || !next.warnings?.length) return;
    if (JSON.stringify(previous?.warnings) === JSON.stringify(next.warnings)) return;
    this.warned.push({ kind, key, warnings: next.warnings });
  }

  /**
   * Logs the noted transitions and unknown fields; with `sliceMs`, in slices that yield to the
   * event loop. A change that makes more than `READY_LINES_PER_CHANGE` resources ready (the
   * first load of thousands of Alerts) logs them as one line per kind, with their count; a
   * resource that is not ready is always logged on its own, with its reason.
   */
  private async logTransitions(sliceMs?: number): Promise<void> {
    for (const { kind, key, warnings } of this.warned.splice(0)) {
      this.logger?.warn({ kind, resource: key, warnings }, `${kind} has fields Herald does not know; they are ignored`);
    }
    const transitions = this.transitions.splice(0);
    const readyCounts = new Map<string, number>();
    for (const { kind, condition } of transitions) if (condition.status === 'True') readyCounts.set(kind, (readyCounts.get(kind) ?? 0) + 1);
    const readyInOneLine = [...readyCounts.values()].reduce((sum, count) => sum + count, 0) > READY_LINES_PER_CHANGE;
    if (readyInOneLine) {
      for (const [kind, count] of readyCounts) this.logger?.info({ kind, count }, count === 1 ? `1 ${kind} is ready` : `${count} ${kind}s are ready`);
    }
    const pause = sliceMs === undefined ? undefined : slicer(sliceMs);
    for (const { kind, key, condition } of transitions) {
      if (condition.status === 'True' && readyInOneLine) continue;
      if (pause) await pause(); // not even a microtask when logging at once
      const fields = { kind, resource: key, reason: condition.reason, message: condition.message };
      if (condition.status === 'True') this.logger?.info(fields, `${kind} is ready`);
      else this.logger?.warn(fields, `${kind} is not ready`);
    }
  }
}

/** Resources made ready by one change that are still logged one line each (see `logTransitions`). */
const READY_LINES_PER_CHANGE = 20;

function put(state: StoreState, identity: string, object: StoredObject): void {
  state.objects.set(identity, object);
  const key = nameKeyOf(object);
  const groups = state.byName.get(key) ?? new Map<string, StoredObject>();
  groups.set(groupOf(object.apiVersion), object);
  state.byName.set(key, groups);
}

function drop(state: StoreState, identity: string, object: StoredObject): void {
  state.objects.delete(identity);
  const key = nameKeyOf(object);
  const groups = state.byName.get(key);
  groups?.delete(groupOf(object.apiVersion));
  if (groups?.size === 0) state.byName.delete(key);
}

function objectAt<T extends StoredObject>(state: StoreState, group: string, kind: string, namespace: string, name: string): T | undefined {
  return state.objects.get(storedKey(group, kind, namespace, name)) as T | undefined;
}

/** Calls that yield to the event loop once `sliceMs` have passed since the last yield. */
function slicer(sliceMs: number): () => Promise<void> {
  let sliceStart = performance.now();
  return async () => {
    if (performance.now() - sliceStart < sliceMs) return;
    await yieldToEventLoop();
    sliceStart = performance.now();
  };
}

function prepareAlert(resource: Alert): PreparedAlert {
  const specFindings = validateAlertSpec(resource);
  if (specFindings.length > 0) return { ownFindings: specFindings };
  const compiled = compileAlert(resource);
  return { ownFindings: compileFindings(compiled), compiled };
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function nameKey(kind: string, namespace: string, name: string): string {
  return `${kind}|${namespace}|${name}`;
}

function nameKeyOf(object: StoredObject): string {
  return nameKey(object.kind, object.metadata.namespace, object.metadata.name);
}

function defaultGroupOf(kind: string): string | undefined {
  if (kind === 'Provider' || kind === 'Alert') return NOTIFICATION_GROUP;
  if (kind === 'Secret') return '';
  return undefined;
}

function isFluxGroup(group: string): boolean {
  return group.endsWith('.toolkit.fluxcd.io');
}

function providerKeyOf(alert: Alert): string {
  return objectKey({ namespace: alert.metadata.namespace, name: alert.spec.providerRef?.name ?? '' });
}

function referencedSecretKeys({ metadata, spec }: Provider): string[] {
  return [spec.secretRef, spec.certSecretRef, spec.proxySecretRef]
    .filter((ref) => ref?.name)
    .map((ref) => objectKey({ namespace: metadata.namespace, name: ref?.name ?? '' }));
}

function statusOrder(status: ResourceStatus): string {
  return `${status.kind}|${status.namespace}|${status.name}`;
}

/**
 * Whether two JSON-like values hold the same content: key order does not count, nor does a
 * field set to undefined (JSON leaves it out). Comparing the new object with the stored one
 * costs less than hashing either, and holds nothing per object.
 */
export function sameContent(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => sameContent(item, b[i]));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  let fields = 0;
  for (const key in left) {
    if (!Object.prototype.hasOwnProperty.call(left, key) || left[key] === undefined) continue;
    if (!Object.prototype.hasOwnProperty.call(right, key) || !sameContent(left[key], right[key])) return false;
    fields++;
  }
  for (const key in right) {
    if (Object.prototype.hasOwnProperty.call(right, key) && right[key] !== undefined) fields--;
  }
  return fields === 0;
}

/** A hash of the value's JSON with sorted keys, so that key order does not count as a change. */
function contentHash(value: unknown): string {
  return createHash('sha256').update(stableJson(value)).digest('hex');
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
