/**
 * ImageUpdateAutomation (`image.toolkit.fluxcd.io/v1`) and the parts of GitRepository
 * (`source.toolkit.fluxcd.io/v1`) it reads, after defaulting: the shapes the automation
 * code works on. Parsing and validation are in `manifests.ts`.
 */
import type { ObjectMeta } from '../../api/types.js';

export const IMAGE_GROUP = 'image.toolkit.fluxcd.io';
export const SOURCE_GROUP = 'source.toolkit.fluxcd.io';
export const IMAGE_API_VERSION = `${IMAGE_GROUP}/v1`;
export const SOURCE_API_VERSION = `${SOURCE_GROUP}/v1`;
export const AUTOMATION_CONTROLLER = 'image-automation-controller';

/** fluxcd/pkg `git.DefaultBranch`: the checkout branch when no ref says otherwise. */
export const DEFAULT_BRANCH = 'master';
/** GitRepository `spec.timeout` default, which bounds each git operation. */
export const DEFAULT_GIT_TIMEOUT_MS = 60_000;
export const DEFAULT_MESSAGE_TEMPLATE = 'Update from image update automation';

/** GitRepository `spec.ref`; Flux's precedence is commit > name > semver > tag > branch. */
export interface GitRef {
  branch?: string;
  tag?: string;
  semver?: string;
  name?: string;
  commit?: string;
}

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface SigningKey {
  secretRef: { name: string };
  type: 'gpg' | 'ssh';
}

export interface ImageUpdateAutomationSpec {
  sourceRef: { kind: 'GitRepository'; name: string; namespace?: string; apiVersion?: string };
  git: {
    checkout?: { ref: GitRef };
    commit: {
      author: { name: string; email: string };
      signingKey?: SigningKey;
      messageTemplate?: string;
      messageTemplateValues?: Record<string, string>;
    };
    push?: { branch?: string; refspec?: string; options?: Record<string, string> };
  };
  interval: string;
  intervalMs: number;
  policySelector?: LabelSelector;
  update: { strategy: 'Setters'; path: string };
  suspend: boolean;
}

export interface ObservedPolicyRef {
  name: string;
  tag: string;
  digest?: string;
}

export interface ImageUpdateAutomationStatus {
  lastAutomationRunTime?: string;
  lastPushCommit?: string;
  lastPushTime?: string;
  observedPolicies?: Record<string, ObservedPolicyRef>;
  observedSourceRevision?: string;
}

export interface ImageUpdateAutomation {
  apiVersion: typeof IMAGE_API_VERSION;
  kind: 'ImageUpdateAutomation';
  metadata: ObjectMeta;
  spec: ImageUpdateAutomationSpec;
  status?: ImageUpdateAutomationStatus;
}

export interface GitRepository {
  apiVersion: typeof SOURCE_API_VERSION;
  kind: 'GitRepository';
  metadata: ObjectMeta;
  spec: {
    url: string;
    ref?: GitRef;
    secretRef?: { name: string };
    timeoutMs: number;
  };
}

/**
 * What the policy side provides: an ImagePolicy's identity, labels and `status.latestRef`.
 * Structural, so the ImagePolicy implementation needs no import from here.
 */
export interface PolicyInput {
  namespace: string;
  name: string;
  labels?: Record<string, string>;
  latestRef?: ObservedPolicyRef;
}
