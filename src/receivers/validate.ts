/**
 * A Receiver manifest, parsed and checked: the CRD's schema rules the API server would
 * enforce, then what Flux's controller checks before it marks a Receiver Ready (its CEL
 * filters, its Secret and the Secret's `token`), with Flux's reasons and messages.
 */
import { readyCondition } from '../api/conditions.js';
import type { Finding, ObjectMeta, ReadyCondition } from '../api/types.js';
import { compileFilter } from './filter.js';
import { compileOidcProvider } from './oidc.js';
import { RECEIVER_RESOURCE_KINDS, RECEIVER_TYPES, ReceiverReasons, type OIDCProvider, type Receiver, type ReceiverResource, type ReceiverType } from './types.js';
import { webhookPath } from './webhook-path.js';

export const RECEIVER_API_VERSIONS: ReadonlySet<string> = new Set(['notification.toolkit.fluxcd.io/v1', 'notification.toolkit.fluxcd.io/v1beta2']);

const INTERVAL = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;
const MAX_NAME_LENGTH = 253;

export interface ReceiverValidation {
  /** Set whenever the object has a name; usable only when `findings` is empty. */
  receiver?: Receiver;
  findings: Finding[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringMap = (v: unknown): v is Record<string, string> => isRecord(v) && Object.values(v).every((x) => typeof x === 'string');

const TERMINAL = 'Reconciliation failed terminally due to configuration error';

/** A parsed YAML or JSON object → a typed Receiver and every problem with it, each naming its field. */
export function validateReceiver(raw: unknown): ReceiverValidation {
  const findings: Finding[] = [];
  const invalid = (message: string) => findings.push({ reason: ReceiverReasons.InvalidSpec, message });
  if (!isRecord(raw)) return { findings: [{ reason: ReceiverReasons.InvalidSpec, message: 'a Receiver must be a mapping' }] };
  if (typeof raw.apiVersion !== 'string' || !RECEIVER_API_VERSIONS.has(raw.apiVersion)) {
    invalid(`apiVersion must be one of ${[...RECEIVER_API_VERSIONS].join(', ')}`);
  }
  if (raw.kind !== 'Receiver') invalid("kind must be 'Receiver'");
  const metadata = isRecord(raw.metadata) ? raw.metadata : {};
  if (typeof metadata.name !== 'string' || metadata.name === '') {
    invalid('metadata.name is required');
    return { findings };
  }
  const meta: ObjectMeta = {
    name: metadata.name,
    namespace: typeof metadata.namespace === 'string' && metadata.namespace !== '' ? metadata.namespace : 'default',
  };
  if (typeof metadata.uid === 'string') meta.uid = metadata.uid;
  if (typeof metadata.generation === 'number') meta.generation = metadata.generation;
  if (typeof metadata.resourceVersion === 'string') meta.resourceVersion = metadata.resourceVersion;
  if (isStringMap(metadata.labels)) meta.labels = metadata.labels;
  if (isStringMap(metadata.annotations)) meta.annotations = metadata.annotations;

  const spec = isRecord(raw.spec) ? raw.spec : {};
  if (!isRecord(raw.spec)) invalid('spec is required');

  const type = spec.type;
  if (type === undefined) invalid('spec.type is required');
  else if (typeof type !== 'string' || !(RECEIVER_TYPES as readonly string[]).includes(type)) {
    invalid(`spec.type must be one of ${RECEIVER_TYPES.join(', ')}`);
  }
  if (spec.interval !== undefined && (typeof spec.interval !== 'string' || !INTERVAL.test(spec.interval))) {
    invalid('spec.interval must be a duration such as 10m or 1h30m');
  }
  if (spec.events !== undefined && (!Array.isArray(spec.events) || !spec.events.every((e) => typeof e === 'string'))) {
    invalid('spec.events must be a list of strings');
  }
  if (spec.suspend !== undefined && typeof spec.suspend !== 'boolean') invalid('spec.suspend must be a boolean');
  if (spec.resourceFilter !== undefined && typeof spec.resourceFilter !== 'string') invalid('spec.resourceFilter must be a string');

  let secretRef: { name: string } | undefined;
  if (spec.secretRef !== undefined) {
    if (!isRecord(spec.secretRef) || typeof spec.secretRef.name !== 'string' || spec.secretRef.name === '') invalid('spec.secretRef.name is required');
    else secretRef = { name: spec.secretRef.name };
  }
  const oidcProviders = validateOidcProviders(spec.oidcProviders, invalid);
  // The CRD's cross-field rules, which Flux's controller checks again (ValidationFailed).
  const failed = (message: string) => findings.push({ reason: ReceiverReasons.ValidationFailed, message: `${TERMINAL}: ${message}` });
  const oidc = type === 'generic-oidc';
  if (oidc && (oidcProviders?.length ?? 0) === 0) failed('generic-oidc receiver requires at least one oidcProvider');
  if (!oidc && (oidcProviders?.length ?? 0) > 0) failed('spec.oidcProviders can only be set when type is generic-oidc');
  if (oidc && spec.secretRef !== undefined) failed('spec.secretRef cannot be set when type is generic-oidc');
  if (!oidc && spec.secretRef === undefined) failed('spec.secretRef is required when type is not generic-oidc');

  const resources = validateResources(spec.resources, invalid);
  const receiver: Receiver = {
    apiVersion: typeof raw.apiVersion === 'string' ? raw.apiVersion : '',
    kind: 'Receiver',
    metadata: meta,
    spec: {
      type: type as ReceiverType,
      resources,
      ...(secretRef && { secretRef }),
      ...(oidcProviders && oidcProviders.length > 0 && { oidcProviders }),
      ...(typeof spec.interval === 'string' && { interval: spec.interval }),
      ...(Array.isArray(spec.events) && { events: spec.events.filter((e): e is string => typeof e === 'string') }),
      ...(typeof spec.resourceFilter === 'string' && spec.resourceFilter !== '' && { resourceFilter: spec.resourceFilter }),
      ...(spec.suspend === true && { suspend: true }),
    },
  };
  findings.push(...filterFindings(receiver));
  return { receiver, findings };
}

/** Flux's ValidateOIDCProvidersSpec, each problem naming its field. */
function validateOidcProviders(raw: unknown, invalid: (message: string) => void): OIDCProvider[] | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw)) {
    invalid('spec.oidcProviders must be a list');
    return undefined;
  }
  const seen = new Set<string>();
  const providers: OIDCProvider[] = [];
  raw.forEach((entry: unknown, i) => {
    const at = `spec.oidcProviders[${i}]`;
    if (!isRecord(entry)) return invalid(`${at} must be a mapping`);
    const { issuerURL, audience, variables, validations } = entry;
    if (typeof issuerURL !== 'string' || issuerURL === '') return invalid(`${at}.issuerURL is required`);
    if (!/^https?:\/\//.test(issuerURL)) invalid(`${at}.issuerURL must start with http:// or https://`);
    if (seen.has(issuerURL)) invalid(`${at}.issuerURL duplicates an earlier provider's`);
    seen.add(issuerURL);
    if (audience !== undefined && typeof audience !== 'string') invalid(`${at}.audience must be a string`);
    const list = (value: unknown, field: string) => {
      if (value === undefined) return [];
      if (Array.isArray(value) && value.every(isRecord)) return value;
      invalid(`${at}.${field} must be a list of mappings`);
      return [];
    };
    const vars = list(variables, 'variables').map((v, j) => {
      if (typeof v.name !== 'string' || v.name === '') invalid(`${at}.variables[${j}].name is required`);
      if (typeof v.expression !== 'string' || v.expression === '') invalid(`${at}.variables[${j}].expression is required`);
      return { name: String(v.name ?? ''), expression: String(v.expression ?? '') };
    });
    const checks = list(validations, 'validations').map((v, j) => {
      if (typeof v.expression !== 'string' || v.expression === '') invalid(`${at}.validations[${j}].expression is required`);
      if (typeof v.message !== 'string' || v.message === '') invalid(`${at}.validations[${j}].message is required`);
      return { expression: String(v.expression ?? ''), message: String(v.message ?? '') };
    });
    if (checks.length === 0) {
      invalid(`${at}.validations must list at least one validation: without one, any caller able to obtain a token from this issuer can trigger the Receiver`);
    }
    providers.push({ issuerURL, ...(typeof audience === 'string' && audience !== '' && { audience }), ...(vars.length > 0 && { variables: vars }), validations: checks });
  });
  return providers;
}

function validateResources(raw: unknown, invalid: (message: string) => void): ReceiverResource[] {
  if (raw === undefined) {
    invalid('spec.resources is required');
    return [];
  }
  if (!Array.isArray(raw)) {
    invalid('spec.resources must be a list');
    return [];
  }
  const resources: ReceiverResource[] = [];
  raw.forEach((entry: unknown, i) => {
    const at = `spec.resources[${i}]`;
    if (!isRecord(entry)) return invalid(`${at} must be a mapping`);
    const { kind, name, namespace, apiVersion, matchLabels, filter } = entry;
    if (typeof kind !== 'string' || kind === '') invalid(`${at}.kind is required`);
    else if (!RECEIVER_RESOURCE_KINDS.has(kind)) invalid(`${at}.kind must be one of ${[...RECEIVER_RESOURCE_KINDS].join(', ')}`);
    if (typeof name !== 'string' || name === '') invalid(`${at}.name is required`);
    else if (name.length > MAX_NAME_LENGTH) invalid(`${at}.name is longer than ${MAX_NAME_LENGTH} characters`);
    if (namespace !== undefined && (typeof namespace !== 'string' || namespace === '' || namespace.length > MAX_NAME_LENGTH)) {
      invalid(`${at}.namespace must be 1 to ${MAX_NAME_LENGTH} characters`);
    }
    if (apiVersion !== undefined && typeof apiVersion !== 'string') invalid(`${at}.apiVersion must be a string`);
    if (matchLabels !== undefined && !isStringMap(matchLabels)) invalid(`${at}.matchLabels must be a map of strings`);
    if (filter !== undefined && typeof filter !== 'string') invalid(`${at}.filter must be a string`);
    resources.push({
      kind: typeof kind === 'string' ? kind : '',
      name: typeof name === 'string' ? name : '',
      ...(typeof apiVersion === 'string' && apiVersion !== '' && { apiVersion }),
      ...(typeof namespace === 'string' && namespace !== '' && { namespace }),
      ...(isStringMap(matchLabels) && { matchLabels }),
      ...(typeof filter === 'string' && filter !== '' && { filter }),
    });
  });
  return resources;
}

/** Flux compiles every filter before anything else; one that fails makes the Receiver stall. */
function filterFindings({ spec }: Receiver): Finding[] {
  const findings: Finding[] = [];
  const withClaims = spec.type === 'generic-oidc';
  if (spec.resourceFilter) {
    const compiled = compileFilter(spec.resourceFilter, { withClaims });
    if (!compiled.ok) {
      findings.push({ reason: ReceiverReasons.InvalidCELExpression, message: `${TERMINAL}: invalid spec.resourceFilter expression: ${compiled.error}` });
    }
  }
  spec.resources.forEach((resource, i) => {
    if (!resource.filter) return;
    const compiled = compileFilter(resource.filter, { withClaims });
    if (!compiled.ok) {
      findings.push({
        reason: ReceiverReasons.InvalidCELExpression,
        message: `${TERMINAL}: invalid filter expression for spec.resources[${i}] (kind=${JSON.stringify(resource.kind)}, name=${JSON.stringify(resource.name)}): ${compiled.error}`,
      });
    }
  });
  (spec.oidcProviders ?? []).forEach((provider, i) => {
    const compiled = compileOidcProvider(provider);
    if (!compiled.ok) {
      findings.push({
        reason: ReceiverReasons.InvalidCELExpression,
        message: `${TERMINAL}: spec.oidcProviders[${i}] (issuerURL=${JSON.stringify(provider.issuerURL)}): ${compiled.error}`,
      });
    }
  });
  return findings;
}

export interface ReceiverReadiness {
  ready: ReadyCondition;
  /** `status.webhookPath`: the path when Ready; '' without a token; the previous one after a configuration error. */
  webhookPath: string;
  /** The Secret's keys, when Ready: what the receiver server needs to verify requests. */
  secret?: Readonly<Record<string, string>>;
}

/**
 * The Ready condition and `status.webhookPath` Flux's controller would set, given the
 * validation's findings, the Receiver's Secret (its data decoded, or undefined when absent)
 * and the status it had before.
 */
export function receiverReadiness(
  receiver: Receiver,
  findings: readonly Finding[],
  secret: Readonly<Record<string, string>> | undefined,
  previous: { ready?: ReadyCondition; webhookPath?: string } = {},
  now: Date = new Date(),
): ReceiverReadiness {
  const { name, namespace, generation } = receiver.metadata;
  const { secretRef } = receiver.spec;
  const notReady = (found: readonly Finding[], webhookPath: string) => ({ ready: readyCondition(found, '', previous.ready, generation, now), webhookPath });
  // A configuration error leaves the path Flux last reported (its server then answers 503 there);
  // a missing token clears it.
  if (findings.length > 0) return notReady(findings, previous.webhookPath ?? '');
  const ready = (token: string, data: Readonly<Record<string, string>>) => {
    const path = webhookPath(token, name, namespace);
    return { ready: readyCondition([], `Receiver initialized for path: ${path}`, previous.ready, generation, now), webhookPath: path, secret: data };
  };
  // generic-oidc has no Secret: its path is derived from the name and namespace alone.
  if (!secretRef) return ready('', {});
  const secretName = `${namespace}/${secretRef.name}`;
  if (!secret) {
    return notReady([{
      reason: ReceiverReasons.TokenNotFound,
      message: `unable to read token from secret '${secretName}' error: secrets "${secretRef.name}" not found`,
    }], '');
  }
  const token = secret.token;
  if (token === undefined) {
    return notReady([{ reason: ReceiverReasons.TokenNotFound, message: `invalid '${secretName}' secret data: required fields 'token'` }], '');
  }
  return ready(token, secret);
}
