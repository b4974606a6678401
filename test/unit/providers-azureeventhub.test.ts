/**
 * `azureeventhub` through Microsoft's SDK against an AMQP 1.0 stand-in for an Event Hubs
 * namespace (no emulator runs here): the SAS token is checked with the namespace's key and the
 * event's bytes are read back out of the batch the SDK sends.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { azureeventhub } from '../../providers/azureeventhub.js';
import { createHttpClient } from '../../providers/http.js';
import { setOwnListeners } from '../../providers/own-listeners.js';
import type { ProviderConfig } from '../../providers/types.js';
import { fluxEventJson } from '../../src/events/wire.js';
import { failureOf, trickyEvent, problemOf, preparedOf } from '../support/adapter-harness.js';
import { startEventHubsStandIn, type EventHubsStandIn } from '../support/event-hubs-stand-in.js';
import { testProviderConfig } from '../support/provider-config.js';

const KEY = 'c2FzLWtleS1mb3ItZmx1eA==';
let hubs: EventHubsStandIn;
beforeAll(async () => {
  hubs = await startEventHubsStandIn({ keys: { RootManageSharedAccessKey: KEY }, hubs: ['flux-events'] });
});
afterAll(async () => {
  await hubs?.close();
});
beforeEach(() => {
  hubs.events.length = 0;
  hubs.tokens.length = 0;
});

function config(overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  const address = overrides.address ?? hubs.connectionString();
  const cfg = testProviderConfig({ type: 'azureeventhub', address, timeoutMs: 5_000, ...overrides });
  // As from a Secret: the whole connection string is secret.
  cfg.sensitiveValues.push(address, KEY);
  return cfg;
}

async function send(cfg: ProviderConfig, event = trickyEvent()): Promise<void> {
  const http = createHttpClient(cfg);
  try {
    await azureeventhub.send(event, { config: cfg, prepared: preparedOf(azureeventhub, cfg), http });
  } finally {
    await http.close();
  }
}

describe('azureeventhub adapter', () => {
  it('sends the event, as Flux serialises it, as one event to the hub, authenticated with a valid SAS token', async () => {
    const event = trickyEvent();
    await send(config(), event);
    expect(hubs.events).toEqual([{ hub: 'flux-events', body: Buffer.from(fluxEventJson(event), 'utf8') }]);
    expect(hubs.tokens.length).toBeGreaterThan(0);
    expect(hubs.tokens.every((t) => t.verified && t.keyName === 'RootManageSharedAccessKey')).toBe(true);
    expect(hubs.tokens[0]!.resource).toBe(`sb://127.0.0.1:${hubs.port}/flux-events`);
  });

  it('a wrong key is refused by the hub: no retry, and neither key nor connection string in the error', async () => {
    const address = hubs.connectionString({ key: 'd3Jvbmcta2V5LXZhbHVl' });
    const err = await failureOf(send(config({ address, sensitiveValues: [address, 'd3Jvbmcta2V5LXZhbHVl'] })));
    expect(hubs.tokens.some((t) => !t.verified)).toBe(true);
    expect(err.message).toMatch(/UnauthorizedError/);
    expect(err.retryable).toBe(false);
    expect(err.message).not.toContain('d3Jvbmcta2V5LXZhbHVl');
    expect(hubs.events).toHaveLength(0);
  });

  it('an unknown hub fails for good', async () => {
    const err = await failureOf(send(config({ address: hubs.connectionString({ hub: 'no-such-hub' }) })));
    expect(err.retryable).toBe(false);
    expect(hubs.events).toHaveLength(0);
  });

  it('a namespace that refuses connections is retried by the queue: at once, not by the SDK within the timeout', async () => {
    const address = `Endpoint=sb://127.0.0.1:1;SharedAccessKeyName=k;SharedAccessKey=${KEY};EntityPath=flux-events;UseDevelopmentEmulator=true`;
    const started = Date.now();
    const err = await failureOf(send(config({ address, timeoutMs: 4_000 })));
    expect(err.retryable).toBe(true);
    expect(err.message).not.toContain(KEY);
    // The SDK's own retries would wait seconds between attempts, up to the timeout.
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('refuses a namespace that is one of Herald’s own listeners', async () => {
    setOwnListeners([{ flag: 'events-addr', host: '127.0.0.1', port: hubs.port }]);
    try {
      const err = await failureOf(send(config()));
      expect(err.retryable).toBe(false);
      expect(err.message).toMatch(/--events-addr/);
      expect(hubs.tokens).toHaveLength(0);
    } finally {
      setOwnListeners([]);
    }
  });

  it('validate: a SAS connection string with its hub, and no token beside it; the JWT mode is refused', () => {
    expect(problemOf(azureeventhub, config())).toBeUndefined();
    expect(problemOf(azureeventhub, config({ token: 'eyJ0eXAiOiJKV1QifQ.e30.sig' }))).toMatch(/cannot be set at the same time/);
    expect(problemOf(azureeventhub, config({ address: 'flux-events', channel: 'my-namespace', token: 'eyJ.e30.sig' }))).toMatch(
      /only SAS connection strings are supported.*static JWT/,
    );
    expect(problemOf(azureeventhub, config({ address: `Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=${KEY}` }))).toMatch(/no EntityPath/);
    expect(problemOf(azureeventhub, config({ address: '' }))).toMatch(/^no address/);
  });
});
