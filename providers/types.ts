/**
 * The contract between Herald's delivery pipeline and a provider adapter.
 *
 * An adapter turns (event, resolved provider configuration) into one outbound request and
 * sends it through the shared HTTP layer. It does formatting only: no retries, no queueing,
 * no metrics. It signals failure by throwing; `DeliveryError` from `./http.js` says whether
 * the pipeline may retry and when.
 */
import type { FluxEvent } from '../src/events/event.js';
import type { ProviderSpec } from '../src/api/types.js';
import type { HttpClient } from './contract.js';

/** TLS material from `spec.certSecretRef` (`ca.crt`, `tls.crt`, `tls.key`; legacy `caFile`). */
export interface TlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
}

/**
 * A Provider with everything it references already resolved: the Secret's well-known keys
 * folded in the way Flux folds them (the Secret's `address`, `proxy`, `username` override
 * the spec), the timeout parsed, TLS material read.
 */
export interface ProviderConfig {
  name: string;
  namespace: string;
  /** metadata.uid; commit-status ids use its first dash-separated segment. */
  uid: string;
  type: string;
  address: string;
  channel: string;
  username: string;
  /** Proxy URL, possibly with credentials (never logged). */
  proxy?: string;
  token?: string;
  password?: string;
  /** Extra request headers from the Secret's `headers` key (YAML map). */
  headers: Record<string, string>;
  tls?: TlsMaterial;
  timeoutMs: number;
  /** Every key of the referenced Secret, decoded; for adapters needing more than the common keys. */
  secret: Record<string, string>;
  spec: ProviderSpec;
  /** Values that must never appear in a log line or error message. */
  sensitiveValues: string[];
}

export interface SendContext {
  config: ProviderConfig;
  /** The shared HTTP layer, already set up with this provider's timeout, proxy, TLS and masking. */
  http: HttpClient;
}

export interface ProviderAdapter {
  /** The Flux `spec.type` this adapter serves. */
  readonly type: string;
  /**
   * Commit-status providers receive events marked `<group>/commit_status: update`, and drop
   * events that carry no commit (unless the severity is error), as Flux does.
   */
  readonly commitStatus?: boolean;
  /** Whether the resolved configuration must have an address (default true). */
  readonly requiresAddress?: boolean;
  /**
   * Checks the resolved configuration before any event is sent. Returns a message naming the
   * bad field (the Provider becomes not Ready with it), or undefined when it is usable.
   */
  validate?(config: ProviderConfig): string | undefined;
  /** Formats and sends one notification. Resolves when the provider accepted it. */
  send(event: FluxEvent, ctx: SendContext): Promise<void>;
}
