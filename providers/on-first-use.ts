/**
 * Heavy SDKs (Google Pub/Sub with gRPC, Azure Event Hubs, NATS, OpenTelemetry) loaded the first
 * time a Provider of their type needs them, instead of at startup: together they cost about a
 * second of startup and 50 MB of memory in every Herald, most of which never has such a
 * Provider. Loaded with `require`, synchronously, so that an adapter's `prepare` may use them as
 * before; each is a CommonJS package (or has a CommonJS build).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** `specifier`'s exports, loaded on the first call (a load that throws is tried again on the next). */
export function onFirstUse<M>(specifier: string): () => M {
  let loaded: M | undefined;
  return () => (loaded ??= require(specifier) as M);
}
