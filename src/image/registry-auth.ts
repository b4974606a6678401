/**
 * What an ImageRepository's Secrets contribute to a registry connection, and the parsing of
 * the registry's `WWW-Authenticate` challenges:
 *
 * - `spec.secretRef`: a `kubernetes.io/dockerconfigjson` Secret (`.dockerconfigjson` with
 *   `auths`), or the legacy `kubernetes.io/dockercfg` (`.dockercfg`, the `auths` map itself).
 *   Each entry has `auth` (base64 `user:password`), or `username`/`password`, and optionally
 *   `identitytoken` (an OAuth refresh token) or `registrytoken` (a bearer token).
 * - `spec.certSecretRef`: `ca.crt` (added to the system roots), `tls.crt` + `tls.key` (mTLS);
 *   legacy `caFile`/`certFile`/`keyFile`.
 * - `spec.proxySecretRef`: `address` (required), `username`, `password`.
 *
 * Errors name the Secret and key, never a value.
 */
import { authKeyMatches } from './image-ref.js';

/** A Secret's name and its values decoded to strings (Herald's Secret shape). */
export interface SecretData {
  metadata: { name: string; namespace: string };
  data: Record<string, string>;
}

export interface RegistryCredentials {
  username?: string;
  password?: string;
  /** OAuth2 refresh token for the token endpoint (`identitytoken`). */
  identityToken?: string;
  /** A ready bearer token (`registrytoken`). */
  registryToken?: string;
}

export interface RegistryTls {
  /** PEM CA certificates added to the system roots. */
  ca?: string;
  cert?: string;
  key?: string;
}

export interface RegistryProxy {
  /** `http(s)://host:port` without credentials. */
  address: string;
  username?: string;
  password?: string;
}

export class SecretContentError extends Error {
  override readonly name = 'SecretContentError';
}

function secretName(secret: SecretData): string {
  return `'${secret.metadata.namespace}/${secret.metadata.name}'`;
}

/**
 * The credentials for `registry` from a docker config Secret, or undefined when no `auths`
 * entry names that registry (then the registry is used anonymously, as Flux's keychain does).
 */
export function credentialsFromDockerConfig(secret: SecretData, registry: string): RegistryCredentials | undefined {
  const where = secretName(secret);
  const json = secret.data['.dockerconfigjson'];
  const legacy = secret.data['.dockercfg'];
  const key = json !== undefined ? '.dockerconfigjson' : '.dockercfg';
  const text = json ?? legacy;
  if (text === undefined) throw new SecretContentError(`secret ${where} has neither a '.dockerconfigjson' nor a '.dockercfg' key`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SecretContentError(`secret ${where} key '${key}' is not valid JSON`);
  }
  const auths = json !== undefined ? (parsed as { auths?: unknown } | null)?.auths : parsed;
  if (typeof auths !== 'object' || auths === null || Array.isArray(auths)) {
    throw new SecretContentError(`secret ${where} key '${key}' has no 'auths' map`);
  }
  // An exact host match first, then Docker Hub's other spellings, in a stable order.
  const keys = Object.keys(auths)
    .filter((k) => authKeyMatches(k, registry))
    .sort((a, b) => Number(b.toLowerCase() === registry) - Number(a.toLowerCase() === registry) || (a < b ? -1 : 1));
  const [first] = keys;
  if (first === undefined) return undefined;
  const entry = (auths as Record<string, unknown>)[first];
  if (typeof entry !== 'object' || entry === null) throw new SecretContentError(`secret ${where} key '${key}': entry for '${first}' is not a mapping`);
  const e = entry as Record<string, unknown>;
  const str = (name: string) => (typeof e[name] === 'string' && e[name] !== '' ? (e[name] as string) : undefined);
  const creds: RegistryCredentials = {};
  const auth = str('auth');
  if (auth !== undefined) {
    const decoded = Buffer.from(auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new SecretContentError(`secret ${where} key '${key}': 'auth' of '${first}' is not base64 of user:password`);
    creds.username = decoded.slice(0, colon);
    creds.password = decoded.slice(colon + 1);
  } else {
    creds.username = str('username');
    creds.password = str('password');
  }
  creds.identityToken = str('identitytoken');
  creds.registryToken = str('registrytoken');
  return creds;
}

/** `ca.crt`, `tls.crt`, `tls.key` (or the legacy `caFile`, `certFile`, `keyFile`). */
export function tlsFromSecret(secret: SecretData): RegistryTls {
  const d = secret.data;
  const ca = d['ca.crt'] ?? d.caFile;
  const cert = d['tls.crt'] ?? d.certFile;
  const key = d['tls.key'] ?? d.keyFile;
  if ((cert === undefined) !== (key === undefined)) {
    throw new SecretContentError(`secret ${secretName(secret)} must have both 'tls.crt' and 'tls.key', or neither`);
  }
  if (ca === undefined && cert === undefined) {
    throw new SecretContentError(`secret ${secretName(secret)} has none of 'ca.crt', 'tls.crt' and 'tls.key'`);
  }
  for (const [name, value] of [['ca.crt', ca], ['tls.crt', cert]] as const) {
    if (value !== undefined && !value.includes('-----BEGIN CERTIFICATE-----')) {
      throw new SecretContentError(`secret ${secretName(secret)} key '${name}' is not a PEM certificate`);
    }
  }
  return { ca, cert, key };
}

/** `address` (an http or https URL, required), `username`, `password`. */
export function proxyFromSecret(secret: SecretData): RegistryProxy {
  const address = secret.data.address?.trim();
  if (!address) throw new SecretContentError(`secret ${secretName(secret)} has no 'address' key`);
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new SecretContentError(`secret ${secretName(secret)} key 'address' is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SecretContentError(`secret ${secretName(secret)} key 'address' must be an http or https URL`);
  }
  if (url.username || url.password) {
    throw new SecretContentError(`secret ${secretName(secret)} key 'address' must not carry credentials; use 'username' and 'password'`);
  }
  return { address: url.toString(), username: secret.data.username, password: secret.data.password };
}

export interface Challenge {
  /** Lower-cased: `basic`, `bearer`. */
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a `WWW-Authenticate` header into its challenges (RFC 7235: a scheme, then
 * comma-separated `name=value` or `name="quoted value"` parameters; a new scheme starts a new
 * challenge).
 */
export function parseChallenges(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  let current: Challenge | undefined;
  const re = /\s*,?\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?:\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*)))?/gy;
  let m: RegExpExecArray | null;
  while (re.lastIndex < header.length && (m = re.exec(header)) !== null) {
    if (m[0] === '') break;
    const [, token = '', quoted, bare] = m;
    if (quoted === undefined && bare === undefined) {
      // A scheme: `Bearer realm=…` has a space after it, not `=`.
      current = { scheme: token.toLowerCase(), params: {} };
      challenges.push(current);
    } else if (current) {
      current.params[token.toLowerCase()] = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : (bare ?? '');
    }
  }
  return challenges;
}
