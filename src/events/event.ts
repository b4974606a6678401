/**
 * The event that Flux controllers POST, in the wire format of fluxcd/pkg `apis/event/v1beta1`,
 * and the pure functions Herald applies to it on arrival.
 *
 * "Event" means four things in Herald; the code keeps them apart by name:
 * - a Flux event (`FluxEvent`, here): what a controller POSTs to the events listener;
 * - a notification: the `FluxEvent` built for one Alert (its metadata merged,
 *   `alerts/notification.ts`), what a Provider is sent; a delivery job's `event` field holds it;
 * - a Kubernetes Event (core/v1): what Herald records on an Alert when dispatch or delivery
 *   fails (`resources/kubernetes/event-recorder.ts`, `AlertEventSink`);
 * - the events listener (`server/events.ts`): the HTTP intake on `:9090`, and the
 *   `EventDispatcher` (`delivery/dispatcher.ts`) that turns a Flux event into delivery jobs.
 */
import { hash } from 'node:crypto';

export type Severity = 'info' | 'error' | 'trace';

export interface ObjectReference {
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
  apiVersion?: string;
  resourceVersion?: string;
  fieldPath?: string;
}

export interface FluxEvent {
  involvedObject: ObjectReference;
  severity: Severity;
  timestamp?: string;
  message: string;
  reason?: string;
  metadata?: Record<string, string>;
  reportingController?: string;
  reportingInstance?: string;
}

/** Annotation-derived metadata prefix that every controller may send. */
export const EVENT_METADATA_PREFIX = 'event.toolkit.fluxcd.io/';

/**
 * JSON schema of the wire format, wired into Fastify so that a 400 names the bad field.
 * Unknown top-level fields are tolerated (newer Flux versions may add some).
 */
export const eventSchema = {
  type: 'object',
  required: ['involvedObject', 'severity', 'message'],
  properties: {
    involvedObject: {
      type: 'object',
      required: ['kind', 'name'],
      properties: {
        kind: { type: 'string', minLength: 1, maxLength: 253 },
        name: { type: 'string', minLength: 1, maxLength: 253 },
        namespace: { type: 'string', maxLength: 253 },
        uid: { type: 'string', maxLength: 253 },
        apiVersion: { type: 'string', maxLength: 253 },
        resourceVersion: { type: 'string', maxLength: 253 },
        fieldPath: { type: 'string', maxLength: 1024 },
      },
    },
    severity: { type: 'string', enum: ['info', 'error', 'trace'] },
    timestamp: { type: 'string', format: 'date-time' },
    message: { type: 'string' },
    reason: { type: 'string', maxLength: 1024 },
    metadata: {
      type: 'object',
      additionalProperties: { type: 'string' },
      propertyNames: { maxLength: 1024 },
    },
    // Sent on as the Gotk-Component header: control characters could never be delivered.
    reportingController: { type: 'string', maxLength: 253, pattern: '^[^\\u0000-\\u001f\\u007f]*$' },
    reportingInstance: { type: 'string', maxLength: 253 },
  },
} as const;

/** The API group of an object reference (`kustomize.toolkit.fluxcd.io` for `kustomize.toolkit.fluxcd.io/v1`). */
export function apiGroup(ref: ObjectReference): string {
  const apiVersion = ref.apiVersion ?? '';
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/**
 * Keeps only the metadata keys Flux keeps on arrival: those under `event.toolkit.fluxcd.io/`
 * and those under the involved object's API group, minus `<group>/checksum` and
 * `<group>/digest` (compared case-insensitively), and only the fields Flux's Event has.
 * Returns a new event.
 */
export function cleanupMetadata(event: FluxEvent): FluxEvent {
  const group = apiGroup(event.involvedObject);
  const groupPrefix = group ? `${group}/` : undefined;
  const checksumKey = `${group}/checksum`.toLowerCase();
  const digestKey = `${group}/digest`.toLowerCase();
  const metadata = metadataMap();
  const incoming = event.metadata ?? {};
  for (const key of Object.keys(incoming)) {
    const kept = key.startsWith(EVENT_METADATA_PREFIX) || (groupPrefix !== undefined && key.startsWith(groupPrefix));
    if (!kept) continue;
    const lower = key.toLowerCase();
    if (lower !== checksumKey && lower !== digestKey) metadata[key] = incoming[key] as string;
  }
  // Only the fields of Flux's Event, as Go's decoder keeps them: an unknown field, which the
  // schema tolerates, would otherwise travel into every job however large or deeply nested it
  // is (a few thousand levels of nesting overflow the stack when the job is stored).
  const { kind, name, namespace, uid, apiVersion, resourceVersion, fieldPath } = event.involvedObject;
  const involvedObject = withoutUndefined({ kind, name, namespace, uid, apiVersion, resourceVersion, fieldPath });
  const { severity, timestamp, message, reason, reportingController, reportingInstance } = event;
  return withoutUndefined({ involvedObject, severity, timestamp, message, reason, metadata, reportingController, reportingInstance });
}

/**
 * An empty metadata map. It has no prototype, so that every key is an ordinary key: on a plain
 * object, assigning `__proto__` (what `<group>/__proto__` becomes once un-prefixed) would
 * change the prototype and drop the key, and `constructor` or `toString` would read inherited
 * functions where the key is absent. JSON and the spread operator see its keys as usual.
 */
export function metadataMap(): Record<string, string> {
  return Object.create(null) as Record<string, string>;
}

/** A copy of `value` without its undefined fields, in the same order (every event goes through this twice). */
function withoutUndefined<T extends object>(value: T): T {
  const copy: Record<string, unknown> = {};
  for (const key in value) if (value[key] !== undefined) copy[key] = value[key];
  return copy as T;
}

/** Reads `<group>/<key>` from the event's (cleaned) metadata. */
export function controllerMetadata(event: FluxEvent, key: string): string | undefined {
  const group = apiGroup(event.involvedObject);
  if (!group) return undefined;
  return event.metadata?.[`${group}/${key}`];
}

/**
 * The duplicate-suppression key, computed as Flux's event server does: the involved object,
 * the message and the revision-like metadata. Severity and reason are deliberately not part
 * of it.
 */
export function rateLimitKey(event: FluxEvent): string {
  const { name, namespace = '', kind } = event.involvedObject;
  const parts = ['event', `name=${name}`, `namespace=${namespace}`, `kind=${kind}`, `message=${event.message}`];
  for (const key of ['originRevision', 'revision', 'token']) {
    const value = controllerMetadata(event, key);
    if (value !== undefined) parts.push(`${key}=${value}`);
  }
  return hash('sha256', parts.join('/'), 'hex');
}
