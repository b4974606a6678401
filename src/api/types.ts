/**
 * The manifests Herald understands, shaped like Flux's `notification.toolkit.fluxcd.io/v1beta3`
 * API and Kubernetes' core `v1` Secret.
 */

export const NOTIFICATION_GROUP = 'notification.toolkit.fluxcd.io';

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface LocalObjectReference {
  name: string;
}

export interface EventSource {
  kind: string;
  name: string;
  namespace?: string;
  apiVersion?: string;
  matchLabels?: Record<string, string>;
}

export interface AlertSpec {
  providerRef: LocalObjectReference;
  eventSeverity?: 'info' | 'error';
  eventSources: EventSource[];
  inclusionList?: string[];
  exclusionList?: string[];
  eventMetadata?: Record<string, string>;
  summary?: string;
  suspend?: boolean;
}

export interface ProviderSpec {
  type: string;
  interval?: string;
  channel?: string;
  username?: string;
  address?: string;
  timeout?: string;
  proxy?: string;
  secretRef?: LocalObjectReference;
  certSecretRef?: LocalObjectReference;
  proxySecretRef?: LocalObjectReference;
  serviceAccountName?: string;
  commitStatusExpr?: string;
  suspend?: boolean;
}

export interface Alert {
  apiVersion: string;
  kind: 'Alert';
  metadata: ObjectMeta;
  spec: AlertSpec;
  /** Fields of the manifest Herald does not know (`spec.exclusionlist`), each named; they are ignored. */
  warnings?: string[];
}

export interface Provider {
  apiVersion: string;
  kind: 'Provider';
  metadata: ObjectMeta;
  spec: ProviderSpec;
  /** Fields of the manifest Herald does not know, each named; they are ignored. */
  warnings?: string[];
}

/** A Secret with its values already decoded to UTF-8 strings (`data` base64 and `stringData` merged). */
export interface Secret {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: ObjectMeta;
  data: Record<string, string>;
  /**
   * Why the Secret cannot be used (its `data` is not valid base64, say), naming the key and
   * never the value; `data` is then empty. Kept in the store so that a Provider naming it
   * reports this cause instead of "not found".
   */
  invalid?: string;
}

/**
 * Any other object; only its labels matter (they serve `matchLabels` look-ups), except for the
 * image automation kinds, whose `spec` is kept for the image controller to validate.
 */
export interface LabelledObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: unknown;
}

export interface ReadyCondition {
  type: 'Ready';
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

/** `namespace/name`: how Herald names a namespaced object in logs, job data and the status API. */
export function objectKey(meta: { namespace?: string; name: string }): string {
  return `${meta.namespace ?? ''}/${meta.name}`;
}

/** The namespace and name of an `objectKey` (a namespace cannot contain `/`). */
export function parseObjectKey(key: string): [namespace: string, name: string] {
  const slash = key.indexOf('/');
  return slash < 0 ? ['', key] : [key.slice(0, slash), key.slice(slash + 1)];
}

/**
 * A Flux `Receiver` as the API server would store it: its spec is checked by the receivers
 * module (`validateReceiver`), which sits above the store.
 */
export interface ReceiverObject {
  apiVersion: string;
  kind: 'Receiver';
  metadata: ObjectMeta;
  spec: unknown;
  /** Fields of the manifest Herald does not know, each named; they are ignored. */
  warnings?: string[];
}

/** Every object the resource store holds; tell them apart with `isProvider`, `isAlert`, `isSecret`, `isReceiver`. */
export type StoredObject = Provider | Alert | Secret | ReceiverObject | LabelledObject;

/** The API group of an `apiVersion` (`''` for the core group of `v1`). */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** `group|kind|namespace|name`: one stored object, whichever API version it was written in. */
export function storedKey(group: string, kind: string, namespace: string, name: string): string {
  return `${group}|${kind}|${namespace}|${name}`;
}

export function storedObjectKey(obj: StoredObject): string {
  return storedKey(groupOf(obj.apiVersion), obj.kind, obj.metadata.namespace, obj.metadata.name);
}

// Guards check the group as well as the kind: other projects have kinds named `Provider`
// (Crossplane's `pkg.crossplane.io`), and they are only labelled objects to Herald.
export function isProvider(obj: StoredObject): obj is Provider {
  return obj.kind === 'Provider' && groupOf(obj.apiVersion) === NOTIFICATION_GROUP;
}

export function isAlert(obj: StoredObject): obj is Alert {
  return obj.kind === 'Alert' && groupOf(obj.apiVersion) === NOTIFICATION_GROUP;
}

export function isReceiver(obj: StoredObject): obj is ReceiverObject {
  return obj.kind === 'Receiver' && groupOf(obj.apiVersion) === NOTIFICATION_GROUP;
}

export function isSecret(obj: StoredObject): obj is Secret {
  return obj.kind === 'Secret' && obj.apiVersion === 'v1';
}

/**
 * Why a resource is not usable, for its Ready condition. `message` names the field at fault
 * and never contains a Secret's value.
 */
export interface Finding {
  reason: string;
  message: string;
}

/** The `reason` of a Ready condition, one per way a resource can be unusable. */
export const Reasons = {
  Succeeded: 'Succeeded',
  /** A required field is missing, or a field is out of its allowed range or enum. */
  InvalidSpec: 'InvalidSpec',
  /** `spec.type` is not one of Flux's provider types. */
  UnknownProviderType: 'UnknownProviderType',
  /** `spec.type` is a Flux provider type that Herald has no adapter for yet. */
  ProviderTypeNotSupported: 'ProviderTypeNotSupported',
  InvalidTimeout: 'InvalidTimeout',
  InvalidAddress: 'InvalidAddress',
  InvalidProxy: 'InvalidProxy',
  SecretNotFound: 'SecretNotFound',
  /** A referenced Secret lacks a key it must have, or a key's value is malformed. */
  InvalidSecret: 'InvalidSecret',
  /** The provider adapter rejected the resolved configuration. */
  InvalidProviderConfig: 'InvalidProviderConfig',
  /** A Flux feature Herald does not implement (workload identity). */
  Unsupported: 'Unsupported',
  ProviderNotFound: 'ProviderNotFound',
  ProviderNotReady: 'ProviderNotReady',
  InvalidRegex: 'InvalidRegex',
} as const;

/** The logging the resources module needs; a pino logger fits. */
export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}
