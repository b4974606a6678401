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
}

export interface Provider {
  apiVersion: string;
  kind: 'Provider';
  metadata: ObjectMeta;
  spec: ProviderSpec;
}

/** A Secret with its values already decoded to UTF-8 strings (`data` base64 and `stringData` merged). */
export interface Secret {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: ObjectMeta;
  data: Record<string, string>;
}

/** Any other object; only its labels matter (they serve `matchLabels` look-ups). */
export interface LabelledObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
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
