/**
 * Folds a Provider and the Secrets it references into the `ProviderConfig` adapters use, the
 * way Flux's notification-controller does when it builds a notifier (internal/server
 * event_handlers.go createNotifier, and fluxcd/pkg runtime/secrets for the proxy and TLS
 * Secrets):
 *
 * - `spec.secretRef`: `address` (trimmed) overrides spec.address; `proxy` (trimmed, deprecated)
 *   overrides spec.proxy; `token`, `username` (overrides spec.username) and `password` are
 *   used as they are; `headers` is a YAML map of extra request headers.
 * - `spec.proxySecretRef`: `address` (required) with optional `username` / `password`, which
 *   become the proxy URL's credentials; it overrides both spec.proxy and the `proxy` key.
 * - `spec.certSecretRef`: `ca.crt`, `tls.crt`, `tls.key` (legacy `caFile`, `certFile`,
 *   `keyFile`). Without it, commit-status providers take TLS material from spec.secretRef
 *   when that has a `ca.crt`.
 *
 * One deliberate difference: Flux ignores `token` and `username` altogether when the Secret
 * has a `username` without a `password` (runtime/secrets rejects half a basic-auth pair);
 * Herald folds each key on its own, which is what the provider docs describe.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { ProviderConfig, TlsMaterial } from '../../providers/types.js';
import { Reasons, objectKey, type Finding, type Provider, type Secret } from '../api/types.js';
import { errorMessage } from '../common/errors.js';
import { onFirstUse } from '../common/on-first-use.js';

/** `yaml`, for a Secret's `headers` only: the delivery thread, which reads no manifest, loads it for the first such Secret. */
const yaml = onFirstUse<typeof import('yaml')>('yaml');

/** Flux's default `spec.timeout`. */
export const DEFAULT_TIMEOUT_MS = 15_000;

/** The pattern of `spec.timeout` in Flux's CRD: Go durations in ms, s and m only. */
const TIMEOUT_PATTERN = /^([0-9]+(\.[0-9]+)?(ms|s|m))+$/;
const DURATION_PART = /([0-9]+(?:\.[0-9]+)?)(ms|s|m)/g;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/** Milliseconds of a `spec.timeout` value, or undefined when it does not match Flux's pattern. */
export function parseTimeout(text: string): number | undefined {
  if (!TIMEOUT_PATTERN.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(DURATION_PART)) total += Number(amount) * (UNIT_MS[unit ?? ''] ?? 0);
  return Math.round(total);
}

/** The Secrets a Provider references, already looked up in its namespace. */
export interface ReferencedSecrets {
  secret?: Secret;
  certSecret?: Secret;
  proxySecret?: Secret;
}

export interface ResolvedConfig {
  config: ProviderConfig;
  /** Where `config.address` came from, for messages about it (`spec.address` or a Secret key). */
  addressField: string;
  /** Where `config.proxy` came from, when set. */
  proxyField?: string;
}

/**
 * Builds the configuration of a Provider whose spec already passed validation (its timeout
 * parses and every referenced Secret exists). Returns findings when a Secret's content is
 * unusable; they name the Secret and key, never the value.
 */
export function resolveProviderConfig(
  provider: Provider,
  secrets: ReferencedSecrets,
  opts: { commitStatus: boolean },
): { ok: true; resolved: ResolvedConfig } | { ok: false; findings: Finding[] } {
  const { spec, metadata } = provider;
  const data = secrets.secret?.data ?? {};
  const inSecret = (key: string) => `key '${key}' of Secret '${secretName(secrets.secret)}' (spec.secretRef)`;

  let address = spec.address ?? '';
  let addressField = 'spec.address';
  if (data.address !== undefined) {
    address = data.address.trim();
    addressField = inSecret('address');
  }

  let proxy = spec.proxy || undefined;
  let proxyField = proxy ? 'spec.proxy' : undefined;
  if (data.proxy !== undefined) {
    proxy = data.proxy.trim();
    proxyField = inSecret('proxy');
  }
  const proxyUrl = secrets.proxySecret ? proxyFromSecret(secrets.proxySecret) : undefined;
  if (proxyUrl?.ok && secrets.proxySecret) {
    proxy = proxyUrl.value;
    proxyField = `key 'address' of Secret '${secretName(secrets.proxySecret)}' (spec.proxySecretRef)`;
  }

  const headers = data.headers !== undefined ? parseHeaders(data.headers, inSecret('headers')) : ok<Record<string, string>>({});

  const tlsSecret = secrets.certSecret ?? (opts.commitStatus && data['ca.crt'] !== undefined ? secrets.secret : undefined);
  const tls = tlsSecret ? tlsFromSecret(tlsSecret, tlsSecret === secrets.certSecret ? 'spec.certSecretRef' : 'spec.secretRef') : ok(undefined);

  if (!headers.ok || !tls.ok || proxyUrl?.ok === false) {
    return { ok: false, findings: [proxyUrl, headers, tls].flatMap((r) => (r && !r.ok ? [r.finding] : [])) };
  }

  // An address or proxy URL that came from a Secret is as secret as the Secret.
  const derived = [addressField === 'spec.address' ? '' : address, proxyField === 'spec.proxy' ? '' : (proxy ?? '')];
  const config: ProviderConfig = {
    name: metadata.name,
    namespace: metadata.namespace,
    uid: metadata.uid || stableUid(metadata.namespace, metadata.name),
    type: spec.type,
    address,
    channel: spec.channel ?? '',
    username: data.username ?? spec.username ?? '',
    proxy,
    token: data.token,
    password: data.password,
    headers: headers.value,
    tls: tls.value,
    timeoutMs: spec.timeout === undefined ? DEFAULT_TIMEOUT_MS : (parseTimeout(spec.timeout) ?? DEFAULT_TIMEOUT_MS),
    secret: { ...data },
    spec,
    sensitiveValues: sensitiveValues(secrets, headers.value, derived),
  };
  return { ok: true, resolved: { config, addressField, proxyField } };
}

type Result<T> = { ok: true; value: T } | { ok: false; finding: Finding };

function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

function fail(reason: string, message: string): { ok: false; finding: Finding } {
  return { ok: false, finding: { reason, message } };
}

/**
 * Every value of every referenced Secret (also trimmed, as some are used trimmed), each header
 * value on its own, and the address and proxy URL when a Secret supplied them.
 */
function sensitiveValues(secrets: ReferencedSecrets, headers: Record<string, string>, derived: string[]): string[] {
  const values = new Set<string>();
  for (const secret of [secrets.secret, secrets.certSecret, secrets.proxySecret]) {
    for (const value of Object.values(secret?.data ?? {})) values.add(value).add(value.trim());
  }
  for (const value of Object.values(headers)) values.add(value);
  for (const value of derived) {
    values.add(value);
    // Its parts too: a server's "Cannot POST /hooks/<token>" quotes only the path.
    const url = parseHttpUrl(value);
    if (!url) continue;
    for (const part of [url.username, url.password]) values.add(part).add(safeDecode(part));
    values.add(url.pathname + url.search).add(url.search.slice(1));
    if (url.pathname !== '/') values.add(url.pathname);
  }
  values.delete('');
  return [...values];
}

/** The proxy URL of a proxySecretRef Secret: `address`, with `username` / `password` folded in. */
function proxyFromSecret(secret: Secret): Result<string> {
  const where = `Secret '${secretName(secret)}' (spec.proxySecretRef)`;
  const { address, username, password } = secret.data;
  if (address === undefined) return fail(Reasons.InvalidSecret, `${where} has no 'address' key`);
  if (address === '') return fail(Reasons.InvalidProxy, `key 'address' of ${where} is empty`);
  if (address.length > 2048) return fail(Reasons.InvalidProxy, `key 'address' of ${where} is longer than 2048 characters`);
  const url = parseHttpUrl(address);
  if (!url) return fail(Reasons.InvalidProxy, `key 'address' of ${where} is not a valid http(s) URL`);
  if (username !== undefined) {
    // The URL setters percent-encode what a userinfo part cannot hold (`@`, `:`, `/`…).
    url.username = username;
    if (password !== undefined) url.password = password;
  }
  return ok(url.toString());
}

function parseHeaders(text: string, field: string): Result<Record<string, string>> {
  const invalid = fail(Reasons.InvalidSecret, `${field} must be a YAML map of header names to string values`);
  let parsed: unknown;
  try {
    parsed = yaml().parse(text, { prettyErrors: false });
  } catch {
    return invalid;
  }
  if (parsed === null || parsed === undefined) return ok({});
  if (typeof parsed !== 'object' || Array.isArray(parsed)) return invalid;
  const entries = Object.entries(parsed as Record<string, unknown>);
  if (entries.some(([, value]) => typeof value !== 'string')) return invalid;
  return ok(Object.fromEntries(entries) as Record<string, string>);
}

/** TLS material with fluxcd/pkg's key names; the standard names win over the legacy ones. */
function tlsFromSecret(secret: Secret, field: string): Result<TlsMaterial> {
  const where = `Secret '${secretName(secret)}' (${field})`;
  const invalid = (message: string) => fail(Reasons.InvalidSecret, message);
  const pick = (key: string, legacy: string) => secret.data[key] ?? secret.data[legacy];
  const [ca, cert, key] = [pick('ca.crt', 'caFile'), pick('tls.crt', 'certFile'), pick('tls.key', 'keyFile')];
  if (!ca && !cert && !key) return invalid(`${where} has none of 'ca.crt', 'tls.crt', 'tls.key'`);
  if (cert && !key) return invalid(`${where} has 'tls.crt' but no 'tls.key'`);
  if (key && !cert) return invalid(`${where} has 'tls.key' but no 'tls.crt'`);
  try {
    // Parses the PEM blocks and checks that the key belongs to the certificate, so that a bad
    // Secret shows in the Provider's status rather than as a failure on every delivery.
    // createSecureContext skips a CA it cannot parse; X509Certificate does not (it reads the
    // first certificate, like Go's AppendCertsFromPEM must find at least one).
    if (ca) new X509Certificate(ca);
    createSecureContext({ ca, cert, key });
  } catch (err) {
    // OpenSSL's messages name the failing step, never the PEM content.
    return invalid(`${where} holds unusable TLS material: ${errorMessage(err)}`);
  }
  const tls: TlsMaterial = {};
  if (ca) tls.ca = ca;
  if (cert && key) Object.assign(tls, { cert, key });
  return ok(tls);
}

/** A URL with an http or https scheme and a host, or undefined. */
export function parseHttpUrl(text: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' ? url : undefined;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function secretName(secret: Secret | undefined): string {
  return secret ? objectKey(secret.metadata) : '';
}

/**
 * A Provider from the manifests directory has no `metadata.uid`, yet commit-status ids
 * (`<kind>/<name>/<uid segment>`) and Opsgenie aliases need one that stays the same across
 * restarts and replicas: a UUID-shaped hex string derived from the Provider's namespace and name.
 */
export function stableUid(namespace: string, name: string): string {
  const hex = createHash('sha256').update(`herald/Provider/${namespace}/${name}`).digest('hex');
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20, 32)].join('-');
}
