/**
 * One ImagePolicy reconcile, as Flux's image-reflector-controller does it: find the referenced
 * ImageRepository (same namespace, or another one whose `accessFrom` admits this namespace),
 * build the policy (an invalid one stalls), read the stored tags, select the latest, reflect
 * its digest per `digestReflectionPolicy`, and write `latestRef` / `observedPreviousRef` and
 * the Ready condition with Flux's message; plus the event Flux would POST.
 */
import { objectKey } from '../api/types.js';
import { ImageReferenceError, parseImageReference } from './image-ref.js';
import type { ValidImagePolicy } from './manifests.js';
import { PolicyError, compilePolicy, selectLatest, type CompiledPolicy } from './policy.js';
import type { ReconcileOutcome } from './repository.js';
import { RECONCILE_REQUEST_ANNOTATION, markFailed, markStalled, markSucceeded, notification, observedGenerationAfter } from './status.js';
import type { RefStore } from './ref-store.js';
import type { TagStore } from './tag-store.js';
import { formatDuration } from './duration.js';
import {
  ImageReasons,
  imageRefString,
  sameImageRef,
  type ImagePolicy,
  type ImagePolicyStatus,
  type ImageRef,
  type ImageRepository,
} from './types.js';

/** Flux's `--requeue-dependency` default. */
export const DEPENDENCY_REQUEUE_MS = 30_000;

export interface PolicyEnvironment {
  store: TagStore;
  /** Keeps each policy's `latestRef` across restarts (see ref-store.ts); optional. */
  refs?: RefStore;
  /** An ImageRepository with its current status; undefined when it does not exist. */
  repository(namespace: string, name: string): ImageRepository | undefined;
  /** The digest of `tag` in the repository's registry (see `fetchDigest`). */
  digest(repository: ImageRepository, tag: string): Promise<string>;
  /** A namespace's labels, for `accessFrom.namespaceSelectors`; undefined = no labels. */
  namespaceLabels?(namespace: string): Record<string, string> | undefined;
  /** Flux's `--no-cross-namespace-refs`. */
  noCrossNamespaceRefs?: boolean;
  dependencyRequeueMs?: number;
  now?: () => Date;
}

/** Flux's `composeImagePolicyReadyMessage`. */
export function policyReadyMessage(latest: ImageRef, previous: ImageRef | undefined): string {
  let message = `Latest image tag for ${latest.name} resolved to ${latest.tag}`;
  if (latest.digest) message += ` with digest ${latest.digest}`;
  if (previous && !sameImageRef(latest, previous)) {
    message += ` (previously ${previous.name}:${previous.tag}${previous.digest ? `@${previous.digest}` : ''})`;
  }
  return message;
}

/** Whether an ImageRepository in another namespace admits `namespace` (nil ACL: same namespace only). */
function accessAllowed(repo: ImageRepository, namespace: string, labels: Record<string, string>): boolean {
  if (repo.metadata.namespace === namespace) return true;
  const selectors = repo.spec.accessFrom?.namespaceSelectors ?? [];
  return selectors.some((s) => Object.entries(s.matchLabels ?? {}).every(([k, v]) => labels[k] === v));
}

export async function reconcileImagePolicy(valid: ValidImagePolicy, env: PolicyEnvironment): Promise<ReconcileOutcome<ImagePolicyStatus>> {
  const obj: ImagePolicy = valid.resource;
  if (obj.spec.suspend) return { status: obj.status ?? {} };
  const now = env.now?.() ?? new Date();
  const generation = obj.metadata.generation;
  const key = objectKey(obj.metadata);
  let before = obj.status ?? {};
  if (!before.latestRef && env.refs) {
    // After a restart: the stored ref stands in for the lost status, so an unchanged tag is
    // not announced again.
    let stored: ImageRef | undefined;
    try {
      stored = await env.refs.get(key);
    } catch {
      stored = undefined;
    }
    if (stored) before = { ...before, latestRef: stored, conditions: markSucceeded(before.conditions, policyReadyMessage(stored, undefined), generation, now) };
  }
  const status: ImagePolicyStatus = { ...before };
  const requested = obj.metadata.annotations?.[RECONCILE_REQUEST_ANNOTATION];
  if (requested !== undefined) status.lastHandledReconcileAt = requested;
  const progress =
    before.observedGeneration !== undefined && generation !== undefined && before.observedGeneration !== generation
      ? `processing object: new generation ${before.observedGeneration} -> ${generation}`
      : 'reconciliation in progress';
  const finish = (requeue: ReconcileOutcome<ImagePolicyStatus>['requeue'], trace: string): ReconcileOutcome<ImagePolicyStatus> => {
    const observed = observedGenerationAfter(status.conditions, generation, before.observedGeneration);
    if (observed === undefined) delete status.observedGeneration;
    else status.observedGeneration = observed;
    return { status, requeue, ...notification('ImagePolicy', obj.metadata, before.conditions, status.conditions, trace, now) };
  };
  const stall = (reason: string, message: string) => {
    status.conditions = markStalled(status.conditions, reason, message, generation, now);
    return finish(undefined, message);
  };
  const fail = (reason: string, message: string, requeue: ReconcileOutcome<ImagePolicyStatus>['requeue'] = 'backoff') => {
    status.conditions = markFailed(status.conditions, reason, message, progress, generation, now);
    return finish(requeue, message);
  };

  if (valid.digestReflectionPolicy === 'Always' && obj.spec.interval === undefined) {
    return stall(ImageReasons.IntervalNotConfigured, "spec.interval must be set when spec.digestReflectionPolicy is set to 'Always'");
  }

  const repoNamespace = obj.spec.imageRepositoryRef.namespace ?? obj.metadata.namespace;
  const repoName = obj.spec.imageRepositoryRef.name;
  const repoRef = `ImageRepository/${repoNamespace}/${repoName}`;
  if (repoNamespace !== obj.metadata.namespace && env.noCrossNamespaceRefs) {
    return fail(ImageReasons.AccessDenied, `failed to get the referred ImageRepository: cannot access '${repoRef}', cross-namespace references have been blocked`);
  }
  const repo = env.repository(repoNamespace, repoName);
  if (!repo) {
    return fail(
      ImageReasons.DependencyNotReady,
      `failed to get the referred ImageRepository: referenced ImageRepository does not exist: imagerepositories.image.toolkit.fluxcd.io "${repoName}" not found`,
    );
  }
  if (!accessAllowed(repo, obj.metadata.namespace, env.namespaceLabels?.(obj.metadata.namespace) ?? {})) {
    return fail(
      ImageReasons.AccessDenied,
      `failed to get the referred ImageRepository: access denied: '${repoRef}' does not admit namespace '${obj.metadata.namespace}' in spec.accessFrom`,
    );
  }
  try {
    parseImageReference(repo.spec.image, repo.spec.insecure);
  } catch (err) {
    if (!(err instanceof ImageReferenceError)) throw err;
    return stall(ImageReasons.ImageURLInvalid, err.message);
  }

  let compiled: CompiledPolicy;
  try {
    compiled = compilePolicy(obj.spec);
  } catch (err) {
    if (!(err instanceof PolicyError)) throw err;
    return stall(ImageReasons.InvalidPolicy, err.message);
  }

  let tags: string[];
  try {
    tags = (await env.store.get(objectKey(repo.metadata)))?.tags ?? [];
  } catch (err) {
    return fail(ImageReasons.Failure, `failed to read tags from database: ${(err as Error).message}`);
  }
  if (tags.length === 0) {
    const requeueMs = env.dependencyRequeueMs ?? DEPENDENCY_REQUEUE_MS;
    return fail(ImageReasons.DependencyNotReady, `retrying in ${formatDuration(Math.round(requeueMs / 1000) * 1000)} error: no tags in database`, {
      afterMs: requeueMs,
    });
  }

  let tag: string;
  try {
    tag = selectLatest(compiled, tags);
  } catch (err) {
    if (!(err instanceof PolicyError)) throw err;
    return fail(ImageReasons.Failure, err.message);
  }

  const latest: ImageRef = { name: repo.spec.image, tag };
  const current = before.latestRef;
  let fetch = false;
  if (valid.digestReflectionPolicy === 'IfNotPresent') {
    fetch = !current || current.name !== latest.name || current.tag !== latest.tag || !current.digest;
    if (!fetch && current?.digest) latest.digest = current.digest;
  } else if (valid.digestReflectionPolicy === 'Always') {
    fetch = true;
  }
  if (fetch) {
    try {
      latest.digest = await env.digest(repo, tag);
    } catch (err) {
      return fail(ImageReasons.Failure, `failed fetching digest of ${imageRefString(latest)}: ${(err as Error).message}`);
    }
  }
  if (!sameImageRef(current, latest)) {
    if (current) status.observedPreviousRef = current;
    else delete status.observedPreviousRef;
    status.latestRef = latest;
  }
  if (env.refs && !sameImageRef(obj.status?.latestRef, latest)) {
    try {
      await env.refs.put(key, latest);
    } catch (err) {
      return fail(ImageReasons.Failure, `failed to record the latest image ref: ${(err as Error).message}`);
    }
  }

  const message = policyReadyMessage(status.latestRef as ImageRef, status.observedPreviousRef);
  status.conditions = markSucceeded(status.conditions, message, generation, now);
  // Flux requeues after the interval (10m by default) whatever the digest policy.
  return finish({ afterMs: valid.intervalMs }, message);
}
