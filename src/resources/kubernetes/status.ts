/**
 * Writes each Provider's and Alert's Ready condition back to the API, as Flux's controllers
 * report status: `status.conditions[type=Ready]` (status, reason, message, observedGeneration,
 * lastTransitionTime) and `status.observedGeneration`, through the `status` subresource with a
 * JSON merge patch.
 *
 * Only the leader writes (see leader.ts), and only what differs from the object's status
 * as last seen by the informer: a restart or a new leader does not rewrite unchanged statuses,
 * and the write's own MODIFIED event finds nothing left to do. `lastTransitionTime` is kept from
 * the object while the status (True/False) stays the same.
 *
 * Flux's own v1beta3 CRDs define no status (Alerts and Providers became static objects in
 * notification-controller v1.1+, fluxcd/notification-controller#540), so with them the status
 * subresource answers 404: Herald then logs it once and stops writing that kind for a while
 * instead of failing every write.
 */
import { PatchStrategy, setHeaderOptions, type CustomObjectsApi, type KubernetesObject } from '@kubernetes/client-node';
import type { ResourceStore } from '../store.js';
import { NOTIFICATION_GROUP, objectKey, parseObjectKey, type Logger, type ReadyCondition } from '../../api/types.js';
import { describeApiError, statusCodeOf } from './client.js';
import { NOTIFICATION_VERSIONS, type KubernetesSource, type NotificationKind } from './source.js';
import { rfc3339Seconds } from '../../common/time.js';

/** A condition as the API holds it (metav1.Condition). */
export interface ApiCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
}

export interface StatusPatch {
  status: { observedGeneration?: number; conditions: ApiCondition[]; webhookPath?: string; lastHandledReconcileAt?: string };
}

/** The CRD schema's limit on a condition message. */
const MAX_MESSAGE = 32_768;

/**
 * Receivers' `Stalled` condition, as Flux's Receiver controller keeps it: `True` (with Ready's
 * reason and message) for a configuration error no retry can fix; otherwise absent. Flux also
 * drops its `Reconciling` condition once Ready; Herald owns both on Receivers.
 */
export interface ReceiverConditions {
  stalled: boolean;
  /** `status.lastHandledReconcileAt`: the reconcile request handled last (`flux reconcile receiver` waits for it). */
  lastHandledReconcileAt?: string;
}

/**
 * The merge patch that brings `current`'s status to `desired`, or undefined when it already
 * says the same. Conditions of other types are kept (but for Receivers' Stalled and Reconciling).
 */
export function statusPatch(current: KubernetesObject, desired: ReadyCondition, webhookPath?: string, receiver?: ReceiverConditions): StatusPatch | undefined {
  const status = ((current as { status?: unknown }).status ?? {}) as { conditions?: unknown; observedGeneration?: unknown; webhookPath?: unknown; lastHandledReconcileAt?: unknown };
  const handled = receiver?.lastHandledReconcileAt;
  const conditions = (Array.isArray(status.conditions) ? status.conditions : []).filter(
    (c): c is ApiCondition => typeof c === 'object' && c !== null && typeof (c as ApiCondition).type === 'string',
  );
  const existing = conditions.find((c) => c.type === 'Ready');
  const message = desired.message.length > MAX_MESSAGE ? `${desired.message.slice(0, MAX_MESSAGE - 1)}…` : desired.message;
  const ready: ApiCondition = {
    type: 'Ready',
    status: desired.status,
    reason: desired.reason,
    message,
    ...(desired.observedGeneration !== undefined ? { observedGeneration: desired.observedGeneration } : {}),
    lastTransitionTime:
      existing?.status === desired.status && existing.lastTransitionTime ? existing.lastTransitionTime : toApiTime(desired.lastTransitionTime),
  };
  // Receivers: the conditions besides Ready that Flux's controller owns, as they should be.
  const owned = receiver ? ownedReceiverConditions(conditions, ready, receiver) : undefined;
  const others = conditions.filter((c) => c.type !== 'Ready' && !(owned && OWNED_BY_RECEIVERS.has(c.type)));
  const upToDate =
    (owned === undefined || JSON.stringify(owned) === JSON.stringify(conditions.filter((c) => OWNED_BY_RECEIVERS.has(c.type)))) &&
    existing !== undefined &&
    existing.status === ready.status &&
    existing.reason === ready.reason &&
    existing.message === ready.message &&
    existing.observedGeneration === ready.observedGeneration &&
    status.observedGeneration === desired.observedGeneration &&
    (webhookPath === undefined || status.webhookPath === webhookPath) &&
    (handled === undefined || status.lastHandledReconcileAt === handled);
  if (upToDate) return undefined;
  return {
    status: {
      ...(desired.observedGeneration !== undefined ? { observedGeneration: desired.observedGeneration } : {}),
      conditions: [...others, ready, ...(owned ?? [])],
      // Receivers: Flux's `status.webhookPath` ('' when there is no token).
      ...(webhookPath !== undefined ? { webhookPath } : {}),
      ...(handled !== undefined ? { lastHandledReconcileAt: handled } : {}),
    },
  };
}

const OWNED_BY_RECEIVERS = new Set(['Stalled', 'Reconciling']);

function ownedReceiverConditions(conditions: ApiCondition[], ready: ApiCondition, receiver: ReceiverConditions): ApiCondition[] {
  if (!receiver.stalled) return [];
  const existing = conditions.find((c) => c.type === 'Stalled');
  const stalled: ApiCondition = { ...ready, type: 'Stalled', status: 'True' };
  if (existing?.status === 'True' && existing.lastTransitionTime) stalled.lastTransitionTime = existing.lastTransitionTime;
  return [stalled];
}

/** metav1.Time: RFC 3339 in whole seconds. */
function toApiTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : rfc3339Seconds(date.getTime());
}

export interface StatusWriterOptions {
  store: ResourceStore;
  source: Pick<KubernetesSource, 'object' | 'objects' | 'onObjectChange'>;
  api: CustomObjectsApi;
  logger: Logger;
  /** Quiet time before writing, so a burst of changes makes one pass; default 100 ms. */
  debounceMs?: number;
  /** After a failed write, when to try that object again; default 5 s. */
  retryMs?: number;
  /** How long a kind whose status subresource is missing is left alone; default 10 min. */
  missingSubresourcePauseMs?: number;
}

const PLURALS: Record<NotificationKind, string> = { Provider: 'providers', Alert: 'alerts', Receiver: 'receivers' };
const KINDS = ['Provider', 'Alert', 'Receiver'] as const;

export class StatusWriter {
  private readonly opts: Required<StatusWriterOptions>;
  private readonly dirty = new Set<string>();
  private active = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly pausedUntil: Record<NotificationKind, number> = { Provider: 0, Alert: 0, Receiver: 0 };
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  /** The last patch written per object, and the object's resourceVersion it was computed from. */
  private readonly written = new Map<string, { resourceVersion?: string; patch: string }>();

  constructor(opts: StatusWriterOptions) {
    this.opts = { debounceMs: 100, retryMs: 5_000, missingSubresourcePauseMs: 600_000, ...opts };
    opts.store.on('changed', (change) => {
      for (const key of change.providers) this.mark('Provider', key);
      for (const key of change.alerts) this.mark('Alert', key);
      // Receivers are evaluated above the store, on the same change (a Secret's, say); they are few.
      this.markKind('Receiver');
    });
    opts.source.onObjectChange((kind, namespace, name) => this.mark(kind, objectKey({ namespace, name })));
  }

  /** Writing starts (every object is checked) when this replica leads, and stops when it does not. */
  setActive(active: boolean): void {
    this.active = active;
    if (active) this.markAll();
  }

  markAll(): void {
    for (const kind of KINDS) this.markKind(kind);
  }

  private markKind(kind: NotificationKind): void {
    for (const obj of this.opts.source.objects(kind)) this.mark(kind, objectKey({ namespace: obj.metadata?.namespace, name: obj.metadata?.name ?? '' }));
  }

  mark(kind: NotificationKind, key: string): void {
    // An inactive writer keeps nothing: becoming active checks every object anyway.
    if (this.closed || !this.active) return;
    this.dirty.add(`${kind}|${key}`);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.opts.debounceMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    for (const timer of this.retryTimers) clearTimeout(timer);
    await this.flushing;
  }

  /** Writes every dirty status that differs; one pass at a time. */
  async flush(): Promise<void> {
    if (this.flushing) {
      await this.flushing;
      if (this.dirty.size > 0 && this.active) return this.flush();
      return;
    }
    this.flushing = this.writeDirty().finally(() => (this.flushing = undefined));
    await this.flushing;
  }

  private async writeDirty(): Promise<void> {
    while (this.dirty.size > 0 && this.active && !this.closed) {
      const batch = [...this.dirty];
      this.dirty.clear();
      const desired = new Map<string, { ready: ReadyCondition; webhookPath?: string; stalled?: boolean; lastHandledReconcileAt?: string }>();
      for (const status of this.opts.store.statuses().resources) desired.set(`${status.kind}|${status.namespace}/${status.name}`, status);
      for (const item of batch) {
        if (!this.active || this.closed) return;
        const [kind, key] = item.split('|') as [NotificationKind, string];
        const status = desired.get(item);
        const receiver = kind === 'Receiver' ? { stalled: status?.stalled === true, lastHandledReconcileAt: status?.lastHandledReconcileAt } : undefined;
        if (status) await this.write(kind, key, status.ready, status.webhookPath, receiver);
      }
    }
  }

  private async write(kind: NotificationKind, key: string, condition: ReadyCondition, webhookPath?: string, receiver?: ReceiverConditions): Promise<void> {
    const { api, logger, source } = this.opts;
    if (this.pausedUntil[kind] > Date.now()) return;
    const [namespace, name] = parseObjectKey(key);
    const current = source.object(kind, namespace, name);
    if (!current) return; // deleted
    const patch = statusPatch(current, condition, webhookPath, receiver);
    if (!patch) return;
    // Written already, and the informer has not seen the result yet: nothing new to say.
    const item = `${kind}|${key}`;
    const text = JSON.stringify(patch);
    const last = this.written.get(item);
    if (last && last.patch === text && last.resourceVersion === current.metadata?.resourceVersion) return;
    try {
      await api.patchNamespacedCustomObjectStatus(
        { group: NOTIFICATION_GROUP, version: NOTIFICATION_VERSIONS[kind], namespace, plural: PLURALS[kind], name, body: patch },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      this.written.set(item, { resourceVersion: current.metadata?.resourceVersion, patch: text });
      if (this.written.size > 10_000) this.written.delete(this.written.keys().next().value as string);
      logger.info({ kind, resource: key, ready: condition.status, reason: condition.reason }, 'status written');
    } catch (err) {
      const code = statusCodeOf(err);
      if (code === 404 && source.object(kind, namespace, name)) {
        this.pausedUntil[kind] = Date.now() + this.opts.missingSubresourcePauseMs;
        logger.warn(
          { kind, resource: key, retryInMs: this.opts.missingSubresourcePauseMs },
          `the ${kind} CRD has no status subresource (Flux's v1beta3 CRDs define none); not writing ${kind} status for now`,
        );
        const timer = setTimeout(() => {
          this.retryTimers.delete(timer);
          this.markKind(kind);
        }, this.opts.missingSubresourcePauseMs);
        timer.unref();
        this.retryTimers.add(timer);
        return;
      }
      if (code === 404) return; // deleted meanwhile
      logger.warn({ kind, resource: key, err: describeApiError(err), retryInMs: this.opts.retryMs }, 'cannot write status; will retry');
      const timer = setTimeout(() => {
        this.retryTimers.delete(timer);
        this.mark(kind, key);
      }, this.opts.retryMs);
      timer.unref();
      this.retryTimers.add(timer);
    }
  }
}
