/**
 * Runs image automation over the resource store's ImageRepositories, ImagePolicies and
 * ImageUpdateAutomations (and the GitRepositories they push to): each object is validated when
 * it appears or changes, then reconciled on its own schedule, at most `concurrency` at a time.
 *
 * - an ImageRepository is scanned when it appears or its spec changes, then after the requeue
 *   its reconcile asks for (the interval, or a backoff after a failure);
 * - an ImagePolicy is evaluated when it appears or changes, and whenever its repository's
 *   scan revision changes;
 * - an ImageUpdateAutomation runs when it appears or changes, on its interval, and whenever
 *   an ImagePolicy's `latestRef` changes.
 *
 * Each reconcile's event goes to `dispatch`, exactly as if a Flux controller had POSTed it.
 * Statuses (and each automation's explain report) are kept here, for the status API.
 */
import { createHash } from 'node:crypto';
import { objectKey, parseObjectKey, type Logger, type StoredObject } from '../api/types.js';
import type { FluxEvent } from '../events/event.js';
import { errorMessage } from '../common/errors.js';
import type { ClientPool } from './client-pool.js';
import { reconcileImagePolicy } from './image-policy.js';
import { validateImagePolicy, validateImageRepository, type ValidImagePolicy, type ValidImageRepository } from './manifests.js';
import type { RefStore } from './ref-store.js';
import { fetchDigest, reconcileImageRepository, type ReconcileOutcome } from './repository.js';
import { readyOf } from './status.js';
import type { TagStore } from './tag-store.js';
import { IMAGE_KINDS, holdsImageObjects, type ImageKind } from './kinds.js';
import { IMAGE_GROUP, type Condition, type ImagePolicyStatus, type ImageRepository, type ImageRepositoryStatus } from './types.js';
import { runAutomation, type AutomationOutcome } from './update/automation.js';
import { KeyedLock } from './update/git.js';
import { parseGitRepository, parseImageUpdateAutomation } from './update/manifests.js';
import type { ExplainReport } from './update/setters.js';
import { SOURCE_GROUP, type GitRepository, type ImageUpdateAutomation, type ImageUpdateAutomationStatus, type PolicyInput } from './update/types.js';

export type { ImageKind } from './kinds.js';

/** What the controller reads from the resource store. */
export interface ImageObjectSource {
  objectsOf(group: string, kind: string): StoredObject[];
  secretData(namespace: string, name: string): Readonly<Record<string, string>> | undefined;
}

/** The reconcile functions; replaceable in tests of the scheduling. */
export interface Reconcilers {
  repository(valid: ValidImageRepository): Promise<ReconcileOutcome<ImageRepositoryStatus>>;
  policy(valid: ValidImagePolicy): Promise<ReconcileOutcome<ImagePolicyStatus>>;
  automation(automation: ImageUpdateAutomation, git: GitRepository | undefined, policies: PolicyInput[], previouslyReady: boolean): Promise<AutomationOutcome>;
}

export interface ImageControllerOptions {
  source: ImageObjectSource;
  tags: TagStore;
  refs: RefStore;
  clients: ClientPool;
  dispatch(event: FluxEvent): void;
  logger?: Logger;
  /** Reconciles running at once (default 4). */
  concurrency?: number;
  noCrossNamespaceRefs?: boolean;
  /** First retry after a failure; doubled up to `maxBackoffMs` (defaults 5 s and 5 min). */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  reconcilers?: Partial<Reconcilers>;
  /** Called whenever an object's status or Ready condition changes (Kubernetes mode writes them back). */
  onStatusChange?(): void;
  /**
   * A reconcile of an ImageRepository or ImagePolicy that Flux reports only as a trace event
   * (never POSTed; Kubernetes mode records it as a Normal Kubernetes Event, as Flux does).
   */
  onTrace?(object: { kind: ImageKind; namespace: string; name: string; uid?: string }, message: string): void;
}

/** One image object's entry on `GET /resources`. */
export interface ImageResourceStatus {
  /** GitRepositories are listed only when not valid (Herald does not reconcile them). */
  kind: ImageKind | 'GitRepository';
  namespace: string;
  name: string;
  ready: Condition | { type: 'Ready'; status: 'Unknown' | 'False'; reason: string; message: string };
  suspended?: boolean;
  problems?: string[];
  status?: unknown;
  explain?: ExplainReport;
}

interface Entry {
  kind: ImageKind;
  key: string;
  hash: string;
  raw: StoredObject;
  errors?: string[];
  repository?: ValidImageRepository;
  policy?: ValidImagePolicy;
  automation?: ImageUpdateAutomation;
  status?: ImageRepositoryStatus | ImagePolicyStatus | ImageUpdateAutomationStatus;
  ready?: Condition;
  explain?: ExplainReport;
  timer?: NodeJS.Timeout;
  failures: number;
  /** Whether this entry was reconciled since it appeared or changed. */
  reconciled?: boolean;
}

function specOf(object: StoredObject): unknown {
  return 'spec' in object ? object.spec : undefined;
}

function hashOf(object: StoredObject): string {
  return createHash('sha256').update(JSON.stringify([object.metadata, specOf(object)])).digest('hex');
}

const entryKey = (kind: ImageKind, key: string) => `${kind}|${key}`;

/**
 * The status an object read from the API carries, and its Ready condition, as the controller
 * keeps them (none in manifests mode, where objects have no status). An automation's Ready
 * condition is kept beside its status, not in it.
 */
function seeded(kind: ImageKind, raw: StoredObject): { status?: Entry['status']; ready?: Condition } {
  const status = (raw as { status?: unknown }).status;
  if (typeof status !== 'object' || status === null || Array.isArray(status)) return {};
  const copy = structuredClone(status) as Record<string, unknown>;
  const conditions = Array.isArray(copy.conditions) ? (copy.conditions as Condition[]) : undefined;
  if (kind === 'ImageUpdateAutomation') {
    delete copy.conditions;
    delete copy.observedGeneration;
  }
  return { status: copy as Entry['status'], ready: readyOf(conditions) };
}

export class ImageController {
  private readonly entries = new Map<string, Entry>();
  private gitRepositories = new Map<string, { repo?: GitRepository; errors?: string[] }>();
  private gitHash = '';
  /** Entry keys waiting for a reconcile slot, in order; a key is in it at most once. */
  private readonly queue = new Set<string>();
  private readonly running = new Map<string, Promise<void>>();
  /** Keys asked for again while running: they go back in the queue when done. */
  private readonly again = new Set<string>();
  private readonly concurrency: number;
  private readonly reconcilers: Reconcilers;
  private readonly lock = new KeyedLock();
  private closed = false;

  constructor(private readonly opts: ImageControllerOptions) {
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    const env = {
      store: opts.tags,
      secret: (namespace: string, name: string) => {
        const data = opts.source.secretData(namespace, name);
        return data && { metadata: { namespace, name }, data: { ...data } };
      },
      client: (config: Parameters<ClientPool['client']>[0]) => opts.clients.client(config),
    };
    this.reconcilers = {
      repository: (valid) => reconcileImageRepository(valid, env),
      policy: (valid) =>
        reconcileImagePolicy(valid, {
          store: opts.tags,
          refs: opts.refs,
          repository: (namespace, name) => this.repositoryWithStatus(namespace, name),
          digest: (repo, tag) => this.digestOf(repo, tag, env),
          noCrossNamespaceRefs: opts.noCrossNamespaceRefs,
        }),
      automation: (automation, git, policies, previouslyReady) =>
        runAutomation(automation, git, (ns, name) => opts.source.secretData(ns, name), policies, {
          lock: this.lock,
          noCrossNamespaceRefs: opts.noCrossNamespaceRefs,
          previouslyReady,
        }),
      ...opts.reconcilers,
    };
  }

  /** Whether any image automation object is stored (the controller has nothing to do otherwise). */
  static wanted(source: ImageObjectSource): boolean {
    return holdsImageObjects(source);
  }

  /** Reads the store again: new and changed objects are validated and reconciled, removed ones forgotten. */
  sync(): void {
    if (this.closed) return;
    const gitObjects = this.opts.source.objectsOf(SOURCE_GROUP, 'GitRepository');
    const gitHash = createHash('sha256').update(JSON.stringify(gitObjects.map(hashOf).sort())).digest('hex');
    const gitChanged = gitHash !== this.gitHash;
    this.gitHash = gitHash;
    this.gitRepositories = new Map(
      gitObjects.map((raw) => {
        const parsed = parseGitRepository(raw);
        if (!parsed.ok && gitChanged) this.opts.logger?.warn({ kind: 'GitRepository', name: objectKey(raw.metadata), problems: parsed.errors }, 'GitRepository not valid');
        return [objectKey(raw.metadata), parsed.ok ? { repo: parsed.value } : { errors: parsed.errors }];
      }),
    );
    const seen = new Set<string>();
    for (const kind of IMAGE_KINDS) {
      for (const raw of this.opts.source.objectsOf(IMAGE_GROUP, kind)) {
        const key = objectKey(raw.metadata);
        const id = entryKey(kind, key);
        seen.add(id);
        const hash = hashOf(raw);
        const previous = this.entries.get(id);
        if (previous?.hash === hash) continue;
        if (previous) clearTimeout(previous.timer);
        // A new entry starts from the status the object carries (Kubernetes mode), as Flux's
        // controllers do: a restart then neither rescans before the interval nor re-announces.
        const { status, ready } = previous ?? seeded(kind, raw);
        const entry: Entry = { kind, key, hash, raw, failures: 0, status, ready, explain: previous?.explain };
        this.validate(entry);
        this.entries.set(id, entry);
        if (entry.errors) {
          this.opts.logger?.warn({ kind, name: key, problems: entry.errors }, 'image automation object not valid');
          entry.ready = { type: 'Ready', status: 'False', reason: 'InvalidSpec', message: entry.errors.join('; '), lastTransitionTime: new Date().toISOString() };
          this.opts.onStatusChange?.();
        } else this.request(id);
      }
    }
    for (const [id, entry] of this.entries) {
      if (seen.has(id)) continue;
      clearTimeout(entry.timer);
      this.entries.delete(id);
      this.queue.delete(id);
    }
    // Automations run again when the GitRepositories they push to change.
    if (gitChanged) for (const [id, entry] of this.entries) if (entry.automation && entry.reconciled) this.request(id);
  }

  statuses(): ImageResourceStatus[] {
    const invalidGit: ImageResourceStatus[] = [...this.gitRepositories].flatMap(([key, { errors }]) => {
      if (!errors) return [];
      const [namespace, name] = parseObjectKey(key);
      return [{ kind: 'GitRepository' as const, namespace, name, ready: { type: 'Ready' as const, status: 'False' as const, reason: 'InvalidSpec', message: errors.join('; ') }, problems: errors }];
    });
    return [...this.entries.values()]
      .map((entry) => {
        const [namespace, name] = [entry.raw.metadata.namespace, entry.raw.metadata.name];
        const status: ImageResourceStatus = {
          kind: entry.kind,
          namespace,
          name,
          ready: entry.ready ?? { type: 'Ready', status: 'Unknown', reason: 'Progressing', message: 'reconciliation in progress' },
        };
        if ((specOf(entry.raw) as { suspend?: unknown } | undefined)?.suspend === true) status.suspended = true;
        if (entry.errors) status.problems = entry.errors;
        if (entry.status) status.status = entry.status;
        if (entry.explain) status.explain = entry.explain;
        return status;
      })
      .concat(invalidGit)
      .sort((a, b) => `${a.kind}|${a.namespace}|${a.name}`.localeCompare(`${b.kind}|${b.namespace}|${b.name}`));
  }

  /** Stops scheduling and waits for the reconciles under way. */
  async close(): Promise<void> {
    this.closed = true;
    for (const entry of this.entries.values()) clearTimeout(entry.timer);
    this.queue.clear();
    await Promise.allSettled([...this.running.values()]);
  }

  private validate(entry: Entry): void {
    const raw = entry.raw;
    if (entry.kind === 'ImageRepository') {
      const valid = validateImageRepository(raw);
      if (valid.ok) entry.repository = { ...valid.object, resource: { ...valid.object.resource, status: entry.status as ImageRepositoryStatus } };
      else entry.errors = valid.errors;
    } else if (entry.kind === 'ImagePolicy') {
      const valid = validateImagePolicy(raw);
      if (valid.ok) entry.policy = { ...valid.object, resource: { ...valid.object.resource, status: entry.status as ImagePolicyStatus } };
      else entry.errors = valid.errors;
    } else {
      const parsed = parseImageUpdateAutomation(raw);
      if (parsed.ok) entry.automation = { ...parsed.value, status: entry.status as ImageUpdateAutomationStatus };
      else entry.errors = parsed.errors;
    }
  }

  /** Asks for a reconcile of one entry as soon as a slot is free. */
  private request(id: string): void {
    if (this.closed) return;
    const entry = this.entries.get(id);
    if (!entry) return;
    clearTimeout(entry.timer);
    entry.timer = undefined;
    if (this.running.has(id)) this.again.add(id);
    else this.queue.add(id);
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.running.size < this.concurrency && this.queue.size > 0) {
      const id = this.queue.values().next().value as string;
      this.queue.delete(id);
      const run = this.reconcile(id).finally(() => {
          this.running.delete(id);
          if (this.again.delete(id)) this.request(id);
          this.pump();
        });
      this.running.set(id, run);
    }
  }

  private schedule(entry: Entry, requeue: ReconcileOutcome<unknown>['requeue']): void {
    if (this.closed || requeue === undefined) return;
    let delay: number;
    if (requeue === 'backoff') {
      delay = Math.min(this.opts.maxBackoffMs ?? 300_000, (this.opts.baseBackoffMs ?? 5_000) * 2 ** entry.failures);
      entry.failures++;
    } else {
      delay = requeue.afterMs;
      entry.failures = 0;
    }
    const id = entryKey(entry.kind, entry.key);
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => this.request(id), delay);
    entry.timer.unref();
  }

  private emit(event: FluxEvent | undefined): void {
    if (event) this.opts.dispatch(event);
  }

  private trace(entry: Entry, message: string | undefined): void {
    const { namespace, name, uid } = entry.raw.metadata;
    if (message !== undefined) this.opts.onTrace?.({ kind: entry.kind, namespace, name, ...(uid ? { uid } : {}) }, message);
  }

  private async reconcile(id: string): Promise<void> {
    const entry = this.entries.get(id);
    if (!entry || entry.errors) return;
    try {
      if (entry.repository) await this.reconcileRepository(entry, entry.repository);
      else if (entry.policy) await this.reconcilePolicy(entry, entry.policy);
      else if (entry.automation) await this.reconcileAutomation(entry, entry.automation);
    } catch (err) {
      // A reconcile that throws (a bug, not a reported failure) is retried with backoff, and
      // counts as done for what waits on it.
      this.opts.logger?.error({ object: id, err: errorMessage(err) }, 'image automation reconcile failed');
      if (this.entries.get(id) !== entry) return;
      const message = errorMessage(err);
      if (this.record(entry, entry.status, { type: 'Ready', status: 'False', reason: 'ReconciliationFailed', message, lastTransitionTime: new Date().toISOString() })) {
        this.requestDependents(entry);
      }
      this.schedule(entry, 'backoff');
    }
  }

  private requestDependents(entry: Entry): void {
    for (const other of this.entries.values()) {
      const dependent =
        entry.kind === 'ImageRepository'
          ? other.policy !== undefined && this.repositoryKeyOf(other.policy) === entry.key
          : entry.kind === 'ImagePolicy' && other.automation !== undefined;
      if (dependent) this.request(entryKey(other.kind, other.key));
    }
  }

  private repositoryKeyOf(policy: ValidImagePolicy): string {
    const ref = policy.resource.spec.imageRepositoryRef;
    return objectKey({ namespace: ref.namespace || policy.resource.metadata.namespace, name: ref.name });
  }

  private async reconcileRepository(entry: Entry, valid: ValidImageRepository): Promise<void> {
    const before = (entry.status as ImageRepositoryStatus | undefined)?.lastScanResult?.revision;
    const outcome = await this.reconcilers.repository({ ...valid, resource: { ...valid.resource, status: entry.status as ImageRepositoryStatus } });
    if (this.entries.get(entryKey(entry.kind, entry.key)) !== entry) return; // changed meanwhile: the new entry runs
    const first = this.record(entry, outcome.status, readyOf(outcome.status.conditions));
    this.emit(outcome.event);
    this.trace(entry, outcome.trace);
    this.schedule(entry, outcome.requeue);
    if (first || outcome.status.lastScanResult?.revision !== before) this.requestDependents(entry);
  }

  private async reconcilePolicy(entry: Entry, valid: ValidImagePolicy): Promise<void> {
    if (this.pending(this.entries.get(entryKey('ImageRepository', this.repositoryKeyOf(valid))))) return;
    const before = (entry.status as ImagePolicyStatus | undefined)?.latestRef;
    const outcome = await this.reconcilers.policy({ ...valid, resource: { ...valid.resource, status: entry.status as ImagePolicyStatus } });
    if (this.entries.get(entryKey(entry.kind, entry.key)) !== entry) return;
    const first = this.record(entry, outcome.status, readyOf(outcome.status.conditions));
    this.emit(outcome.event);
    this.trace(entry, outcome.trace);
    this.schedule(entry, outcome.requeue);
    const after = outcome.status.latestRef;
    if (first || JSON.stringify(after) !== JSON.stringify(before)) this.requestDependents(entry);
  }

  private async reconcileAutomation(entry: Entry, automation: ImageUpdateAutomation): Promise<void> {
    if ([...this.entries.values()].some((other) => other.kind === 'ImagePolicy' && this.pending(other))) return;
    const ref = automation.spec.sourceRef;
    const git = this.gitRepositories.get(objectKey({ namespace: ref.namespace || automation.metadata.namespace, name: ref.name }));
    const policies: PolicyInput[] = [...this.entries.values()].flatMap((other) => {
      if (!other.policy) return [];
      const meta = other.policy.resource.metadata;
      const latest = (other.status as ImagePolicyStatus | undefined)?.latestRef;
      return [{ namespace: meta.namespace, name: meta.name, labels: meta.labels, ...(latest ? { latestRef: latest } : {}) }];
    });
    const previouslyReady = entry.ready?.status === 'True';
    const outcome = await this.reconcilers.automation({ ...automation, status: entry.status as ImageUpdateAutomationStatus }, git?.repo, policies, previouslyReady);
    if (this.entries.get(entryKey(entry.kind, entry.key)) !== entry) return;
    const now = new Date().toISOString();
    const ready: Condition | undefined = outcome.ready && {
      type: 'Ready',
      status: outcome.ready.status,
      reason: outcome.ready.reason,
      message: outcome.ready.message,
      lastTransitionTime: entry.ready?.status === outcome.ready.status ? entry.ready.lastTransitionTime : now,
    };
    this.record(entry, outcome.status, ready ?? entry.ready);
    entry.explain = outcome.explain;
    for (const event of outcome.events) this.emit(event);
    if (outcome.result.kind === 'suspended') return;
    this.schedule(entry, outcome.result.kind === 'failed' && !outcome.result.stalled ? 'backoff' : { afterMs: automation.spec.intervalMs });
  }

  /** Keeps a reconcile's outcome; true when it was the entry's first (its dependents then run too). */
  private record(entry: Entry, status: Entry['status'], ready: Condition | undefined): boolean {
    entry.status = status;
    entry.ready = ready;
    const first = !entry.reconciled;
    entry.reconciled = true;
    this.opts.onStatusChange?.();
    return first;
  }

  /**
   * Whether an entry has yet to be reconciled for the first time: what depends on it waits,
   * instead of failing with "no tags" or running without its policies, as it is asked for
   * again once that first reconcile is done (whatever its outcome).
   */
  private pending(entry: Entry | undefined): boolean {
    return entry !== undefined && entry.errors === undefined && !entry.reconciled;
  }

  private repositoryWithStatus(namespace: string, name: string): ImageRepository | undefined {
    const entry = this.entries.get(entryKey('ImageRepository', objectKey({ namespace, name })));
    return entry?.repository && { ...entry.repository.resource, status: entry.status as ImageRepositoryStatus };
  }

  private digestOf(repo: ImageRepository, tag: string, env: Parameters<typeof fetchDigest>[2]): Promise<string> {
    const entry = this.entries.get(entryKey('ImageRepository', objectKey(repo.metadata)));
    if (!entry?.repository) return Promise.reject(new Error(`ImageRepository ${objectKey(repo.metadata)} not found`));
    return fetchDigest(entry.repository, tag, env);
  }
}
