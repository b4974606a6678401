/**
 * Conditions and events shared by the ImageRepository and ImagePolicy reconcilers, as Flux's
 * kstatus helpers and image-reflector-controller's `notify` produce them:
 *
 * - success: Ready=True (`Succeeded`, the ready message); Reconciling and Stalled removed;
 * - failure: Ready=False with the reason and message; Reconciling=True `ProgressingWithRetry`
 *   (a retry follows); Stalled removed;
 * - stalled (retrying cannot help): Stalled=True and Ready=False with the same reason and
 *   message; Reconciling removed.
 *
 * Events: ready before and after with a different message, or not ready before and ready now
 * → `info` with the Ready reason and message; not ready now → `error`; otherwise only a trace
 * (Flux never POSTs those).
 */
import type { FluxEvent } from '../events/event.js';
import type { ObjectMeta } from '../api/types.js';
import { IMAGE_API_VERSION, ImageReasons, REFLECTOR_CONTROLLER, type Condition } from './types.js';

/** Flux's reconcile-request annotation. */
export const RECONCILE_REQUEST_ANNOTATION = 'reconcile.fluxcd.io/requestedAt';

function upsert(conditions: Condition[], next: Omit<Condition, 'lastTransitionTime'>, now: Date): Condition[] {
  const previous = conditions.find((c) => c.type === next.type);
  const condition: Condition = {
    ...next,
    lastTransitionTime: previous?.status === next.status ? previous.lastTransitionTime : now.toISOString(),
  };
  return [...conditions.filter((c) => c.type !== next.type), condition].sort((a, b) => ORDER[a.type] - ORDER[b.type]);
}

const ORDER: Record<Condition['type'], number> = { Ready: 0, Reconciling: 1, Stalled: 2 };

function without(conditions: Condition[], ...types: Condition['type'][]): Condition[] {
  return conditions.filter((c) => !types.includes(c.type));
}

export function markSucceeded(conditions: Condition[] | undefined, message: string, generation: number | undefined, now: Date): Condition[] {
  return upsert(without(conditions ?? [], 'Reconciling', 'Stalled'), { type: 'Ready', status: 'True', reason: ImageReasons.Succeeded, message, observedGeneration: generation }, now);
}

export function markFailed(
  conditions: Condition[] | undefined,
  reason: string,
  message: string,
  progressMessage: string,
  generation: number | undefined,
  now: Date,
): Condition[] {
  const ready = upsert(without(conditions ?? [], 'Stalled'), { type: 'Ready', status: 'False', reason, message, observedGeneration: generation }, now);
  return upsert(ready, { type: 'Reconciling', status: 'True', reason: ImageReasons.ProgressingWithRetry, message: progressMessage, observedGeneration: generation }, now);
}

export function markStalled(conditions: Condition[] | undefined, reason: string, message: string, generation: number | undefined, now: Date): Condition[] {
  const ready = upsert(without(conditions ?? [], 'Reconciling'), { type: 'Ready', status: 'False', reason, message, observedGeneration: generation }, now);
  return upsert(ready, { type: 'Stalled', status: 'True', reason, message, observedGeneration: generation }, now);
}

/**
 * Flux records `observedGeneration` only when the object is ready or stalled, so a failing
 * reconcile of a new generation does not look as if that generation had been handled.
 */
export function observedGenerationAfter(conditions: Condition[] | undefined, generation: number | undefined, previous: number | undefined): number | undefined {
  const settled = conditions?.some((c) => (c.type === 'Ready' || c.type === 'Stalled') && c.status === 'True');
  return settled ? generation : previous;
}

export function readyOf(conditions: Condition[] | undefined): Condition | undefined {
  return conditions?.find((c) => c.type === 'Ready');
}

function isReady(conditions: Condition[] | undefined): boolean {
  return readyOf(conditions)?.status === 'True';
}

export interface Notification {
  /** The event to hand to Herald's dispatcher; undefined when Flux would only trace. */
  event?: FluxEvent;
  /** The trace message Flux records as a Kubernetes event only (for logs). */
  trace?: string;
}

/** Flux's `notify`: which event a reconcile that went from `before` to `after` emits. */
export function notification(
  kind: 'ImageRepository' | 'ImagePolicy',
  metadata: ObjectMeta,
  before: Condition[] | undefined,
  after: Condition[] | undefined,
  traceMessage: string,
  now: Date,
): Notification {
  const ready = readyOf(after);
  const emit = (severity: 'info' | 'error'): Notification => ({
    event: {
      involvedObject: {
        kind,
        name: metadata.name,
        namespace: metadata.namespace,
        apiVersion: IMAGE_API_VERSION,
        ...(metadata.uid ? { uid: metadata.uid } : {}),
        ...(metadata.resourceVersion ? { resourceVersion: metadata.resourceVersion } : {}),
      },
      severity,
      timestamp: now.toISOString(),
      message: ready?.message ?? '',
      reason: ready?.reason ?? '',
      reportingController: REFLECTOR_CONTROLLER,
    },
  });
  if (isReady(before) && isReady(after) && readyOf(before)?.message !== ready?.message) return emit('info');
  if (!isReady(before) && isReady(after)) return emit('info');
  if (!isReady(after)) return emit('error');
  return { trace: traceMessage };
}
