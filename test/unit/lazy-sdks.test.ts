/**
 * The heavy SDKs (gRPC Pub/Sub, Azure Event Hubs, NATS, OpenTelemetry) are not loaded with the
 * adapters, only once a Provider of their type needs them: startup time and idle memory do not
 * pay for Providers that do not exist. Nor are the packages only some paths need (undici for an
 * HTTP client, which the main thread of a Herald delivering on its own thread never builds;
 * `yaml` for a Secret's headers, in a delivery thread that reads no manifest; cel-js for a CEL
 * expression). In its own file: each test file runs in a fresh process.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { compileStatusIdExpression } from '../../providers/commit-status/expression.js';
import { createHttpClient } from '../../providers/http.js';
import { adapterFor } from '../../providers/registry.js';
import type { Provider, Secret } from '../../src/api/types.js';
import { compileFilter } from '../../src/receivers/filter.js';
import { resolveProviderConfig } from '../../src/resources/provider-config.js';
import { testProviderConfig } from '../support/provider-config.js';

const SDKS = ['@google-cloud/pubsub', '@azure/event-hubs', 'nats', '@opentelemetry/otlp-transformer', '@opentelemetry/resources'];

function loaded(packages: string[]): string[] {
  const files = Object.keys(createRequire(import.meta.url).cache);
  return packages.filter((name) => files.some((file) => file.includes(`/node_modules/${name}/`)));
}

describe('heavy SDKs', () => {
  it('are not loaded with the adapters, only by a Provider of their type', () => {
    for (const type of ['googlepubsub', 'azureeventhub', 'nats', 'otel']) expect(adapterFor(type)?.type).toBe(type);
    expect(loaded(SDKS)).toEqual([]);

    // A nats Provider's credentials are checked with the SDK when it is resolved.
    const nats = adapterFor('nats');
    expect(nats?.prepare(testProviderConfig({ type: 'nats', address: 'nats://127.0.0.1:4222', channel: 'subject' }))).toMatchObject({ ok: true });
    expect(loaded(SDKS)).toEqual(['nats']);
  });
});

describe('packages only some paths need', () => {
  it('undici is loaded by the first HTTP client, yaml by the first Secret with headers', async () => {
    expect(loaded(['undici', 'yaml'])).toEqual([]);

    const provider: Provider = {
      apiVersion: 'notification.toolkit.fluxcd.io/v1beta3',
      kind: 'Provider',
      metadata: { name: 'hook', namespace: 'apps' },
      spec: { type: 'generic', address: 'http://127.0.0.1:9/hook' },
    };
    const secret: Secret = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hook', namespace: 'apps' }, data: { token: 't' } };
    expect(resolveProviderConfig(provider, { secret }, { commitStatus: false }).ok).toBe(true);
    expect(loaded(['yaml'])).toEqual([]);
    const withHeaders: Secret = { ...secret, data: { headers: 'X-Team: platform\n' } };
    const resolved = resolveProviderConfig(provider, { secret: withHeaders }, { commitStatus: false });
    expect(resolved.ok && resolved.resolved.config.headers).toEqual({ 'X-Team': 'platform' });
    expect(loaded(['yaml'])).toEqual(['yaml']);

    expect(loaded(['undici'])).toEqual([]);
    const client = createHttpClient(testProviderConfig({ type: 'generic', address: 'http://127.0.0.1:9/hook' }));
    expect(loaded(['undici'])).toEqual(['undici']);
    await client.close();
  });

  it('cel-js is loaded by the first expression compiled', () => {
    expect(loaded(['@marcbachmann/cel-js'])).toEqual([]);
    expect(compileStatusIdExpression('event.metadata.id').ok).toBe(true);
    expect(loaded(['@marcbachmann/cel-js'])).toEqual(['@marcbachmann/cel-js']);
    // The Receivers' environments are built on the same instance.
    expect(compileFilter("res.metadata.name == 'app'").ok).toBe(true);
  });
});
