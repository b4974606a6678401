/**
 * Validation of ImageRepository and ImagePolicy manifests from parsed YAML: what the CRD's
 * OpenAPI schema and CEL rules check in Kubernetes, checked here for the manifests directory
 * (and repeated for objects read from a cluster, where the CRD may be older). Each error names
 * the field (`spec.image: …`). Defaults are applied as Flux's API does.
 */
import { INTERVAL_PATTERN, TIMEOUT_PATTERN, parseDuration } from './duration.js';
import { ImageReferenceError, parseImageReference } from './image-ref.js';
import { PolicyError, compilePolicy } from './policy.js';
import {
  DEFAULT_EXCLUSION_LIST,
  DEFAULT_POLICY_INTERVAL_MS,
  IMAGE_API_VERSION,
  IMAGE_API_VERSIONS,
  MAX_EXCLUSION_PATTERNS,
  MIN_TIMEOUT_MS,
  type DigestReflectionPolicy,
  type ImagePolicy,
  type ImageRepository,
  type RegistryProvider,
} from './types.js';
import type { ObjectMeta } from '../api/types.js';

export type Validated<T> = { ok: true; object: T } | { ok: false; errors: string[] };

/** An ImageRepository with its durations in milliseconds and its defaults applied. */
export interface ValidImageRepository {
  resource: ImageRepository;
  intervalMs: number;
  /** `spec.timeout`, or the interval; never below one second. */
  timeoutMs: number;
  exclusionList: string[];
}

export interface ValidImagePolicy {
  resource: ImagePolicy;
  digestReflectionPolicy: DigestReflectionPolicy;
  /** Only meaningful with `Always`. */
  intervalMs: number;
}

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const PROVIDERS: readonly RegistryProvider[] = ['generic', 'aws', 'azure', 'gcp'];
const DIGEST_POLICIES: readonly DigestReflectionPolicy[] = ['Never', 'IfNotPresent', 'Always'];

type Raw = Record<string, unknown>;

function isRecord(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

class Checker {
  readonly errors: string[] = [];
  fail(field: string, message: string): void {
    this.errors.push(`${field}: ${message}`);
  }
  string(obj: Raw, key: string, field: string, required: boolean): string | undefined {
    const value = obj[key];
    if (value === undefined || value === null) {
      if (required) this.fail(field, 'required');
      return undefined;
    }
    if (typeof value !== 'string') {
      this.fail(field, `must be a string, not ${typeof value}`);
      return undefined;
    }
    if (required && value === '') this.fail(field, 'must not be empty');
    return value;
  }
  boolean(obj: Raw, key: string, field: string): boolean | undefined {
    const value = obj[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') this.fail(field, `must be true or false, not ${JSON.stringify(value)}`);
    return value === true;
  }
  record(obj: Raw, key: string, field: string, required: boolean): Raw | undefined {
    const value = obj[key];
    if (value === undefined || value === null) {
      if (required) this.fail(field, 'required');
      return undefined;
    }
    if (!isRecord(value)) {
      this.fail(field, 'must be a mapping');
      return undefined;
    }
    return value;
  }
  localRef(obj: Raw, key: string, field: string): { name: string } | undefined {
    const ref = this.record(obj, key, field, false);
    if (!ref) return undefined;
    const name = this.string(ref, 'name', `${field}.name`, true);
    return name ? { name } : undefined;
  }
  duration(obj: Raw, key: string, field: string, pattern: RegExp, required: boolean): number | undefined {
    const text = this.string(obj, key, field, required);
    if (text === undefined || text === '') return undefined;
    const ms = parseDuration(text, pattern);
    if (ms === undefined) this.fail(field, `'${text}' is not a duration matching ${pattern.source}`);
    return ms;
  }
}

function metadataOf(raw: Raw, c: Checker, defaultNamespace: string): ObjectMeta | undefined {
  const meta = c.record(raw, 'metadata', 'metadata', true);
  if (!meta) return undefined;
  const name = c.string(meta, 'name', 'metadata.name', true);
  const namespace = c.string(meta, 'namespace', 'metadata.namespace', false) ?? defaultNamespace;
  if (name && !NAME.test(name)) c.fail('metadata.name', `'${name}' is not a valid Kubernetes name`);
  if (!name) return undefined;
  const out: ObjectMeta = { name, namespace };
  for (const key of ['labels', 'annotations'] as const) {
    const value = meta[key];
    if (isRecord(value)) out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
  }
  if (typeof meta.generation === 'number') out.generation = meta.generation;
  if (typeof meta.uid === 'string') out.uid = meta.uid;
  return out;
}

function checkApiVersion(raw: Raw, kind: string, c: Checker): void {
  if (raw.kind !== kind) c.fail('kind', `expected ${kind}, got ${JSON.stringify(raw.kind)}`);
  if (typeof raw.apiVersion !== 'string' || !IMAGE_API_VERSIONS.includes(raw.apiVersion)) {
    c.fail('apiVersion', `must be one of ${IMAGE_API_VERSIONS.join(', ')}, got ${JSON.stringify(raw.apiVersion)}`);
  }
}

export function validateImageRepository(raw: unknown, defaultNamespace = 'default'): Validated<ValidImageRepository> {
  const c = new Checker();
  if (!isRecord(raw)) return { ok: false, errors: ['(document): must be a mapping'] };
  checkApiVersion(raw, 'ImageRepository', c);
  const metadata = metadataOf(raw, c, defaultNamespace);
  const spec = c.record(raw, 'spec', 'spec', true) ?? {};
  const image = c.string(spec, 'image', 'spec.image', true);
  const insecure = c.boolean(spec, 'insecure', 'spec.insecure');
  if (image) {
    try {
      parseImageReference(image, insecure);
    } catch (err) {
      if (!(err instanceof ImageReferenceError)) throw err;
      c.fail('spec.image', err.message);
    }
  }
  const intervalMs = c.duration(spec, 'interval', 'spec.interval', INTERVAL_PATTERN, true);
  const timeoutSpecMs = c.duration(spec, 'timeout', 'spec.timeout', TIMEOUT_PATTERN, false);
  const provider = c.string(spec, 'provider', 'spec.provider', false);
  if (provider !== undefined && !PROVIDERS.includes(provider as RegistryProvider)) {
    c.fail('spec.provider', `must be one of ${PROVIDERS.join(', ')}, got '${provider}'`);
  }
  const serviceAccountName = c.string(spec, 'serviceAccountName', 'spec.serviceAccountName', false);
  if (serviceAccountName !== undefined && serviceAccountName.length > 253) c.fail('spec.serviceAccountName', 'longer than 253 characters');
  let exclusionList = [...DEFAULT_EXCLUSION_LIST];
  const rawList = spec.exclusionList;
  if (rawList !== undefined && rawList !== null) {
    if (!Array.isArray(rawList) || rawList.some((p) => typeof p !== 'string')) {
      c.fail('spec.exclusionList', 'must be a list of strings');
    } else if (rawList.length > MAX_EXCLUSION_PATTERNS) {
      c.fail('spec.exclusionList', `at most ${MAX_EXCLUSION_PATTERNS} patterns, got ${rawList.length}`);
    } else if (rawList.length > 0) {
      // A non-empty list replaces the default (so `.sig` tags come back unless listed).
      exclusionList = rawList as string[];
    }
  }
  const secretRef = c.localRef(spec, 'secretRef', 'spec.secretRef');
  const certSecretRef = c.localRef(spec, 'certSecretRef', 'spec.certSecretRef');
  const proxySecretRef = c.localRef(spec, 'proxySecretRef', 'spec.proxySecretRef');
  const suspend = c.boolean(spec, 'suspend', 'spec.suspend');
  if (c.errors.length > 0 || !metadata || !image || intervalMs === undefined) return { ok: false, errors: c.errors };
  const timeoutMs = Math.max(MIN_TIMEOUT_MS, timeoutSpecMs ?? intervalMs);
  const resource: ImageRepository = {
    apiVersion: IMAGE_API_VERSION,
    kind: 'ImageRepository',
    metadata,
    spec: withoutUndefined({
      image,
      interval: spec.interval as string,
      timeout: spec.timeout as string | undefined,
      secretRef,
      certSecretRef,
      proxySecretRef,
      serviceAccountName,
      provider: (provider as RegistryProvider | undefined) ?? 'generic',
      exclusionList,
      insecure,
      suspend,
    }),
  };
  if (isRecord(spec.accessFrom)) resource.spec.accessFrom = spec.accessFrom as ImageRepository['spec']['accessFrom'];
  return { ok: true, object: { resource, intervalMs, timeoutMs, exclusionList } };
}

export function validateImagePolicy(raw: unknown, defaultNamespace = 'default'): Validated<ValidImagePolicy> {
  const c = new Checker();
  if (!isRecord(raw)) return { ok: false, errors: ['(document): must be a mapping'] };
  checkApiVersion(raw, 'ImagePolicy', c);
  const metadata = metadataOf(raw, c, defaultNamespace);
  const spec = c.record(raw, 'spec', 'spec', true) ?? {};
  const repoRef = c.record(spec, 'imageRepositoryRef', 'spec.imageRepositoryRef', true);
  const repoName = repoRef ? c.string(repoRef, 'name', 'spec.imageRepositoryRef.name', true) : undefined;
  const repoNamespace = repoRef ? c.string(repoRef, 'namespace', 'spec.imageRepositoryRef.namespace', false) : undefined;

  const policyRaw = c.record(spec, 'policy', 'spec.policy', true);
  const policy: ImagePolicy['spec']['policy'] = {};
  if (policyRaw) {
    const chosen = ['semver', 'alphabetical', 'numerical'].filter((k) => policyRaw[k] !== undefined && policyRaw[k] !== null);
    if (chosen.length !== 1) {
      c.fail('spec.policy', `exactly one of semver, alphabetical, numerical must be set${chosen.length ? `, got ${chosen.join(', ')}` : ''}`);
    }
    const semver = c.record(policyRaw, 'semver', 'spec.policy.semver', false);
    if (semver) {
      const range = c.string(semver, 'range', 'spec.policy.semver.range', true);
      if (range !== undefined) policy.semver = { range };
    }
    for (const kind of ['alphabetical', 'numerical'] as const) {
      const choice = c.record(policyRaw, kind, `spec.policy.${kind}`, false);
      if (!choice) continue;
      const order = c.string(choice, 'order', `spec.policy.${kind}.order`, false);
      if (order !== undefined && order !== 'asc' && order !== 'desc') c.fail(`spec.policy.${kind}.order`, `must be asc or desc, got '${order}'`);
      policy[kind] = { order: (order as 'asc' | 'desc' | undefined) ?? 'asc' };
    }
  }
  const filterRaw = c.record(spec, 'filterTags', 'spec.filterTags', false);
  const filterTags = filterRaw
    ? withoutUndefined({
        pattern: c.string(filterRaw, 'pattern', 'spec.filterTags.pattern', false),
        extract: c.string(filterRaw, 'extract', 'spec.filterTags.extract', false),
      })
    : undefined;
  if (c.errors.length === 0) {
    try {
      compilePolicy({ policy, filterTags });
    } catch (err) {
      if (!(err instanceof PolicyError)) throw err;
      c.fail(err.field ?? 'spec.policy', err.message);
    }
  }
  const digestPolicy = c.string(spec, 'digestReflectionPolicy', 'spec.digestReflectionPolicy', false) ?? 'Never';
  if (!DIGEST_POLICIES.includes(digestPolicy as DigestReflectionPolicy)) {
    c.fail('spec.digestReflectionPolicy', `must be one of ${DIGEST_POLICIES.join(', ')}, got '${digestPolicy}'`);
  }
  const intervalMs = c.duration(spec, 'interval', 'spec.interval', INTERVAL_PATTERN, false);
  // The CRD's CEL rule: an interval only with (and then required by) `Always`.
  if (digestPolicy === 'Always' && intervalMs === undefined) {
    c.fail('spec.interval', "must be set when spec.digestReflectionPolicy is set to 'Always'");
  } else if (digestPolicy !== 'Always' && intervalMs !== undefined) {
    c.fail('spec.interval', "is only accepted when spec.digestReflectionPolicy is set to 'Always'");
  }
  const suspend = c.boolean(spec, 'suspend', 'spec.suspend');
  if (c.errors.length > 0 || !metadata || !repoName) return { ok: false, errors: c.errors };
  const resource: ImagePolicy = {
    apiVersion: IMAGE_API_VERSION,
    kind: 'ImagePolicy',
    metadata,
    spec: withoutUndefined({
      imageRepositoryRef: withoutUndefined({ name: repoName, namespace: repoNamespace }),
      policy,
      filterTags,
      digestReflectionPolicy: digestPolicy as DigestReflectionPolicy,
      interval: spec.interval as string | undefined,
      suspend,
    }),
  };
  return {
    ok: true,
    object: {
      resource,
      digestReflectionPolicy: digestPolicy as DigestReflectionPolicy,
      intervalMs: intervalMs || DEFAULT_POLICY_INTERVAL_MS,
    },
  };
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
