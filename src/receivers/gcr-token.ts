/**
 * The OIDC ID token a Google Pub/Sub push subscription sends (`Authorization: Bearer <jwt>`),
 * checked as Flux checks it: RS256 signature against Google's keys, `aud` equal to the
 * Secret's `audience`, issuer `accounts.google.com`, `email` equal to the Secret's `email`
 * and verified, not expired. The keys come through `SigningKeys`, so tests and air-gapped
 * installs can inject their own JWKS.
 */
import { createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto';

export interface SigningKeys {
  /** The public key with this `kid`, or undefined when the key set has none. */
  keyFor(kid: string): Promise<KeyObject | undefined>;
}

export interface GcrExpectation {
  email: string;
  audience: string;
}

export interface IdTokenVerifier {
  /** Resolves when the token is valid; rejects with an `IdTokenError` (safe to log) otherwise. */
  verify(authorization: string, expected: GcrExpectation): Promise<void>;
}

/** Why a token was refused. The message names the check, never the token or a claim's value. */
export class IdTokenError extends Error {}

const GOOGLE_ISSUERS = new Set(['accounts.google.com', 'https://accounts.google.com']);
export const GOOGLE_JWKS_URL = 'https://www.googleapis.com/oauth2/v3/certs';
/** Leeway on `exp` and `iat` for clocks that disagree a little. */
const CLOCK_SKEW_SECONDS = 30;
/** Google's tokens are a little over 1 KiB; this bounds what is decoded before the signature is checked. */
const MAX_TOKEN_LENGTH = 16 * 1024;

/** A fixed JSON Web Key Set (`{"keys": [...]}`), such as one a test generates. */
export function staticSigningKeys(jwks: { keys: (JsonWebKey & { kid?: string })[] }): SigningKeys {
  const byKid = new Map<string, KeyObject>();
  for (const jwk of jwks.keys) if (jwk.kid) byKid.set(jwk.kid, createPublicKey({ key: jwk, format: 'jwk' }));
  return { keyFor: async (kid) => byKid.get(kid) };
}

/**
 * Google's published keys, fetched on first use and again when a `kid` is unknown, at most
 * once a minute (keys rotate every few days and overlap, so a fresh copy finds a new kid).
 */
export function remoteSigningKeys(url = GOOGLE_JWKS_URL, fetchImpl: typeof fetch = fetch, now = () => Date.now()): SigningKeys {
  let keys: SigningKeys | undefined;
  let fetchedAt = -Infinity;
  const refresh = async () => {
    fetchedAt = now();
    const response = await fetchImpl(url, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new IdTokenError(`fetching the signing keys answered ${response.status}`);
    keys = staticSigningKeys((await response.json()) as { keys: JsonWebKey[] });
  };
  return {
    keyFor: async (kid) => {
      if (!keys || now() - fetchedAt > 60_000) {
        const known = await keys?.keyFor(kid);
        if (known) return known;
        await refresh();
      }
      return keys?.keyFor(kid);
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

export function googleIdTokenVerifier(keys: SigningKeys, now = () => Date.now()): IdTokenVerifier {
  return {
    async verify(authorization, expected) {
      const prefix = 'Bearer ';
      if (!authorization.startsWith(prefix)) throw new IdTokenError('the Authorization header is missing or malformed');
      const token = authorization.slice(prefix.length);
      if (token.length > MAX_TOKEN_LENGTH) throw new IdTokenError('the token is too long');
      const parts = token.split('.');
      if (parts.length !== 3) throw new IdTokenError('the token is not a JWT');
      const [headerPart, claimsPart, signaturePart] = parts as [string, string, string];
      const header = decodeSegment(headerPart, 'header');
      if (header.alg !== 'RS256') throw new IdTokenError('the token is not signed with RS256');
      const key = typeof header.kid === 'string' ? await keys.keyFor(header.kid) : undefined;
      if (!key) throw new IdTokenError("the token's signing key is not one of the issuer's keys");
      const signed = Buffer.from(`${headerPart}.${claimsPart}`, 'ascii');
      if (!verify('RSA-SHA256', signed, key, Buffer.from(signaturePart, 'base64url'))) {
        throw new IdTokenError("the token's signature is invalid");
      }
      const claims = decodeSegment(claimsPart, 'claims');
      const nowSeconds = now() / 1000;
      if (typeof claims.exp !== 'number' || nowSeconds > claims.exp + CLOCK_SKEW_SECONDS) throw new IdTokenError('the token has expired');
      if (typeof claims.iat === 'number' && claims.iat > nowSeconds + CLOCK_SKEW_SECONDS) throw new IdTokenError('the token is issued in the future');
      if (claims.aud !== expected.audience) throw new IdTokenError("the token's audience is not the Secret's 'audience'");
      if (typeof claims.iss !== 'string' || !GOOGLE_ISSUERS.has(claims.iss)) throw new IdTokenError('the token is not issued by accounts.google.com');
      if (claims.email !== expected.email) throw new IdTokenError("the token's email is not the Secret's 'email'");
      if (claims.email_verified !== true) throw new IdTokenError("the token's email is not verified");
    },
  };
}
