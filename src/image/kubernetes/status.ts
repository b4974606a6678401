/**
 * Writes image automation's statuses back to the API through the `status` subresource with a
 * JSON merge patch, as Providers' and Alerts' are (src/resources/kubernetes/status.ts): the
 * conditions (Ready, and Reconciling / Stalled for ImageRepositories and ImagePolicies, with
 * Flux's reasons), `observedGeneration`, and each kind's own fields — ImageRepository
 * `canonicalImageName`, `lastScanResult`, `observedExclusionList`; ImagePolicy `latestRef`,
 * `observedPreviousRef`; ImageUpdateAutomation `lastAutomationRunTime`, `lastPushCommit`,
 * `lastPushTime`, `observedPolicies`, `observedSourceRevision`. That is what Flux persists, and
 * what a restarted (or newly elected) Herald starts from.
 *
 * Only what differs from the object as last seen is written (a field Herald no longer sets is
 * removed with `null`); times are written in whole seconds, as the API server keeps them, so a
 * written status reads back equal and is not written again. Only the leader writes.
 */
import { PatchStrategy, setHeaderOptions, type CustomObjectsApi, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../../api/types.js';
import { rfc3339Seconds } from '../../common/time.js';
import { describeApiError, statusCodeOf } from '../../resources/kubernetes/client.js';
import type { ImageKind, ImageResourceStatus } from '../controller.js';
import { IMAGE_GROUP } from '../types.js';
import { IMAGE_PLURALS, IMAGE_VERSION, type ImageKubeSource } from './source.js';

/** The status fields Herald owns; any other field in an object's status is left alone. */
const OWNED_FIELDS = [
  'observedGeneration',
  'conditions',
  'canonicalImageName',
  'lastScanResult',
  'observedExclusionList',
  'latestRef',
  'observedPreviousRef',
  'lastAutomationRunTime',
  'lastPushCommit',
  'lastPushTime',
  'observedPolicies',
  'observedSourceRevision',
  'lastHandledReconcileAt',
] as const;

type Json = unknown;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** metav1.Time in whole seconds; anything else unchanged. */
function seconds(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? value : rfc3339Seconds(ms);
}

/** The status the API should hold for an object, from the controller's view of it. */
export function desiredStatus(resource: ImageResourceStatus, generation: number | undefined): Record<string, Json> | undefined {
  if (resource.kind === 'GitRepository') return undefined; // source-controller's
  // Not reconciled yet and nothing to report: the object's status stays as it is.
  if (resource.status === undefined && resource.problems === undefined) return undefined;
  const status: Record<string, Json> = structuredClone((resource.status ?? {}) as Record<string, Json>);
  const ready = { ...resource.ready, ...(generation !== undefined && resource.ready.status === 'True' ? { observedGeneration: generation } : {}) };
  if (!Array.isArray(status.conditions) || resource.kind === 'ImageUpdateAutomation' || resource.problems) {
    status.conditions = [ready];
    if (ready.status === 'True' && generation !== undefined) status.observedGeneration = generation;
  }
  status.conditions = (status.conditions as Array<Record<string, unknown>>).map((c) => ({ ...c, lastTransitionTime: seconds(c.lastTransitionTime) }));
  for (const field of ['lastAutomationRunTime', 'lastPushTime'] as const) if (field in status) status[field] = seconds(status[field]);
  if (isRecord(status.lastScanResult)) status.lastScanResult = { ...status.lastScanResult, scanTime: seconds(status.lastScanResult.scanTime) };
  return status;
}

function equal(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** RFC 7386: the merge patch that turns `current` into `desired` (objects are merged, so keys that go are set to null). */
function diff(current: unknown, desired: unknown): unknown {
  if (!isRecord(current) || !isRecord(desired)) return desired;
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(current)) if (!(key in desired)) patch[key] = null;
  for (const [key, value] of Object.entries(desired)) {
    if (!equal(current[key], value)) patch[key] = diff(current[key], value);
  }
  return patch;
}

/**
 * The merge patch of the status subresource that brings `current` to `desired`, limited to
 * the fields Herald owns; undefined when they already agree. JSON key order does not matter.
 */
export function imageStatusPatch(current: KubernetesObject, desired: Record<string, Json>): { status: Record<string, unknown> } | undefined {
  const existing = ((current as { status?: unknown }).status ?? {}) as Record<string, unknown>;
  const patch: Record<string, unknown> = {};
  for (const field of OWNED_FIELDS) {
    const want = desired[field];
    const have = existing[field];
    if (want === undefined) {
      if (have !== undefined) patch[field] = null;
      continue;
    }
    if (!equal(canonical(have), canonical(want))) patch[field] = diff(have, want);
  }
  return Object.keys(patch).length > 0 ? { status: patch } : undefined;
}

/** JSON with object keys sorted, so that key order (the API server's, or ours) never counts as a change. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (!isRecord(value)) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, canonical(value[key])]),
  );
}

export interface ImageStatusWriterOptions {
  source: Pick<ImageKubeSource, 'object'>;
  /** The controller's statuses now (empty when it does not run). */
  statuses(): ImageResourceStatus[];
  api: CustomObjectsApi;
  logger: Logger;
  debounceMs?: number;
  retryMs?: number;
}

export class ImageStatusWriter {
  private readonly opts: Required<ImageStatusWriterOptions>;
  private active = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private again = false;
  /** The last patch written per object, and the object's resourceVersion it was computed from. */
  private readonly written = new Map<string, { resourceVersion?: string; patch: string }>();

  constructor(opts: ImageStatusWriterOptions) {
    this.opts = { debounceMs: 100, retryMs: 5_000, ...opts };
  }

  setActive(active: boolean): void {
    this.active = active;
    if (active) this.mark();
  }

  /** Something changed: write what differs, after a short quiet time. */
  mark(): void {
    if (this.closed || !this.active || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.opts.debounceMs);
  }

  async flush(): Promise<void> {
    if (this.flushing) {
      this.again = true;
      return this.flushing;
    }
    this.flushing = this.writeAll().finally(() => (this.flushing = undefined));
    await this.flushing;
    if (this.again) {
      this.again = false;
      this.mark();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.flushing;
  }

  private async writeAll(): Promise<void> {
    let failed = false;
    for (const resource of this.opts.statuses()) {
      if (!this.active || this.closed) return;
      if (resource.kind === 'GitRepository') continue;
      if (!(await this.write(resource.kind, resource))) failed = true;
    }
    if (failed && !this.closed) setTimeout(() => this.mark(), this.opts.retryMs).unref();
  }

  /** False when the write failed (it is retried). */
  private async write(kind: ImageKind, resource: ImageResourceStatus): Promise<boolean> {
    const { api, logger, source } = this.opts;
    const current = source.object(kind, resource.namespace, resource.name);
    if (!current) return true; // deleted, or not seen yet
    const desired = desiredStatus(resource, current.metadata?.generation);
    if (!desired) return true;
    const patch = imageStatusPatch(current, desired);
    if (!patch) return true;
    const id = `${kind}|${resource.namespace}/${resource.name}`;
    const text = JSON.stringify(patch);
    const last = this.written.get(id);
    // Written already, and the informer has not seen the result yet.
    if (last && last.patch === text && last.resourceVersion === current.metadata?.resourceVersion) return true;
    try {
      await api.patchNamespacedCustomObjectStatus(
        { group: IMAGE_GROUP, version: IMAGE_VERSION, namespace: resource.namespace, plural: IMAGE_PLURALS[kind], name: resource.name, body: patch },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      this.written.set(id, { resourceVersion: current.metadata?.resourceVersion, patch: text });
      if (this.written.size > 10_000) this.written.delete(this.written.keys().next().value as string);
      logger.info({ kind, resource: `${resource.namespace}/${resource.name}`, ready: resource.ready.status, reason: resource.ready.reason }, 'image automation status written');
      return true;
    } catch (err) {
      if (statusCodeOf(err) === 404) return true; // deleted meanwhile
      logger.warn({ kind, resource: `${resource.namespace}/${resource.name}`, err: describeApiError(err), retryInMs: this.opts.retryMs }, 'cannot write image automation status; will retry');
      return false;
    }
  }
}
