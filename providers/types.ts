/**
 * The contract between Herald's delivery pipeline and a provider adapter.
 *
 * An adapter prepares a resolved provider configuration once, then turns each event into
 * outbound requests sent through the shared HTTP layer. It does formatting only: no retries, no queueing,
 * no metrics. It signals failure by throwing; `DeliveryError` from `./http.js` says whether
 * the pipeline may retry and when.
 */
import type { FluxEvent } from '../src/events/event.js';
import type { AlertSpec, ProviderSpec } from '../src/api/types.js';
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

/** The Alert a notification went through (`metadata.uid` is empty for one from the manifests directory). */
export interface AlertIdentity {
  namespace: string;
  name: string;
  uid: string;
  /** The Alert's spec, when the store still has it (`spec.commitStatusExpr` may read `alert.spec`). */
  spec?: AlertSpec;
}

export interface SendContext<P = unknown> {
  config: ProviderConfig;
  /** What the adapter's `prepare` returned for this configuration. */
  prepared: P;
  /** The shared HTTP layer, already set up with this provider's timeout, proxy, TLS and masking. */
  http: HttpClient;
  /** The Alert that matched, for adapters that report it (`otel`'s resource and trace id). */
  alert?: AlertIdentity;
}

/** `prepare`'s answer: the prepared value, or a problem naming the bad field. */
export type Preparation<P> = { ok: true; prepared: P } | { ok: false; problem: string };

/** A usable configuration, prepared. */
export function prepared<P>(value: P): Preparation<P> {
  return { ok: true, prepared: value };
}

/** An unusable configuration: `problem` names the field (the Provider becomes not Ready with it). */
export function problem(text: string): { ok: false; problem: string } {
  return { ok: false, problem: text };
}

/**
 * Every failed check of a configuration as one problem, separated by `; ` (each check is its
 * problem text, or false when it passed); undefined when all passed. A user fixes them all at once.
 */
export function allProblems(...checks: (string | false)[]): { ok: false; problem: string } | undefined {
  const found = checks.filter((check): check is string => typeof check === 'string' && check !== '');
  return found.length > 0 ? problem(found.join('; ')) : undefined;
}

/**
 * The contract in three sentences: `prepare` runs once per Provider version (when the store
 * resolves it), checks the configuration and turns it into whatever `send` needs (URLs,
 * headers, parsed coordinates), or names the bad field. `send` formats one event and sends it
 * through `ctx.http` using `ctx.prepared`, without re-checking the configuration. It signals
 * failure by throwing (`DeliveryError` says whether another attempt may succeed).
 */
export interface ProviderAdapter<P = unknown> {
  /** The Flux `spec.type` this adapter serves. */
  readonly type: string;
  /**
   * Commit-status providers receive events marked `<group>/commit_status: update`, and drop
   * events that carry no commit (unless the severity is error), as Flux does.
   */
  readonly commitStatus?: boolean;
  /** Whether the resolved configuration must have an address (default true). */
  readonly requiresAddress?: boolean;
  /** Checks and prepares the resolved configuration, once per Provider version. */
  prepare(config: ProviderConfig): Preparation<P>;
  /** Formats and sends one notification. Resolves when the provider accepted it. */
  send(event: FluxEvent, ctx: SendContext<P>): Promise<void>;
}
