/**
 * `azureeventhub`: the event, serialised as Flux serialises it (the bytes `generic` sends), sent
 * as one event to an Azure Event Hub with Microsoft's SDK (`@azure/event-hubs`, AMQP 1.0), as
 * Flux's notification-controller sends it: a client per send, one batch of one event, closed.
 *
 * - The address is a SAS connection string (`Endpoint=sb://<namespace>/;SharedAccessKeyName=…;
 *   SharedAccessKey=…;EntityPath=<hub>`; Flux's test for it: it contains `SharedAccessKey`),
 *   usually from the Secret's `address`. The Secret must then have no `token` (Flux refuses
 *   both). `UseDevelopmentEmulator=true` reaches the Event Hubs emulator over plain AMQP.
 * - Not supported, and the Provider is not Ready, saying so: Flux's other modes, a static JWT
 *   in `token` with the hub in the address and the namespace in `spec.channel` (deprecated in
 *   Flux), and workload identity (Herald refuses `spec.serviceAccountName` for every type).
 * - The SDK's own retries are off (`maxRetries: 0`): the queue retries. Everything happens
 *   within the Provider's timeout. `spec.proxy` and `certSecretRef` are not used (Flux does not
 *   use them for Event Hubs either).
 * - Like every Provider, it may not reach Herald's own listeners: the endpoint's address is
 *   resolved and checked before connecting.
 * - Failures are masked; the SDK says whether one is worth retrying (an unauthorised or unknown
 *   hub is not), and an event larger than the hub's maximum message size fails for good.
 */
import type { EventHubProducerClient, parseEventHubConnectionString } from '@azure/event-hubs';
import { DeliveryError } from './http.js';
import { OwnListenerRefused, refuseOwnListenerAt } from './own-listeners.js';
import type { ProviderAdapter, ProviderConfig } from './types.js';
import { onFirstUse } from '../src/common/on-first-use.js';
import { fluxEventJson } from '../src/events/wire.js';

const eventHubsSdk = onFirstUse<typeof import('@azure/event-hubs')>('@azure/event-hubs');

const AMQPS_PORT = 5671;
/** Refusals another attempt cannot fix; the SDK marks some of them retryable (an unauthorised token). */
const PERMANENT_CODES = new Set(['UnauthorizedError', 'MessagingEntityNotFoundError', 'MessageTooLargeError', 'ArgumentError', 'ArgumentOutOfRangeError']);
const AMQP_PORT = 5672;

interface SasTarget {
  host: string;
  port: number;
}

/** Flux's test for SAS authentication. */
export function isSasConnectionString(address: string): boolean {
  return address.includes('SharedAccessKey');
}

/** The endpoint a SAS connection string leads to; a string names what is wrong (never a value). */
export function sasTarget(address: string): SasTarget | string {
  let parsed: ReturnType<typeof parseEventHubConnectionString>;
  try {
    parsed = eventHubsSdk().parseEventHubConnectionString(address);
  } catch {
    return 'the address is not an Event Hubs connection string (Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…;EntityPath=…)';
  }
  if (!parsed.eventHubName) return 'the Event Hubs connection string has no EntityPath (the event hub)';
  if (!parsed.sharedAccessKeyName || !parsed.sharedAccessKey) return 'the Event Hubs connection string needs SharedAccessKeyName and SharedAccessKey';
  let url: URL;
  try {
    url = new URL(parsed.endpoint);
  } catch {
    return 'the Endpoint of the Event Hubs connection string is not a URL';
  }
  const port = url.port ? Number(url.port) : parsed.useDevelopmentEmulator ? AMQP_PORT : AMQPS_PORT;
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port };
}

function problem(config: ProviderConfig): string | undefined {
  if (!config.address) return "no address: set the Event Hubs connection string in the 'address' key of the Secret named by spec.secretRef";
  if (!isSasConnectionString(config.address)) {
    return 'azureeventhub: only SAS connection strings are supported by Herald (an address with SharedAccessKey); static JWT tokens (deprecated in Flux) and workload identity are not';
  }
  if (config.token) return 'azureeventhub: a `token` in spec.secretRef and SAS authentication cannot be set at the same time';
  const target = sasTarget(config.address);
  return typeof target === 'string' ? target : undefined;
}

function classify(err: unknown, mask: (text: string) => string, timeoutMs: number, signal: AbortSignal): DeliveryError {
  if (err instanceof DeliveryError) return err;
  if (err instanceof OwnListenerRefused) return new DeliveryError(err.message, false);
  if (signal.aborted) return new DeliveryError(`azureeventhub: timed out after ${timeoutMs}ms`, true);
  const { code, retryable } = (err ?? {}) as { code?: unknown; retryable?: unknown };
  const text = err instanceof Error ? err.message : String(err);
  const prefix = typeof code === 'string' ? `${code} ` : '';
  const permanent = retryable === false || (typeof code === 'string' && PERMANENT_CODES.has(code));
  return new DeliveryError(mask(`azureeventhub: ${prefix}${text}`), !permanent);
}

export const azureeventhub: ProviderAdapter<SasTarget> = {
  type: 'azureeventhub',
  // The address is a connection string, not a URL: checked here instead.
  requiresAddress: false,
  prepare(config) {
    const invalid = problem(config);
    return invalid ? { ok: false, problem: invalid } : { ok: true, prepared: sasTarget(config.address) as SasTarget };
  },
  async send(event, { config, prepared: target, http }) {
    const signal = AbortSignal.timeout(config.timeoutMs);
    let client: EventHubProducerClient | undefined;
    try {
      await refuseOwnListenerAt(target.host, target.port);
      client = new (eventHubsSdk().EventHubProducerClient)(config.address, { retryOptions: { maxRetries: 0, timeoutInMs: config.timeoutMs } });
      const batch = await client.createBatch({ abortSignal: signal });
      if (!batch.tryAdd({ body: Buffer.from(fluxEventJson(event), 'utf8') })) {
        throw new DeliveryError(`azureeventhub: the event is larger than the hub's maximum message size (${batch.maxSizeInBytes} bytes)`, false);
      }
      await client.sendBatch(batch, { abortSignal: signal });
    } catch (err) {
      throw classify(err, http.mask, config.timeoutMs, signal);
    } finally {
      await client?.close().catch(() => undefined);
    }
  },
};
