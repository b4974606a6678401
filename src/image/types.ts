/**
 * The image-reflector half of Flux's image automation API, `image.toolkit.fluxcd.io/v1`:
 * ImageRepository (scan a registry's tags) and ImagePolicy (pick the latest tag). Manifests
 * written for `v1beta2` have the same fields and are accepted as an alias; Herald writes v1.
 */
import type { LocalObjectReference, ObjectMeta } from '../api/types.js';

export const IMAGE_GROUP = 'image.toolkit.fluxcd.io';
export const IMAGE_API_VERSION = `${IMAGE_GROUP}/v1`;
export const IMAGE_API_VERSIONS: readonly string[] = [IMAGE_API_VERSION, `${IMAGE_GROUP}/v1beta2`];

/** The controller name Flux's events carry for both kinds. */
export const REFLECTOR_CONTROLLER = 'image-reflector-controller';

/** Flux's default `spec.exclusionList`: cosign signature tags. */
export const DEFAULT_EXCLUSION_LIST: readonly string[] = ['^.*\\.sig$'];
/** Upper bound of `spec.exclusionList` in the CRD. */
export const MAX_EXCLUSION_PATTERNS = 25;
/** ImageRepository `spec.timeout` never goes below this (Flux's `GetTimeout`). */
export const MIN_TIMEOUT_MS = 1000;
/** ImagePolicy's interval when `Always` reflects digests and none is set. */
export const DEFAULT_POLICY_INTERVAL_MS = 10 * 60_000;

export type RegistryProvider = 'generic' | 'aws' | 'azure' | 'gcp';

export interface ImageRepositorySpec {
  image: string;
  interval: string;
  timeout?: string;
  secretRef?: LocalObjectReference;
  certSecretRef?: LocalObjectReference;
  proxySecretRef?: LocalObjectReference;
  serviceAccountName?: string;
  provider?: RegistryProvider;
  exclusionList?: string[];
  insecure?: boolean;
  suspend?: boolean;
  accessFrom?: { namespaceSelectors: { matchLabels?: Record<string, string> }[] };
}

export interface ScanResult {
  /** `sha256:<hex>` of the sorted tags: only its change matters (it drives ImagePolicies). */
  revision: string;
  tagCount: number;
  /** RFC 3339. */
  scanTime: string;
  /** The first ten tags in descending byte order; absent when there are none. */
  latestTags?: string[];
}

/** A Kubernetes condition as Flux's kstatus helpers write them. */
export interface Condition {
  type: 'Ready' | 'Reconciling' | 'Stalled';
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

export interface ImageRepositoryStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  /** e.g. `index.docker.io/library/alpine`. */
  canonicalImageName?: string;
  lastScanResult?: ScanResult;
  observedExclusionList?: string[];
  lastHandledReconcileAt?: string;
}

export interface ImageRepository {
  apiVersion: string;
  kind: 'ImageRepository';
  metadata: ObjectMeta;
  spec: ImageRepositorySpec;
  status?: ImageRepositoryStatus;
}

export type SortOrder = 'asc' | 'desc';

export interface ImagePolicyChoice {
  semver?: { range: string };
  alphabetical?: { order?: SortOrder };
  numerical?: { order?: SortOrder };
}

export type DigestReflectionPolicy = 'Never' | 'IfNotPresent' | 'Always';

export interface ImagePolicySpec {
  imageRepositoryRef: { name: string; namespace?: string };
  policy: ImagePolicyChoice;
  filterTags?: { pattern?: string; extract?: string };
  digestReflectionPolicy?: DigestReflectionPolicy;
  interval?: string;
  suspend?: boolean;
}

export interface ImageRef {
  /** The ImageRepository's `spec.image` as written. */
  name: string;
  tag: string;
  digest?: string;
}

export interface ImagePolicyStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  latestRef?: ImageRef;
  observedPreviousRef?: ImageRef;
  lastHandledReconcileAt?: string;
}

export interface ImagePolicy {
  apiVersion: string;
  kind: 'ImagePolicy';
  metadata: ObjectMeta;
  spec: ImagePolicySpec;
  status?: ImagePolicyStatus;
}

/** Condition reasons of both kinds (Flux's `meta` and `imagev1` constants). */
export const ImageReasons = {
  Succeeded: 'Succeeded',
  Failure: 'Failure',
  Progressing: 'Progressing',
  ProgressingWithRetry: 'ProgressingWithRetry',
  ImageURLInvalid: 'ImageURLInvalid',
  AuthenticationFailed: 'AuthenticationFailed',
  ReadOperationFailed: 'ReadOperationFailed',
  FeatureGateDisabled: 'FeatureGateDisabled',
  DependencyNotReady: 'DependencyNotReady',
  AccessDenied: 'AccessDenied',
  InvalidPolicy: 'InvalidPolicy',
  IntervalNotConfigured: 'IntervalNotConfigured',
} as const;

/** `image:tag[@digest]`, as Flux's `ImageRef.String()`. */
export function imageRefString(ref: ImageRef): string {
  return `${ref.name}:${ref.tag}${ref.digest ? `@${ref.digest}` : ''}`;
}

export function sameImageRef(a: ImageRef | undefined, b: ImageRef | undefined): boolean {
  if (!a || !b) return a === b;
  return a.name === b.name && a.tag === b.tag && (a.digest ?? '') === (b.digest ?? '');
}
