/**
 * Validation of Providers and Alerts, with a reason and a message naming the field for each
 * problem: Flux's CRD rules (enums, patterns, lengths) that the API server would enforce,
 * the references between resources, and whether Herald can serve the Provider at all.
 */
import type { ProviderAdapter, ProviderConfig } from '../../providers/types.js';
import { adapterFor, supportedTypes } from '../../providers/registry.js';
import type { CompiledAlert } from '../alerts/compile.js';
import { parseHttpUrl, parseTimeout, resolveProviderConfig, type ReferencedSecrets } from './provider-config.js';
import { Reasons, objectKey, type Alert, type Finding, type Provider, type Secret } from '../api/types.js';

/** `spec.type` values Flux's v1beta3 Provider CRD accepts (newest notification-controller). */
export const FLUX_PROVIDER_TYPES: ReadonlySet<string> = new Set([
  'slack', 'discord', 'msteams', 'rocket', 'generic', 'generic-hmac', 'github', 'gitlab', 'gitea',
  'giteapullrequestcomment', 'bitbucketserver', 'bitbucket', 'azuredevops', 'googlechat', 'googlepubsub',
  'webex', 'sentry', 'azureeventhub', 'telegram', 'lark', 'matrix', 'opsgenie', 'alertmanager', 'grafana',
  'githubdispatch', 'githubpullrequestcomment', 'gitlabmergerequestcomment', 'pagerduty', 'datadog', 'nats',
  'zulip', 'otel', 'zoom', 'incident.io',
]);

/** The types Flux's CRD allows `spec.commitStatusExpr` on. */
const COMMIT_STATUS_TYPES: ReadonlySet<string> = new Set(['github', 'gitlab', 'gitea', 'bitbucketserver', 'bitbucket', 'azuredevops']);

/** Flux's MaxLength on spec.address, spec.channel, spec.username and spec.proxy. */
const MAX_FIELD_LENGTH = 2048;

export type SecretLookup = (namespace: string, name: string) => Secret | undefined;

export interface ProviderValidation {
  /** Empty when the Provider is usable; then `config` is set. */
  findings: Finding[];
  /** Set whenever `spec.type` has an adapter, usable or not. */
  adapter?: ProviderAdapter;
  config?: ProviderConfig;
  /** What the adapter's `prepare` made of `config`; set with it. */
  prepared?: unknown;
}

/**
 * Every problem of the Provider is reported at once (the Ready condition keeps the first one's
 * reason and lists all the messages, separated by `; `), except those that would only echo an
 * earlier one: with a referenced Secret missing or unusable, nothing that reads Secrets is checked.
 */
export function validateProvider(provider: Provider, secretOf: SecretLookup): ProviderValidation {
  const typeCheck = checkType(provider.spec.type);
  if ('finding' in typeCheck) return { findings: [typeCheck.finding] };
  const { adapter } = typeCheck;

  const findings = checkProviderSpec(provider);
  const secretFindings: Finding[] = [];
  const secrets = lookUpSecrets(provider, secretOf, secretFindings);
  findings.push(...secretFindings);
  if (secretFindings.length > 0) return { findings, adapter };

  const resolution = resolveProviderConfig(provider, secrets, { commitStatus: adapter.commitStatus === true });
  if (!resolution.ok) return { findings: [...findings, ...resolution.findings], adapter };
  const { config, addressField, proxyField } = resolution.resolved;

  // A field the spec's own rules already found wrong is not checked again.
  const named = (field: string) => findings.some((f) => f.message.startsWith(`${field} `));
  if (adapter.requiresAddress !== false && !named(addressField)) findings.push(...checkAddress(config.address, addressField));
  if (config.proxy !== undefined && proxyField && !named(proxyField) && !parseHttpUrl(config.proxy)) {
    findings.push({ reason: Reasons.InvalidProxy, message: `${proxyField} is not a valid http(s) URL` });
  }
  const preparation = prepareAfter(adapter, config, findings.length > 0);
  if (preparation && !preparation.ok) {
    for (const message of preparation.problem.split('; ')) {
      // An earlier check already said what is wrong with the address.
      if (message.includes(addressField) && (named(addressField) || findings.some((f) => f.reason === Reasons.InvalidAddress))) continue;
      findings.push({ reason: Reasons.InvalidProviderConfig, message });
    }
  }
  if (findings.length > 0 || !preparation?.ok) return { findings, adapter };
  return { findings, adapter, config, prepared: preparation.prepared };
}

/**
 * The adapter's `prepare`, for its own problems (a missing token, say) even when earlier checks
 * failed. An adapter may rely on those checks (an address that parses as a URL): when they
 * failed and it throws, the earlier findings already say why, and it adds nothing.
 */
function prepareAfter(adapter: ProviderAdapter, config: ProviderConfig, earlierProblems: boolean): ReturnType<ProviderAdapter['prepare']> | undefined {
  if (!earlierProblems) return adapter.prepare(config);
  try {
    return adapter.prepare(config);
  } catch {
    return undefined;
  }
}

function checkType(type: string | undefined): { adapter: ProviderAdapter } | { finding: Finding } {
  if (!type) return { finding: { reason: Reasons.InvalidSpec, message: 'spec.type is required' } };
  const adapter = adapterFor(type);
  if (adapter) return { adapter };
  const supported = supportedTypes().join(', ');
  if (FLUX_PROVIDER_TYPES.has(type)) {
    return {
      finding: {
        reason: Reasons.ProviderTypeNotSupported,
        message: `spec.type '${type}' is a Flux provider type that Herald does not support yet (supported: ${supported})`,
      },
    };
  }
  return {
    finding: {
      reason: Reasons.UnknownProviderType,
      message: `spec.type '${type}' is not a Flux provider type (Herald supports: ${supported})`,
    },
  };
}

/** The CRD's own rules on the spec's fields. */
function checkProviderSpec({ spec }: Provider): Finding[] {
  const findings: Finding[] = [];
  const invalid = (reason: string, message: string) => findings.push({ reason, message });
  if (spec.timeout !== undefined) {
    const timeoutMs = parseTimeout(spec.timeout);
    if (timeoutMs === undefined) {
      invalid(Reasons.InvalidTimeout, `spec.timeout '${spec.timeout}' must be a duration in ms, s or m, such as 30s or 1m30s`);
    } else if (timeoutMs === 0) {
      invalid(Reasons.InvalidTimeout, 'spec.timeout must be greater than zero');
    }
  }
  if (spec.proxy && !/^(http|https):\/\//.test(spec.proxy)) invalid(Reasons.InvalidProxy, 'spec.proxy must start with http:// or https://');
  for (const field of ['address', 'channel', 'username', 'proxy'] as const) {
    if ((spec[field]?.length ?? 0) > MAX_FIELD_LENGTH) invalid(Reasons.InvalidSpec, `spec.${field} is longer than ${MAX_FIELD_LENGTH} characters`);
  }
  if (spec.commitStatusExpr && !COMMIT_STATUS_TYPES.has(spec.type)) {
    invalid(Reasons.InvalidSpec, `spec.commitStatusExpr is only supported for the ${[...COMMIT_STATUS_TYPES].join(', ')} provider types`);
  }
  if (spec.serviceAccountName) {
    invalid(Reasons.Unsupported, 'spec.serviceAccountName (workload identity) is not supported by Herald; use spec.secretRef');
  }
  return findings;
}

const SECRET_REFS = [
  ['secretRef', 'secret'],
  ['certSecretRef', 'certSecret'],
  ['proxySecretRef', 'proxySecret'],
] as const;

/** Looks up each referenced Secret in the Provider's namespace; a missing one is a finding. */
function lookUpSecrets(provider: Provider, secretOf: SecretLookup, findings: Finding[]): ReferencedSecrets {
  const secrets: ReferencedSecrets = {};
  const { namespace } = provider.metadata;
  for (const [field, slot] of SECRET_REFS) {
    const ref = provider.spec[field];
    if (!ref) continue;
    if (!ref.name) {
      findings.push({ reason: Reasons.InvalidSpec, message: `spec.${field}.name is required` });
      continue;
    }
    const secret = secretOf(namespace, ref.name);
    if (secret?.invalid) {
      findings.push({
        reason: Reasons.InvalidSecret,
        message: `Secret '${objectKey({ namespace, name: ref.name })}' named by spec.${field} cannot be used: ${secret.invalid}`,
      });
    } else if (secret) secrets[slot] = secret;
    else {
      findings.push({
        reason: Reasons.SecretNotFound,
        message: `Secret '${objectKey({ namespace, name: ref.name })}' named by spec.${field} was not found`,
      });
    }
  }
  return secrets;
}

function checkAddress(address: string, field: string): Finding[] {
  const invalid = (message: string) => [{ reason: Reasons.InvalidAddress, message }];
  if (address === '') return invalid("no address: set spec.address, or the 'address' key of the Secret named by spec.secretRef");
  if (address.length > MAX_FIELD_LENGTH) return invalid(`${field} is longer than ${MAX_FIELD_LENGTH} characters`);
  // The value is not quoted: it may come from a Secret, and webhook URLs carry tokens.
  if (!parseHttpUrl(address)) return invalid(`${field} is not a valid http(s) URL`);
  return [];
}

/** The spec rules an Alert must pass before it can be compiled and matched. */
export function validateAlertSpec({ spec }: Alert): Finding[] {
  const findings: Finding[] = [];
  const invalid = (message: string) => findings.push({ reason: Reasons.InvalidSpec, message });
  if (!spec.providerRef?.name) invalid('spec.providerRef.name is required');
  if (!Array.isArray(spec.eventSources) || spec.eventSources.length === 0) {
    invalid('spec.eventSources must list at least one event source');
  } else {
    spec.eventSources.forEach((source, i) => {
      if (!source.kind) invalid(`spec.eventSources[${i}].kind is required`);
      if (!source.name) invalid(`spec.eventSources[${i}].name is required`);
      else if (source.name.length > 253) invalid(`spec.eventSources[${i}].name is longer than 253 characters`);
    });
  }
  if (spec.eventSeverity !== undefined && spec.eventSeverity !== 'info' && spec.eventSeverity !== 'error') {
    invalid(`spec.eventSeverity must be 'info' or 'error', not '${String(spec.eventSeverity)}'`);
  }
  if ((spec.summary?.length ?? 0) > 255) invalid('spec.summary is longer than 255 characters');
  return findings;
}

/**
 * The compiler's problems as findings: invalid regexes are `InvalidRegex`; an invalid
 * `matchLabels` selector is `InvalidSpec`. The Alert still matches with Flux's semantics.
 */
export function compileFindings(compiled: CompiledAlert): Finding[] {
  return compiled.problems.map((message) => ({
    reason: /^spec\.(inclusion|exclusion)List/.test(message) ? Reasons.InvalidRegex : Reasons.InvalidSpec,
    message,
  }));
}

/** What the Alert's Ready condition says about its Provider. */
export function providerRefFindings(alert: Alert, provider: { ready: boolean; message: string } | undefined): Finding[] {
  const ref = objectKey({ namespace: alert.metadata.namespace, name: alert.spec.providerRef.name });
  if (!provider) return [{ reason: Reasons.ProviderNotFound, message: `Provider '${ref}' named by spec.providerRef was not found` }];
  if (!provider.ready) {
    return [{ reason: Reasons.ProviderNotReady, message: `Provider '${ref}' named by spec.providerRef is not ready: ${provider.message}` }];
  }
  return [];
}
