/**
 * The OIDC ID token a Google Pub/Sub push subscription sends (`Authorization: Bearer <jwt>`),
 * checked as Flux checks it: RS256 signature against Google's keys, `aud` equal to the
 * Secret's `audience`, issuer `accounts.google.com`, `email` equal to the Secret's `email`
 * and verified, not expired. The keys come through `SigningKeys`, so tests and air-gapped
 * installs can inject their own JWKS.
 */
import { IdTokenError, bearerToken, remoteSigningKeys, verifiedClaims, type SigningKeys } from './id-token.js';

export { IdTokenError, staticSigningKeys, type SigningKeys } from './id-token.js';

export interface GcrExpectation {
  email: string;
  audience: string;
}

export interface IdTokenVerifier {
  /** Resolves when the token is valid; rejects with an `IdTokenError` (safe to log) otherwise. */
  verify(authorization: string, expected: GcrExpectation): Promise<void>;
}

const GOOGLE_ISSUERS = new Set(['accounts.google.com', 'https://accounts.google.com']);
export const GOOGLE_JWKS_URL = 'https://www.googleapis.com/oauth2/v3/certs';

/** Google's published keys. */
export function googleSigningKeys(fetchImpl: typeof fetch = fetch): SigningKeys {
  return remoteSigningKeys(GOOGLE_JWKS_URL, fetchImpl);
}

export function googleIdTokenVerifier(keys: SigningKeys, now = () => Date.now()): IdTokenVerifier {
  return {
    async verify(authorization, expected) {
      const claims = await verifiedClaims(bearerToken(authorization), keys, ['RS256'], now());
      if (claims.aud !== expected.audience) throw new IdTokenError("the token's audience is not the Secret's 'audience'");
      if (typeof claims.iss !== 'string' || !GOOGLE_ISSUERS.has(claims.iss)) throw new IdTokenError('the token is not issued by accounts.google.com');
      if (claims.email !== expected.email) throw new IdTokenError("the token's email is not the Secret's 'email'");
      if (claims.email_verified !== true) throw new IdTokenError("the token's email is not verified");
    },
  };
}
