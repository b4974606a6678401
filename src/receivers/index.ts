/** Flux's Receivers as one module: what the store, the listeners and main wire in. */
export { DEFAULT_OIDC_AUDIENCE, RECEIVER_TYPES, ReceiverReasons, type OIDCProvider, type Receiver, type ReceiverResource, type ReceiverType, type TargetObject } from './types.js';
export { WEBHOOK_PATH_PREFIX, webhookPath } from './webhook-path.js';
export { RECEIVER_API_VERSIONS, receiverReadiness, validateReceiver, type ReceiverReadiness, type ReceiverValidation } from './validate.js';
export { compileFilter } from './filter.js';
export { memoryTargetResolver, resolveTargets, type TargetRef, type TargetResolver } from './targets.js';
export { GOOGLE_JWKS_URL, googleIdTokenVerifier, googleSigningKeys, type IdTokenVerifier } from './gcr-token.js';
export { IdTokenError, remoteSigningKeys, staticSigningKeys, type SigningKeys } from './id-token.js';
export {
  DEFAULT_RECEIVER_LIMITS, addReceiverRoutes, type ReceiverEntry, type ReceiverLimits, type ReceiverLookup, type ReceiverRoutesDeps,
  type RequestReconcile,
} from './routes.js';
export { RECONCILE_REQUEST_ANNOTATION, kubernetesReceiverTargets, reconcileRequestValue } from './kubernetes.js';
export { discoveredIssuers, type OidcIssuer, type OidcIssuers } from './oidc.js';
export { ReceiverRegistry, type ReceiverStoreView } from './registry.js';
