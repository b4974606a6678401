/**
 * The heavy SDKs (gRPC Pub/Sub, Azure Event Hubs, NATS, OpenTelemetry) are not loaded with the
 * adapters, only once a Provider of their type needs them: startup time and idle memory do not
 * pay for Providers that do not exist. In its own file: each test file runs in a fresh process.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { adapterFor } from '../../providers/registry.js';
import { testProviderConfig } from '../support/provider-config.js';

const SDKS = ['@google-cloud/pubsub', '@azure/event-hubs', 'nats', '@opentelemetry/otlp-transformer', '@opentelemetry/resources'];

function loadedSdks(): string[] {
  const files = Object.keys(createRequire(import.meta.url).cache);
  return SDKS.filter((sdk) => files.some((file) => file.includes(`/node_modules/${sdk}/`)));
}

describe('heavy SDKs', () => {
  it('are not loaded with the adapters, only by a Provider of their type', () => {
    for (const type of ['googlepubsub', 'azureeventhub', 'nats', 'otel']) expect(adapterFor(type)?.type).toBe(type);
    expect(loadedSdks()).toEqual([]);

    // A nats Provider's credentials are checked with the SDK when it is resolved.
    const nats = adapterFor('nats');
    expect(nats?.prepare(testProviderConfig({ type: 'nats', address: 'nats://127.0.0.1:4222', channel: 'subject' }))).toMatchObject({ ok: true });
    expect(loadedSdks()).toEqual(['nats']);
  });
});
