/**
 * One ImageRepository reconcile, as Flux's image-reflector-controller does it: parse the image
 * (a bad one stalls), resolve credentials, TLS and proxy from the referenced Secrets, decide
 * whether it is scan time, list the tags, drop those the exclusion list matches, sort them in
 * descending byte order, store them, and write `lastScanResult`, `canonicalImageName` and the
 * conditions; plus the event Flux would POST for the change.
 *
 * Pure over its environment (tag store, Secret lookup, registry client factory, clock), so the
 * controller loop that calls it — from the manifests directory or Kubernetes — stays small.
 */
import { createHash } from 'node:crypto';
import { RE2JS } from 're2js';
import { objectKey } from '../api/types.js';
import { formatDuration } from './duration.js';
import { ImageReferenceError, parseImageReference, type ImageReference } from './image-ref.js';
import type { ValidImageRepository } from './manifests.js';
import {
  SecretContentError,
  credentialsFromDockerConfig,
  proxyFromSecret,
  tlsFromSecret,
  type RegistryCredentials,
  type RegistryProxy,
  type RegistryTls,
  type SecretData,
} from './registry-auth.js';
import type { RegistryClient } from './registry.js';
import {
  RECONCILE_REQUEST_ANNOTATION,
  markFailed,
  markStalled,
  markSucceeded,
  notification,
  observedGenerationAfter,
  type Notification,
} from './status.js';
import type { StoredScan, TagStore } from './tag-store.js';
import { ImageReasons, type ImageRepository, type ImageRepositoryStatus, type ScanResult } from './types.js';

/** How many tags `lastScanResult.latestTags` shows. */
export const LATEST_TAGS_COUNT = 10;
/** Flux rescans when less than this is left of the interval. */
const MIN_WAIT_MS = 1000;

export interface RepositoryEnvironment {
  store: TagStore;
  /** A Secret in a namespace, values decoded; undefined when it does not exist. */
  secret(namespace: string, name: string): SecretData | undefined;
  /** A registry client for this TLS and proxy configuration (the caller may cache and reuse them). */
  client(config: { tls?: RegistryTls; proxy?: RegistryProxy }): RegistryClient;
  now?: () => Date;
}

export interface ReconcileOutcome<S> extends Notification {
  status: S;
  /**
   * When to reconcile again: after `afterMs`; `backoff` for a failure worth retrying (the
   * caller's exponential backoff); undefined when only a change of the object can help.
   */
  requeue?: { afterMs: number } | 'backoff';
}

/** Everything needed to talk to an ImageRepository's registry. */
export interface RegistryConnection {
  ref: ImageReference;
  credentials?: RegistryCredentials;
  tls?: RegistryTls;
  proxy?: RegistryProxy;
}

export class ConnectionError extends Error {
  override readonly name = 'ConnectionError';
}

/** Resolves `spec.secretRef`, `certSecretRef` and `proxySecretRef`; throws a `ConnectionError` naming the Secret and key. */
export function connectionFor(repo: ImageRepository, ref: ImageReference, secret: RepositoryEnvironment['secret']): RegistryConnection {
  const namespace = repo.metadata.namespace;
  const lookup = (field: string, name: string | undefined): SecretData | undefined => {
    if (name === undefined) return undefined;
    const found = secret(namespace, name);
    if (!found) throw new ConnectionError(`${field}: secret '${namespace}/${name}' not found`);
    return found;
  };
  try {
    const pull = lookup('spec.secretRef', repo.spec.secretRef?.name);
    const cert = lookup('spec.certSecretRef', repo.spec.certSecretRef?.name);
    const proxy = lookup('spec.proxySecretRef', repo.spec.proxySecretRef?.name);
    return {
      ref,
      credentials: pull && credentialsFromDockerConfig(pull, ref.registry),
      tls: cert && tlsFromSecret(cert),
      proxy: proxy && proxyFromSecret(proxy),
    };
  } catch (err) {
    if (err instanceof SecretContentError) throw new ConnectionError(err.message);
    throw err;
  }
}

/** `sha256:<hex>` of the stored tags (descending byte order, one per line). */
export function tagsRevision(tags: readonly string[]): string {
  return `sha256:${createHash('sha256').update(tags.join('\n')).digest('hex')}`;
}

function byteDescending(a: string, b: string): number {
  return a < b ? 1 : a > b ? -1 : 0;
}

function scanResultOf(scan: StoredScan): ScanResult {
  const result: ScanResult = { revision: tagsRevision(scan.tags), tagCount: scan.tags.length, scanTime: scan.scanTime };
  if (scan.tags.length > 0) result.latestTags = scan.tags.slice(0, LATEST_TAGS_COUNT);
  return result;
}

function readyMessage(result: ScanResult): string {
  return `successful scan: found ${result.tagCount} tags with checksum ${result.revision}`;
}

/** Drops the tags any exclusion pattern matches; a bad pattern fails the scan as in Flux. */
function excludeTags(tags: readonly string[], patterns: readonly string[]): string[] {
  const compiled = patterns.map((p) => {
    try {
      return RE2JS.compile(p);
    } catch (err) {
      throw new Error(`failed to compile regex ${p}: ${(err as Error).message}`);
    }
  });
  return tags.filter((t) => !compiled.some((re) => re.matcher(t).find()));
}

function sameSet(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((v) => y.includes(v));
}

export async function reconcileImageRepository(
  valid: ValidImageRepository,
  env: RepositoryEnvironment,
): Promise<ReconcileOutcome<ImageRepositoryStatus>> {
  const obj = valid.resource;
  const before = obj.status ?? {};
  if (obj.spec.suspend) return { status: before };
  const now = env.now?.() ?? new Date();
  const generation = obj.metadata.generation;
  const key = objectKey(obj.metadata);
  let status: ImageRepositoryStatus = { ...before };
  let previousConditions = before.conditions;

  const requested = obj.metadata.annotations?.[RECONCILE_REQUEST_ANNOTATION];
  const finish = (next: ImageRepositoryStatus, trace: string, requeue: ReconcileOutcome<ImageRepositoryStatus>['requeue']) => {
    if (requested !== undefined) next.lastHandledReconcileAt = requested;
    const observed = observedGenerationAfter(next.conditions, generation, before.observedGeneration);
    if (observed === undefined) delete next.observedGeneration;
    else next.observedGeneration = observed;
    return { status: next, requeue, ...notification('ImageRepository', obj.metadata, previousConditions, next.conditions, trace, now) };
  };
  const progress =
    before.observedGeneration !== undefined && generation !== undefined && before.observedGeneration !== generation
      ? `processing object: new generation ${before.observedGeneration} -> ${generation}`
      : 'reconciliation in progress';
  const fail = (reason: string, message: string, progressMessage = progress) =>
    finish({ ...status, conditions: markFailed(status.conditions, reason, message, progressMessage, generation, now) }, message, 'backoff');

  let ref: ImageReference;
  try {
    ref = parseImageReference(obj.spec.image, obj.spec.insecure);
  } catch (err) {
    if (!(err instanceof ImageReferenceError)) throw err;
    return finish({ ...status, conditions: markStalled(status.conditions, ImageReasons.ImageURLInvalid, err.message, generation, now) }, err.message, undefined);
  }
  if ((obj.spec.provider ?? 'generic') !== 'generic') {
    const message = `failed to configure authentication options: spec.provider '${obj.spec.provider}' is not supported by Herald; use 'generic' with spec.secretRef`;
    return finish({ ...status, conditions: markStalled(status.conditions, ImageReasons.AuthenticationFailed, message, generation, now) }, message, undefined);
  }

  let connection: RegistryConnection;
  try {
    connection = connectionFor(obj, ref, env.secret);
  } catch (err) {
    if (!(err instanceof ConnectionError)) throw err;
    return fail(ImageReasons.AuthenticationFailed, `failed to configure authentication options: ${err.message}`);
  }

  let stored: StoredScan | undefined;
  try {
    stored = await env.store.get(key);
  } catch (err) {
    return fail(ImageReasons.Failure, `failed to determine if it's scan time: ${(err as Error).message}`);
  }
  // After a restart the manifests directory's objects have no status: the stored scan stands
  // in for it, so the restart neither rescans at once nor announces the same tags again.
  if (!status.lastScanResult && stored && stored.tags.length > 0) {
    const result = scanResultOf(stored);
    status = { ...status, lastScanResult: result, canonicalImageName: stored.canonicalImageName, observedExclusionList: stored.exclusionList };
    status.conditions = markSucceeded(status.conditions, readyMessage(result), generation, now);
    previousConditions = status.conditions;
  }

  // shouldScan
  let reason: string | undefined;
  let waitMs = valid.intervalMs;
  const last = status.lastScanResult;
  if (!last) reason = 'first scan';
  else if (requested !== undefined && requested !== before.lastHandledReconcileAt) reason = 'reconcile requested';
  else if (ref.canonical !== status.canonicalImageName) reason = 'new image name';
  else if (!sameSet(valid.exclusionList, status.observedExclusionList)) reason = 'updated exclusion list';
  else if (!stored || stored.tags.length === 0) reason = 'no tags in database';
  else {
    const remaining = valid.intervalMs - (now.getTime() - Date.parse(last.scanTime));
    if (remaining < MIN_WAIT_MS) reason = 'triggered by interval';
    else waitMs = remaining;
  }

  let trace: string;
  if (reason !== undefined) {
    const progressMessage = `scanning: ${reason}`;
    let tags: string[];
    try {
      const client = env.client({ tls: connection.tls, proxy: connection.proxy });
      const listed = await client.listTags(ref, connection.credentials, valid.timeoutMs);
      tags = excludeTags(listed, valid.exclusionList).sort(byteDescending);
    } catch (err) {
      return fail(ImageReasons.ReadOperationFailed, `scan failed: ${(err as Error).message}`, progressMessage);
    }
    const scan: StoredScan = { tags, scanTime: now.toISOString(), canonicalImageName: ref.canonical, exclusionList: [...valid.exclusionList] };
    try {
      await env.store.put(key, scan);
    } catch (err) {
      return fail(ImageReasons.ReadOperationFailed, `scan failed: failed to set tags for "${ref.canonical}": ${(err as Error).message}`, progressMessage);
    }
    status.lastScanResult = scanResultOf(scan);
    trace = `${last?.revision === status.lastScanResult.revision ? 'tags did not change' : 'successful scan'}, next scan in ${formatDuration(waitMs)}`;
  } else {
    trace = `no change in repository configuration since last scan, next scan in ${formatDuration(waitMs)}`;
  }

  const result = status.lastScanResult as ScanResult;
  status.canonicalImageName = ref.canonical;
  status.observedExclusionList = [...valid.exclusionList];
  status.conditions = markSucceeded(status.conditions, readyMessage(result), generation, now);
  return finish(status, trace, { afterMs: waitMs });
}

/** The digest of `tag` in an ImageRepository's registry (for ImagePolicy digest reflection). */
export async function fetchDigest(valid: ValidImageRepository, tag: string, env: RepositoryEnvironment): Promise<string> {
  const obj = valid.resource;
  const ref = parseImageReference(obj.spec.image, obj.spec.insecure);
  const connection = connectionFor(obj, ref, env.secret);
  return env.client({ tls: connection.tls, proxy: connection.proxy }).digest(ref, tag, connection.credentials, valid.timeoutMs);
}
