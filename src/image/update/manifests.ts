/**
 * Decoded ImageUpdateAutomation and GitRepository manifests → the typed, defaulted objects in
 * `types.ts`, with what the CRD schema and the controller would reject reported as messages
 * that name the field. `v1beta2` manifests are accepted and read as `v1` (same fields).
 */
import type { ObjectMeta } from '../../api/types.js';
import {
  IMAGE_API_VERSION,
  IMAGE_GROUP,
  SOURCE_API_VERSION,
  SOURCE_GROUP,
  DEFAULT_GIT_TIMEOUT_MS,
  type GitRef,
  type GitRepository,
  type ImageUpdateAutomation,
  type LabelSelector,
  type LabelSelectorRequirement,
} from './types.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: string[] };

type Raw = Record<string, unknown>;

function isRecord(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go `time.ParseDuration` for the forms Flux's CRD patterns allow (`1h30m`, `1.5s`, `500ms`). */
export function parseDuration(text: string, allowHours = true): number | undefined {
  const pattern = allowHours ? /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/ : /^([0-9]+(\.[0-9]+)?(ms|s|m))+$/;
  if (!pattern.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g)) total += Number(m[1]) * (DURATION_UNITS_MS[m[2] as string] as number);
  return total;
}

class Collector {
  readonly errors: string[] = [];

  string(obj: Raw, key: string, path: string, required = false): string | undefined {
    const v = obj[key];
    if (v === undefined || v === null) {
      if (required) this.errors.push(`${path} is required`);
      return undefined;
    }
    if (typeof v !== 'string') {
      this.errors.push(`${path} must be a string`);
      return undefined;
    }
    if (required && v === '') this.errors.push(`${path} must not be empty`);
    return v;
  }

  record(obj: Raw, key: string, path: string): Raw | undefined {
    const v = obj[key];
    if (v === undefined || v === null) return undefined;
    if (!isRecord(v)) {
      this.errors.push(`${path} must be a mapping`);
      return undefined;
    }
    return v;
  }

  stringMap(obj: Raw, key: string, path: string): Record<string, string> | undefined {
    const v = this.record(obj, key, path);
    if (!v) return undefined;
    const out: Record<string, string> = {};
    for (const [k, e] of Object.entries(v)) {
      if (typeof e !== 'string') this.errors.push(`${path}.${k} must be a string`);
      else out[k] = e;
    }
    return out;
  }
}

function metadataOf(raw: Raw, c: Collector): ObjectMeta {
  const meta = c.record(raw, 'metadata', 'metadata') ?? {};
  const name = c.string(meta, 'name', 'metadata.name', true) ?? '';
  const namespace = c.string(meta, 'namespace', 'metadata.namespace') || 'default';
  const out: ObjectMeta = { name, namespace };
  const labels = c.stringMap(meta, 'labels', 'metadata.labels');
  if (labels) out.labels = labels;
  if (typeof meta.generation === 'number') out.generation = meta.generation;
  return out;
}

function checkApiVersion(raw: Raw, group: string, kind: string, c: Collector): void {
  if (raw.kind !== kind) c.errors.push(`kind must be ${kind}`);
  if (raw.apiVersion !== `${group}/v1` && raw.apiVersion !== `${group}/v1beta2`) {
    c.errors.push(`apiVersion ${String(raw.apiVersion)} is not supported; use ${group}/v1 (v1beta2 is accepted too)`);
  }
}

function gitRef(raw: Raw | undefined, path: string, c: Collector): GitRef | undefined {
  if (!raw) return undefined;
  const ref: GitRef = {};
  for (const key of ['branch', 'tag', 'semver', 'name', 'commit'] as const) {
    const v = c.string(raw, key, `${path}.${key}`);
    if (v) ref[key] = v;
  }
  if (ref.commit !== undefined && !/^[0-9a-f]{7,64}$/.test(ref.commit)) c.errors.push(`${path}.commit must be a hexadecimal commit SHA`);
  if (ref.name !== undefined && !ref.name.startsWith('refs/')) c.errors.push(`${path}.name must be a full reference starting with refs/`);
  return ref;
}

/** A branch name git itself would accept (`git check-ref-format --branch`, the common rules). */
export function isValidBranchName(name: string): boolean {
  return (
    name.length > 0 &&
    name.length <= 250 &&
    !name.startsWith('-') &&
    !name.startsWith('/') &&
    !name.endsWith('/') &&
    !name.endsWith('.') &&
    !name.endsWith('.lock') &&
    !name.includes('..') &&
    !name.includes('//') &&
    !name.includes('@{') &&
    name !== '@' &&
    !/[\x00-\x20\x7f~^:?*[\\]/.test(name)
  );
}

function labelSelector(raw: Raw | undefined, c: Collector): LabelSelector | undefined {
  if (!raw) return undefined;
  const selector: LabelSelector = {};
  const matchLabels = c.stringMap(raw, 'matchLabels', 'spec.policySelector.matchLabels');
  if (matchLabels) selector.matchLabels = matchLabels;
  const expressions = raw.matchExpressions;
  if (expressions !== undefined && expressions !== null) {
    if (!Array.isArray(expressions)) c.errors.push('spec.policySelector.matchExpressions must be a list');
    else {
      selector.matchExpressions = [];
      expressions.forEach((e, i) => {
        const path = `spec.policySelector.matchExpressions[${i}]`;
        if (!isRecord(e)) return void c.errors.push(`${path} must be a mapping`);
        const key = c.string(e, 'key', `${path}.key`, true) ?? '';
        const operator = c.string(e, 'operator', `${path}.operator`, true) ?? '';
        const values = Array.isArray(e.values) ? e.values : e.values == null ? [] : undefined;
        if (!values || values.some((v) => typeof v !== 'string')) return void c.errors.push(`${path}.values must be a list of strings`);
        if (operator === 'In' || operator === 'NotIn') {
          if (values.length === 0) c.errors.push(`failed to parse policy selector: ${path}.values: for 'in', 'notin' operators, values set can't be empty`);
        } else if (operator === 'Exists' || operator === 'DoesNotExist') {
          if (values.length > 0) c.errors.push(`failed to parse policy selector: ${path}.values: values set must be empty for exists and does not exist`);
        } else if (operator) {
          c.errors.push(`failed to parse policy selector: ${path}.operator: "${operator}" is not a valid label selector operator`);
        }
        selector.matchExpressions?.push({ key, operator: operator as LabelSelectorRequirement['operator'], values: values as string[] });
      });
    }
  }
  return selector;
}

/** Whether `labels` match the selector, with Kubernetes' semantics (an empty selector matches all). */
export function selectorMatches(selector: LabelSelector | undefined, labels: Readonly<Record<string, string>> = {}): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const value = labels[e.key];
    const inValues = has && (e.values ?? []).includes(value as string);
    if (e.operator === 'In' && !inValues) return false;
    if (e.operator === 'NotIn' && inValues) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** `update.path` relative to the repository root; never absolute, never leaving it. */
export function normaliseUpdatePath(path: string): string | undefined {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      // securejoin semantics in Flux clamp at the root; an explicit escape is a mistake worth naming.
      if (parts.length === 0) return undefined;
      parts.pop();
    } else parts.push(part);
  }
  return parts.join('/');
}

export function parseImageUpdateAutomation(raw: unknown): Parsed<ImageUpdateAutomation> {
  if (!isRecord(raw)) return { ok: false, errors: ['document is not a mapping'] };
  const c = new Collector();
  checkApiVersion(raw, IMAGE_GROUP, 'ImageUpdateAutomation', c);
  const metadata = metadataOf(raw, c);
  const spec = c.record(raw, 'spec', 'spec') ?? {};
  if (!raw.spec) c.errors.push('spec is required');

  const interval = c.string(spec, 'interval', 'spec.interval', true) ?? '';
  const intervalMs = parseDuration(interval);
  if (interval && intervalMs === undefined) c.errors.push(`spec.interval "${interval}" is not a duration such as 5m or 1h30m`);

  const sourceRefRaw = c.record(spec, 'sourceRef', 'spec.sourceRef');
  if (!sourceRefRaw) c.errors.push('spec.sourceRef is required');
  const sourceKind = (sourceRefRaw && c.string(sourceRefRaw, 'kind', 'spec.sourceRef.kind')) || 'GitRepository';
  if (sourceKind !== 'GitRepository') c.errors.push(`spec.sourceRef.kind: source kind '${sourceKind}' not supported`);
  const sourceName = (sourceRefRaw && c.string(sourceRefRaw, 'name', 'spec.sourceRef.name', true)) ?? '';
  const sourceNamespace = sourceRefRaw ? c.string(sourceRefRaw, 'namespace', 'spec.sourceRef.namespace') : undefined;

  const gitRaw = c.record(spec, 'git', 'spec.git');
  if (!gitRaw) c.errors.push(`spec.git: source kind 'GitRepository' necessitates field .spec.git`);
  const git = gitRaw ?? {};
  const checkoutRaw = c.record(git, 'checkout', 'spec.git.checkout');
  const checkoutRef = checkoutRaw ? gitRef(c.record(checkoutRaw, 'ref', 'spec.git.checkout.ref'), 'spec.git.checkout.ref', c) : undefined;
  if (checkoutRaw && !checkoutRef) c.errors.push('spec.git.checkout.ref is required');

  const commitRaw = c.record(git, 'commit', 'spec.git.commit');
  if (gitRaw && !commitRaw) c.errors.push('spec.git.commit is required');
  const commit = commitRaw ?? {};
  const authorRaw = c.record(commit, 'author', 'spec.git.commit.author');
  if (commitRaw && !authorRaw) c.errors.push('spec.git.commit.author is required');
  const author = authorRaw ?? {};
  const authorName = c.string(author, 'name', 'spec.git.commit.author.name') ?? '';
  const authorEmail = authorRaw ? (c.string(author, 'email', 'spec.git.commit.author.email', true) ?? '') : '';
  const signingRaw = c.record(commit, 'signingKey', 'spec.git.commit.signingKey');
  let signingKey: ImageUpdateAutomation['spec']['git']['commit']['signingKey'];
  if (signingRaw) {
    const ref = c.record(signingRaw, 'secretRef', 'spec.git.commit.signingKey.secretRef');
    const name = ref ? c.string(ref, 'name', 'spec.git.commit.signingKey.secretRef.name', true) : undefined;
    if (!ref) c.errors.push('spec.git.commit.signingKey.secretRef is required');
    const type = c.string(signingRaw, 'type', 'spec.git.commit.signingKey.type') || 'gpg';
    if (type !== 'gpg' && type !== 'ssh') c.errors.push(`spec.git.commit.signingKey.type must be gpg or ssh, not "${type}"`);
    signingKey = { secretRef: { name: name ?? '' }, type: type === 'ssh' ? 'ssh' : 'gpg' };
  }
  const messageTemplate = c.string(commit, 'messageTemplate', 'spec.git.commit.messageTemplate');
  const messageTemplateValues = c.stringMap(commit, 'messageTemplateValues', 'spec.git.commit.messageTemplateValues');

  const pushRaw = c.record(git, 'push', 'spec.git.push');
  let push: ImageUpdateAutomation['spec']['git']['push'];
  if (pushRaw) {
    push = {};
    const branch = c.string(pushRaw, 'branch', 'spec.git.push.branch');
    if (branch) {
      if (!isValidBranchName(branch)) c.errors.push(`spec.git.push.branch "${branch}" is not a valid branch name`);
      push.branch = branch;
    }
    const refspec = c.string(pushRaw, 'refspec', 'spec.git.push.refspec');
    if (refspec) {
      if (refspec.startsWith('+')) c.errors.push('spec.git.push.refspec: force-update refspecs (a leading +) are not supported');
      else if (refspec.startsWith(':')) c.errors.push('spec.git.push.refspec: deletion refspecs (an empty source) are not supported');
      else if (/[\x00-\x20\x7f]/.test(refspec) || refspec.split(':').length > 2) c.errors.push(`spec.git.push.refspec "${refspec}" is not a valid refspec`);
      push.refspec = refspec;
    }
    const options = c.stringMap(pushRaw, 'options', 'spec.git.push.options');
    if (options) {
      for (const k of Object.keys(options)) if (/[\n\0]/.test(k + options[k])) c.errors.push(`spec.git.push.options.${k} must not contain a newline or NUL`);
      push.options = options;
    }
  }

  const updateRaw = c.record(spec, 'update', 'spec.update');
  const strategy = (updateRaw && c.string(updateRaw, 'strategy', 'spec.update.strategy')) || 'Setters';
  if (strategy !== 'Setters') c.errors.push(`spec.update.strategy: unsupported update strategy: ${strategy}`);
  const rawPath = (updateRaw && c.string(updateRaw, 'path', 'spec.update.path')) || '';
  const path = normaliseUpdatePath(rawPath);
  if (path === undefined) c.errors.push(`spec.update.path "${rawPath}" leaves the repository`);

  const policySelector = labelSelector(c.record(spec, 'policySelector', 'spec.policySelector'), c);
  const suspend = spec.suspend === true;
  if (spec.suspend !== undefined && typeof spec.suspend !== 'boolean') c.errors.push('spec.suspend must be a boolean');

  if (c.errors.length > 0) return { ok: false, errors: c.errors };
  const value: ImageUpdateAutomation = {
    apiVersion: IMAGE_API_VERSION,
    kind: 'ImageUpdateAutomation',
    metadata,
    spec: {
      sourceRef: { kind: 'GitRepository', name: sourceName, ...(sourceNamespace ? { namespace: sourceNamespace } : {}) },
      git: {
        ...(checkoutRef ? { checkout: { ref: checkoutRef } } : {}),
        commit: {
          author: { name: authorName, email: authorEmail },
          ...(signingKey ? { signingKey } : {}),
          ...(messageTemplate !== undefined ? { messageTemplate } : {}),
          ...(messageTemplateValues ? { messageTemplateValues } : {}),
        },
        ...(push ? { push } : {}),
      },
      interval,
      intervalMs: intervalMs ?? 0,
      ...(policySelector ? { policySelector } : {}),
      update: { strategy: 'Setters', path: path ?? '' },
      suspend,
    },
  };
  return { ok: true, value };
}

const GIT_URL = /^(https?|ssh|file):\/\//;

export function parseGitRepository(raw: unknown): Parsed<GitRepository> {
  if (!isRecord(raw)) return { ok: false, errors: ['document is not a mapping'] };
  const c = new Collector();
  checkApiVersion(raw, SOURCE_GROUP, 'GitRepository', c);
  const metadata = metadataOf(raw, c);
  const spec = c.record(raw, 'spec', 'spec') ?? {};
  if (!raw.spec) c.errors.push('spec is required');
  const url = c.string(spec, 'url', 'spec.url', true) ?? '';
  if (url && !GIT_URL.test(url)) c.errors.push('spec.url must start with http://, https://, ssh:// or file://');
  const ref = gitRef(c.record(spec, 'ref', 'spec.ref'), 'spec.ref', c);
  const secretRaw = c.record(spec, 'secretRef', 'spec.secretRef');
  const secretName = secretRaw ? c.string(secretRaw, 'name', 'spec.secretRef.name', true) : undefined;
  const timeout = c.string(spec, 'timeout', 'spec.timeout');
  const timeoutMs = timeout === undefined ? DEFAULT_GIT_TIMEOUT_MS : parseDuration(timeout, false);
  if (timeout !== undefined && timeoutMs === undefined) c.errors.push(`spec.timeout "${timeout}" is not a duration such as 60s or 1m30s`);
  if (c.errors.length > 0) return { ok: false, errors: c.errors };
  return {
    ok: true,
    value: {
      apiVersion: SOURCE_API_VERSION,
      kind: 'GitRepository',
      metadata,
      spec: { url, ...(ref ? { ref } : {}), ...(secretName ? { secretRef: { name: secretName } } : {}), timeoutMs: timeoutMs ?? DEFAULT_GIT_TIMEOUT_MS },
    },
  };
}
