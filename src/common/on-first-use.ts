/**
 * Packages loaded the first time a path needs them, instead of at startup. The heavy SDKs (Google
 * Pub/Sub with gRPC, Azure Event Hubs, NATS, OpenTelemetry) together cost about a second of
 * startup and 50 MB of memory in every Herald, most of which never has such a Provider; lighter
 * ones still cost each thread that loads them (the main thread and the delivery thread are two
 * V8 isolates, each with its own copy of every module) a few MB it never uses. Loaded with
 * `require`, synchronously, so that an adapter's `prepare` may use them as before; each is a
 * CommonJS package (or has a CommonJS build), so `import` elsewhere gets the same instance, or an
 * ES module without top-level await, which `require` loads from Node 20.19 on (Herald's minimum).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** `specifier`'s exports, loaded on the first call (a load that throws is tried again on the next). */
export function onFirstUse<M>(specifier: string): () => M {
  let loaded: M | undefined;
  return () => (loaded ??= require(specifier) as M);
}
