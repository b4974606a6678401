/**
 * Flux's `Receiver` (`notification.toolkit.fluxcd.io/v1`): a webhook endpoint that verifies a
 * request from a Git host or a registry and asks Flux to reconcile the objects it names.
 */
import type { ObjectMeta } from '../api/types.js';

/** `spec.type` values of Flux v1.9's CRD. */
export const RECEIVER_TYPES = [
  'generic', 'generic-hmac', 'generic-oidc', 'github', 'gitlab', 'bitbucket', 'harbor', 'dockerhub', 'quay', 'gcr', 'nexus', 'acr', 'cdevents',
] as const;
export type ReceiverType = (typeof RECEIVER_TYPES)[number];

/** The kinds Flux's CRD accepts in `spec.resources[].kind`. */
export const RECEIVER_RESOURCE_KINDS: ReadonlySet<string> = new Set([
  'Bucket', 'GitRepository', 'Kustomization', 'HelmRelease', 'HelmChart', 'HelmRepository', 'ImageRepository',
  'ImagePolicy', 'ImageUpdateAutomation', 'OCIRepository', 'ArtifactGenerator', 'ExternalArtifact',
]);

/**
 * The API versions Flux assumes when a resource omits `apiVersion`; any other kind must name
 * its own (Flux refuses the request otherwise).
 */
export const DEFAULT_API_VERSIONS: Readonly<Record<string, string>> = {
  Bucket: 'source.toolkit.fluxcd.io/v1',
  HelmChart: 'source.toolkit.fluxcd.io/v1',
  HelmRepository: 'source.toolkit.fluxcd.io/v1',
  GitRepository: 'source.toolkit.fluxcd.io/v1',
  OCIRepository: 'source.toolkit.fluxcd.io/v1',
  ImageRepository: 'image.toolkit.fluxcd.io/v1',
  ArtifactGenerator: 'source.extensions.fluxcd.io/v1beta1',
};

export interface ReceiverResource {
  apiVersion?: string;
  kind: string;
  name: string;
  namespace?: string;
  matchLabels?: Record<string, string>;
  /** Per-resource CEL filter (Flux v1.9), stacked with `spec.resourceFilter`. */
  filter?: string;
}

export interface ReceiverSpec {
  type: ReceiverType;
  interval?: string;
  events?: string[];
  resources: ReceiverResource[];
  resourceFilter?: string;
  /** Required for every type but `generic-oidc`, which must not set it. */
  secretRef?: { name: string };
  /** `generic-oidc` only: the issuers whose tokens are accepted, and the CEL checks on their claims. */
  oidcProviders?: OIDCProvider[];
  suspend?: boolean;
}

export interface OIDCProvider {
  issuerURL: string;
  /** The token's expected `aud`; Flux's default is `notification-controller`. */
  audience?: string;
  variables?: { name: string; expression: string }[];
  validations: { expression: string; message: string }[];
}

export const DEFAULT_OIDC_AUDIENCE = 'notification-controller';

export interface Receiver {
  apiVersion: string;
  kind: 'Receiver';
  metadata: ObjectMeta;
  spec: ReceiverSpec;
}

/** The metadata of an object a Receiver can reconcile: what Flux reads (a PartialObjectMetadata). */
export interface TargetObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta & Record<string, unknown>;
}

/** Reasons of a Receiver's Ready condition, spelled as Flux's controller spells them. */
export const ReceiverReasons = {
  Succeeded: 'Succeeded',
  TokenNotFound: 'TokenNotFound',
  InvalidCELExpression: 'InvalidCELExpression',
  ValidationFailed: 'ValidationFailed',
  /** Herald's: a manifest field out of the CRD's schema (the API server would have refused it). */
  InvalidSpec: 'InvalidSpec',
} as const;
