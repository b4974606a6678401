/**
 * What the dispatcher needs to report an Alert's problems as Kubernetes Events, without loading
 * the Kubernetes client (manifests mode never does): the sink's shape, Flux's event reasons,
 * and Flux's way of naming an object in messages. The recorder is in event-recorder.ts.
 */

/** Which Alert an Event is about. */
export interface AlertRef {
  namespace: string;
  name: string;
  uid?: string;
  apiVersion?: string;
}

/** Any object an Event can be about (Receivers' Events name theirs with this). */
export interface InvolvedObjectRef {
  kind: string;
  apiVersion: string;
  namespace: string;
  name: string;
  uid?: string;
}

/** Where an object's Events go: Normal ones for progress, Warning ones for problems. */
export interface ObjectEventSink {
  record(object: InvolvedObjectRef, type: 'Normal' | 'Warning', reason: string, message: string): void;
}

/** Where the dispatcher and the worker report an Alert's problems. */
export interface AlertEventSink {
  /** `annotations` go on the Event (Flux annotates `MetadataAppendFailed` with the conflicting keys). */
  warning(alert: AlertRef, reason: string, message: string, annotations?: Record<string, string>): void;
}

/** Flux's event reasons (notification-controller internal/server/event_handlers.go). */
export const EventReasons = {
  /** The event could not be dispatched (Provider missing, not usable) or sent. */
  NotificationDispatchFailed: 'NotificationDispatchFailed',
  /** The involved object could not be read for matchLabels. */
  SourceFetchFailed: 'SourceFetchFailed',
  /** An Alert's regex or selector is invalid. */
  InvalidConfig: 'InvalidConfig',
  /** Metadata keys set by more than one source (the Event's annotations name them and their sources). */
  MetadataAppendFailed: 'MetadataAppendFailed',
} as const;

/** Flux's way of naming an involved object in messages: `Kind/namespace/name`. */
export function involvedObjectString(ref: { kind: string; namespace?: string; name: string }): string {
  return `${ref.kind}/${ref.namespace ?? ''}/${ref.name}`;
}
