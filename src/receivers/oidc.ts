/**
 * `generic-oidc` Receivers (Flux v1.9): a bearer ID token from one of `spec.oidcProviders`,
 * picked by its `iss`, checked against that issuer's published keys (OIDC discovery), its
 * audience (default `notification-controller`) and expiry; then the provider's CEL
 * `variables` are evaluated in order and every `validations` expression must be true.
 */
import { compileClaimsValidation, compileClaimsVariable, filterErrorMessage, type CompiledExpression, type ResourceFilter } from './filter.js';
import { IdTokenError, bearerToken, fetchJsonDocument, remoteSigningKeys, unverifiedClaims, verifiedClaims, type SigningKeys } from './id-token.js';
import { DEFAULT_OIDC_AUDIENCE, type OIDCProvider } from './types.js';

export interface OidcIssuer {
  keys: SigningKeys;
  /** The signing algorithms the issuer announces (of those Herald verifies: RS256, ES256). */
  algorithms: string[];
}

export interface OidcIssuers {
  /** The issuer's keys, found by OIDC discovery; rejects when the issuer cannot be discovered. */
  issuer(issuerURL: string): Promise<OidcIssuer>;
}

const SUPPORTED_ALGORITHMS = ['RS256', 'ES256'];
/** Issuers kept at most: they come from Receivers' specs, so this is far above any real count. */
const MAX_ISSUERS = 100;
const DISCOVERY_TTL_MS = 60 * 60_000;

/**
 * Discovery as go-oidc does it: `<issuer>/.well-known/openid-configuration`, whose `issuer` must
 * be the configured URL exactly, and whose `jwks_uri` holds the keys. Cached per issuer for an
 * hour; a failed discovery is not cached.
 */
export function discoveredIssuers(fetchImpl: typeof fetch = fetch, now = () => Date.now()): OidcIssuers {
  const cache = new Map<string, { at: number; issuer: Promise<OidcIssuer> }>();
  const discover = async (issuerURL: string): Promise<OidcIssuer> => {
    const url = `${issuerURL.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const document = ((await fetchJsonDocument(url, fetchImpl, "issuer's discovery document")) ?? {}) as {
      issuer?: unknown;
      jwks_uri?: unknown;
      id_token_signing_alg_values_supported?: unknown;
    };
    if (document.issuer !== issuerURL) throw new IdTokenError("the issuer's discovery document names another issuer");
    if (typeof document.jwks_uri !== 'string') throw new IdTokenError("the issuer's discovery document has no jwks_uri");
    const announced = Array.isArray(document.id_token_signing_alg_values_supported) ? document.id_token_signing_alg_values_supported : ['RS256'];
    const algorithms = SUPPORTED_ALGORITHMS.filter((a) => announced.includes(a));
    return { keys: remoteSigningKeys(document.jwks_uri, fetchImpl, now), algorithms };
  };
  return {
    issuer(issuerURL) {
      const hit = cache.get(issuerURL);
      if (hit && now() - hit.at < DISCOVERY_TTL_MS) return hit.issuer;
      const issuer = discover(issuerURL);
      cache.delete(issuerURL);
      cache.set(issuerURL, { at: now(), issuer });
      while (cache.size > MAX_ISSUERS) cache.delete(cache.keys().next().value as string);
      issuer.catch(() => cache.delete(issuerURL));
      return issuer;
    },
  };
}

interface ClaimsProcessor {
  variables: { name: string; expression: Extract<CompiledExpression, { ok: true }> }[];
  validations: { filter: ResourceFilter; message: string }[];
}

const processors = new WeakMap<OIDCProvider, ClaimsProcessor>();

/** The provider's expressions compiled, or the first that does not compile (named as Flux names it). */
export function compileOidcProvider(provider: OIDCProvider): { ok: true; processor: ClaimsProcessor } | { ok: false; error: string } {
  const cached = processors.get(provider);
  if (cached) return { ok: true, processor: cached };
  const processor: ClaimsProcessor = { variables: [], validations: [] };
  for (const variable of provider.variables ?? []) {
    const compiled = compileClaimsVariable(variable.expression);
    if (!compiled.ok) return { ok: false, error: `invalid expression for variable ${JSON.stringify(variable.name)}: ${compiled.error}` };
    processor.variables.push({ name: variable.name, expression: compiled });
  }
  for (const validation of provider.validations) {
    const compiled = compileClaimsValidation(validation.expression);
    if (!compiled.ok) return { ok: false, error: `invalid expression for validation ${JSON.stringify(validation.message)}: ${compiled.error}` };
    processor.validations.push({ filter: compiled.filter, message: validation.message });
  }
  processors.set(provider, processor);
  return { ok: true, processor };
}

function audienceMatches(aud: unknown, expected: string): boolean {
  return aud === expected || (Array.isArray(aud) && aud.includes(expected));
}

/** The verified token's claims, or an `IdTokenError` saying which check failed (no claim's value). */
export async function verifyOidcToken(authorization: string, providers: readonly OIDCProvider[], issuers: OidcIssuers, nowMs: number): Promise<Record<string, unknown>> {
  const token = bearerToken(authorization);
  const iss = unverifiedClaims(token).iss;
  if (typeof iss !== 'string' || iss === '') throw new IdTokenError("the token is missing the 'iss' claim");
  const provider = providers.find((p) => p.issuerURL === iss);
  if (!provider) throw new IdTokenError("no oidcProvider is configured for the token's issuer");
  const { keys, algorithms } = await issuers.issuer(provider.issuerURL);
  const claims = await verifiedClaims(token, keys, algorithms, nowMs);
  if (claims.iss !== provider.issuerURL) throw new IdTokenError("the token's issuer is not the provider's issuerURL");
  if (!audienceMatches(claims.aud, provider.audience || DEFAULT_OIDC_AUDIENCE)) throw new IdTokenError("the token's audience is not the provider's audience");

  const compiled = compileOidcProvider(provider);
  if (!compiled.ok) throw new Error(`oidcProvider does not compile: ${compiled.error}`);
  const vars: Record<string, unknown> = {};
  for (const variable of compiled.processor.variables) {
    try {
      vars[variable.name] = variable.expression.evaluate({ claims, vars });
    } catch (error) {
      throw new IdTokenError(`failed to evaluate variable ${JSON.stringify(variable.name)}: ${filterErrorMessage(error)}`);
    }
  }
  const failures: string[] = [];
  for (const validation of compiled.processor.validations) {
    let ok: boolean;
    try {
      ok = validation.filter({ claims, vars });
    } catch (error) {
      throw new IdTokenError(`failed to evaluate validation: ${filterErrorMessage(error)}`);
    }
    if (!ok) failures.push(validation.message);
  }
  if (failures.length > 0) throw new IdTokenError(`token validation failed: ${failures.join('; ')}`);
  return claims;
}
