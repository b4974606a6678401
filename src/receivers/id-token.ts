/**
 * Signed JWTs (OIDC ID tokens): the key set they are checked against, and the checks every
 * issuer shares (signature, expiry). Failures are `IdTokenError`s whose message names the
 * check, never the token or a claim's value, so they are safe to log.
 */
import { createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';

export class IdTokenError extends Error {}

export interface SigningKeys {
  /** The public key with this `kid`, or undefined when the key set has none. */
  keyFor(kid: string): Promise<KeyObject | undefined>;
}

/** Leeway on `exp`, `nbf` and `iat` for clocks that disagree a little. */
const CLOCK_SKEW_SECONDS = 30;
/** ID tokens are a few KiB at most; this bounds what is decoded before the signature is checked. */
const MAX_TOKEN_LENGTH = 16 * 1024;
/** A fetched key set is reused this long, and fetched again at most this often for an unknown kid. */
const KEYS_REFRESH_MS = 60_000;

/** A fixed JSON Web Key Set (`{"keys": [...]}`), such as one a test generates. */
export function staticSigningKeys(jwks: { keys: (JsonWebKey & { kid?: string })[] }): SigningKeys {
  const byKid = new Map<string, KeyObject>();
  for (const jwk of jwks.keys) {
    if (!jwk.kid || (jwk.kty !== 'RSA' && jwk.kty !== 'EC')) continue;
    byKid.set(jwk.kid, createPublicKey({ key: jwk, format: 'jwk' }));
  }
  return { keyFor: async (kid) => byKid.get(kid) };
}

/** Key sets and discovery documents are a few KiB; a larger answer is refused, not buffered. */
const MAX_DOCUMENT_BYTES = 1024 * 1024;

/** GETs a JSON document of at most 1 MiB within 10 s. */
export async function fetchJsonDocument(url: string, fetchImpl: typeof fetch, what: string): Promise<unknown> {
  const response = await fetchImpl(url, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok || !response.body) throw new IdTokenError(`fetching the ${what} answered ${response.status}`);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > MAX_DOCUMENT_BYTES) throw new IdTokenError(`the ${what} is larger than ${MAX_DOCUMENT_BYTES} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new IdTokenError(`the ${what} is not JSON`);
  }
}

/**
 * A published key set, fetched on first use and again when a `kid` is unknown, at most once a
 * minute (issuers rotate keys with an overlap, so a fresh copy finds the new one). Requests
 * that arrive during a fetch wait for it.
 */
export function remoteSigningKeys(url: string, fetchImpl: typeof fetch = fetch, now = () => Date.now()): SigningKeys {
  let keys: SigningKeys | undefined;
  let fetching: Promise<SigningKeys> | undefined;
  let fetchedAt = -Infinity;
  const refresh = () => {
    fetchedAt = now();
    fetching = fetchJsonDocument(url, fetchImpl, "issuer's signing keys")
      .then((jwks) => {
        const keySet = (jwks as { keys?: unknown } | null)?.keys;
        if (!Array.isArray(keySet)) throw new IdTokenError("the issuer's signing keys are not a JWKS");
        keys = staticSigningKeys({ keys: keySet as JsonWebKey[] });
        return keys;
      })
      .finally(() => {
        fetching = undefined;
      });
    return fetching;
  };
  return {
    keyFor: async (kid) => {
      const known = await keys?.keyFor(kid);
      if (known) return known;
      // From here to refresh() nothing awaits, so a concurrent request sees the fetch in flight.
      if (fetching) return (await fetching).keyFor(kid);
      if (now() - fetchedAt < KEYS_REFRESH_MS) return undefined;
      return (await refresh()).keyFor(kid);
    },
  };
}

function decodeSegment(segment: string, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new IdTokenError(`the token's ${what} is not a base64url JSON object`);
}

/** The bearer token of an `Authorization` header. */
export function bearerToken(authorization: string): string {
  const prefix = 'Bearer ';
  if (!authorization.startsWith(prefix)) throw new IdTokenError('the Authorization header is missing or malformed');
  const token = authorization.slice(prefix.length).trim();
  if (token === '') throw new IdTokenError('the Authorization header is missing a bearer token');
  if (token.length > MAX_TOKEN_LENGTH) throw new IdTokenError('the token is too long');
  return token;
}

/** The claims of a token before any check, to pick the issuer whose keys will check it. */
export function unverifiedClaims(token: string): Record<string, unknown> {
  const parts = token.split('.');
  if (parts.length !== 3) throw new IdTokenError('the token is not a JWT');
  return decodeSegment(parts[1] as string, 'claims');
}

const ALGORITHMS: Readonly<Record<string, { digest: string; dsaEncoding?: 'ieee-p1363' }>> = {
  RS256: { digest: 'sha256' },
  ES256: { digest: 'sha256', dsaEncoding: 'ieee-p1363' },
};

/** The token's claims once its signature (RS256 or ES256, one of `algorithms`) and lifetime check out. */
export async function verifiedClaims(token: string, keys: SigningKeys, algorithms: readonly string[], nowMs: number): Promise<Record<string, unknown>> {
  const parts = token.split('.');
  if (parts.length !== 3) throw new IdTokenError('the token is not a JWT');
  const [headerPart, claimsPart, signaturePart] = parts as [string, string, string];
  const header = decodeSegment(headerPart, 'header');
  const algorithm = typeof header.alg === 'string' && algorithms.includes(header.alg) ? ALGORITHMS[header.alg] : undefined;
  if (!algorithm) throw new IdTokenError(`the token is not signed with ${algorithms.join(' or ')}`);
  const key = typeof header.kid === 'string' ? await keys.keyFor(header.kid) : undefined;
  if (!key) throw new IdTokenError("the token's signing key is not one of the issuer's keys");
  const signed = Buffer.from(`${headerPart}.${claimsPart}`, 'ascii');
  const signature = Buffer.from(signaturePart, 'base64url');
  const valid = algorithm.dsaEncoding
    ? verify(algorithm.digest, signed, { key, dsaEncoding: algorithm.dsaEncoding }, signature)
    : verify(algorithm.digest, signed, key, signature);
  if (!valid) throw new IdTokenError("the token's signature is invalid");
  const claims = decodeSegment(claimsPart, 'claims');
  const now = nowMs / 1000;
  if (typeof claims.exp !== 'number' || now > claims.exp + CLOCK_SKEW_SECONDS) throw new IdTokenError('the token has expired');
  if (typeof claims.nbf === 'number' && claims.nbf > now + CLOCK_SKEW_SECONDS) throw new IdTokenError('the token is not valid yet');
  if (typeof claims.iat === 'number' && claims.iat > now + CLOCK_SKEW_SECONDS) throw new IdTokenError('the token is issued in the future');
  return claims;
}
