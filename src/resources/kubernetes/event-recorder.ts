/**
 * Kubernetes Events on Alerts, as Flux's notification-controller records them when it cannot
 * handle an event for an Alert (`kubectl describe alert` and `flux events` show them): a
 * `core/v1` Event of type Warning whose involvedObject is the Alert, with Flux's reasons
 * (`NotificationDispatchFailed`, …) and message shapes. `record()` writes Normal or Warning
 * Events on any object: Receivers' reconciles as Flux's Receiver controller records them, and
 * image automation's as Flux's image controllers do.
 *
 * Rate-limited like client-go's event recorder, so that a storm of failing events cannot flood
 * the API server: per object a token bucket (25 at once, then one per 5 minutes); an Event
 * identical to one recorded in the last 10 minutes only bumps that Event's `count` and
 * `lastTimestamp`; and at most a few requests in flight at once. What is dropped is counted in
 * the log, never queued. Recording never throws and never waits: callers fire and forget.
 */
import { PatchStrategy, setHeaderOptions, type CoreV1Api } from '@kubernetes/client-node';
import { NOTIFICATION_GROUP, objectKey, type Logger } from '../../api/types.js';
import { describeApiError, replicaIdentity, statusCodeOf } from './client.js';
import type { AlertEventSink, AlertRef, InvolvedObjectRef, ObjectEventSink } from './event-reasons.js';

export { EventReasons, involvedObjectString, type AlertEventSink, type AlertRef, type InvolvedObjectRef, type ObjectEventSink } from './event-reasons.js';

export interface EventRecorderOptions {
  api: CoreV1Api;
  logger: Logger;
  /** `source.component` / `reportingComponent`; default `herald`. */
  component?: string;
  /** `reportingInstance`; default hostname_pid. */
  instance?: string;
  /** Events recorded at once per Alert; default 25. */
  burst?: number;
  /** Time to earn one more; default 5 min. */
  refillIntervalMs?: number;
  /** An identical Event within this window updates the earlier one; default 10 min. */
  dedupeWindowMs?: number;
  /** Requests in flight at most; default 8. */
  maxInFlight?: number;
  now?: () => number;
}

/** Entries kept per map (Alerts' buckets, recent Events); the oldest go first. */
const MAX_TRACKED = 4096;
/** The length Kubernetes tools show of a message; longer ones are cut. */
const MAX_MESSAGE = 1024;

interface Bucket {
  tokens: number;
  updated: number;
}

interface Recent {
  name: string;
  namespace: string;
  count: number;
  lastSeen: number;
}

/** A per-key token bucket: `take` is true when the key may act now. Pure, for the recorder and its tests. */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly burst: number,
    private readonly refillIntervalMs: number,
    private readonly maxKeys = MAX_TRACKED,
  ) {}

  take(key: string, now: number): boolean {
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, updated: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.updated) / this.refillIntervalMs);
    bucket.updated = now;
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    while (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}

export class KubeEventRecorder implements AlertEventSink, ObjectEventSink {
  private readonly opts: Required<EventRecorderOptions>;
  private readonly buckets: TokenBuckets;
  private readonly recent = new Map<string, Recent>();
  private readonly pending = new Set<Promise<void>>();
  private dropped = 0;
  private sequence = 0;

  constructor(opts: EventRecorderOptions) {
    this.opts = {
      component: 'herald',
      instance: replicaIdentity(),
      burst: 25,
      refillIntervalMs: 300_000,
      dedupeWindowMs: 600_000,
      maxInFlight: 8,
      now: Date.now,
      ...opts,
    };
    this.buckets = new TokenBuckets(this.opts.burst, this.opts.refillIntervalMs);
  }

  warning(alert: AlertRef, reason: string, message: string, annotations?: Record<string, string>): void {
    this.enqueue({ apiVersion: alert.apiVersion ?? `${NOTIFICATION_GROUP}/v1beta3`, kind: 'Alert', namespace: alert.namespace, name: alert.name, uid: alert.uid }, 'Warning', reason, message, annotations);
  }

  /**
   * An Event of either type on any object (image automation records its reconciles this way,
   * as Flux's image controllers do), under the same rate limits, reported by `component`.
   */
  event(object: InvolvedObjectRef, type: 'Normal' | 'Warning', reason: string, message: string, component?: string): void {
    this.enqueue(object, type, reason, message, undefined, component);
  }

  /** An Event of either type on any object, reported by this recorder's component (Receivers' Events). */
  record(object: InvolvedObjectRef, type: 'Normal' | 'Warning', reason: string, message: string, annotations?: Record<string, string>): void {
    this.enqueue(object, type, reason, message, annotations);
  }

  private enqueue(
    object: InvolvedObjectRef,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    annotations?: Record<string, string>,
    component?: string,
  ): void {
    const { now, maxInFlight, logger } = this.opts;
    // Alerts keep their plain `namespace/name` key; other kinds are told apart by kind.
    const objectId = object.kind === 'Alert' ? objectKey(object) : `${object.kind}/${objectKey(object)}`;
    const text = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message;
    if (this.pending.size >= maxInFlight || !this.buckets.take(objectId, now())) {
      this.dropped++;
      if (this.dropped === 1 || this.dropped % 100 === 0) {
        logger.warn({ object: objectId, reason, dropped: this.dropped }, 'Kubernetes Events rate-limited; some are not recorded');
      }
      return;
    }
    const work = this.write(object, objectId, type, reason, text, annotations, component ?? this.opts.component).catch((err: unknown) => {
      logger.warn({ object: objectId, reason, err: describeApiError(err) }, 'cannot record a Kubernetes Event');
    });
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  /** Resolves once every Event under way is written (tests, shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  private async write(
    object: InvolvedObjectRef,
    objectId: string,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    annotations: Record<string, string> | undefined,
    component: string,
  ): Promise<void> {
    const { api, now, dedupeWindowMs, instance } = this.opts;
    const key = `${objectId}|${type}|${reason}|${message}|${annotations ? JSON.stringify(annotations) : ''}`;
    const time = new Date(now());
    const seen = this.recent.get(key);
    if (seen && time.getTime() - seen.lastSeen < dedupeWindowMs) {
      seen.count++;
      seen.lastSeen = time.getTime();
      try {
        await api.patchNamespacedEvent(
          { name: seen.name, namespace: seen.namespace, body: { count: seen.count, lastTimestamp: time.toISOString() } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        return;
      } catch (err) {
        if (statusCodeOf(err) !== 404) throw err; // an expired Event (their TTL is 1 h): create a new one
      }
    }
    // client-go's naming: the object's name and the time in nanoseconds, in hex.
    const name = `${object.name}.${(BigInt(time.getTime()) * 1_000_000n + BigInt(this.sequence++ % 1_000_000)).toString(16)}`;
    await api.createNamespacedEvent({
      namespace: object.namespace,
      body: {
        metadata: { name, namespace: object.namespace, ...(annotations ? { annotations: { ...annotations } } : {}) },
        involvedObject: {
          apiVersion: object.apiVersion,
          kind: object.kind,
          name: object.name,
          namespace: object.namespace,
          ...(object.uid ? { uid: object.uid } : {}),
        },
        type,
        reason,
        message,
        source: { component },
        reportingComponent: component,
        reportingInstance: instance,
        firstTimestamp: time,
        lastTimestamp: time,
        count: 1,
      },
    });
    this.recent.delete(key);
    this.recent.set(key, { name, namespace: object.namespace, count: 1, lastSeen: time.getTime() });
    while (this.recent.size > MAX_TRACKED) this.recent.delete(this.recent.keys().next().value as string);
  }
}
