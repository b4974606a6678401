/**
 * `pagerduty`: PagerDuty Events API v2, as Flux's notification-controller sends it.
 *
 * - Endpoint: the scheme and host of `spec.address` (`https://events.pagerduty.com`), plus
 *   `/v2/enqueue` for alert events and `/v2/change/enqueue` for change events.
 * - Routing (integration) key: `spec.channel`. Dedup key: the involved object's UID.
 * - Error events `trigger` an incident with a payload: summary `<description>: <kind>/<name>`
 *   (reason split at camel case, lower-cased; object lower-cased), source
 *   `Flux <reporting controller>`, severity `error`, the event's timestamp, component the
 *   object's name, group its kind, custom details the message and the metadata.
 * - Any other event `resolve`s it (no payload); info events also send a change event with the
 *   same summary, source, timestamp and custom details.
 * - `Progressing` events and events marked `commit_status: update` are skipped.
 *
 * Sent through the shared HTTP layer rather than `@pagerduty/pdjs`: that package always calls
 * `https://<server>` through its own fetch and retry logic, so the configured timeout, proxy,
 * CA, masking and retry classification would not apply (and a plain-http test sink is out).
 */
import type { FluxEvent } from '../src/events/event.js';
import { statusDescription, statusName } from './commit-status.js';
import { DeliveryError } from './http.js';
import type { ProviderAdapter } from './types.js';

const PROGRESSING_REASON = 'Progressing';

/** `scheme://host[:port]` of the address, or undefined when it is not an absolute URL. */
export function pagerDutyEndpoint(address: string): string | undefined {
  try {
    const url = new URL(address);
    return url.host ? `${url.protocol}//${url.host}` : undefined;
  } catch {
    return undefined;
  }
}

/** RFC 3339 in UTC with whole seconds, as Go formats the event's time; Go's zero time when absent. */
export function goRfc3339(timestamp: string | undefined): string {
  const millis = timestamp ? Date.parse(timestamp) : Number.NaN;
  if (Number.isNaN(millis)) return '0001-01-01T00:00:00Z';
  return new Date(millis).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** What Flux calls `toPagerDutySeverity`: error stays error, info and trace become info. */
function pagerDutySeverity(severity: string): string {
  return severity === 'info' || severity === 'trace' ? 'info' : 'error';
}

function summary(event: FluxEvent): string {
  return `${statusDescription(event)}: ${statusName(event)}`;
}

/** `message` and `metadata` (keys sorted, as Go marshals a map; null when the event has none). */
function customDetails(event: FluxEvent): Record<string, unknown> {
  const metadata = event.metadata;
  const sorted = metadata ? Object.fromEntries(Object.keys(metadata).sort().map((k) => [k, metadata[k]])) : null;
  return { message: event.message, metadata: sorted };
}

export function pagerDutyAlertEvent(event: FluxEvent, routingKey: string): Record<string, unknown> {
  const body: Record<string, unknown> = { routing_key: routingKey, event_action: 'resolve' };
  if (event.involvedObject.uid) body['dedup_key'] = event.involvedObject.uid;
  if (event.severity === 'error') {
    body['event_action'] = 'trigger';
    const payload: Record<string, unknown> = {
      summary: summary(event),
      source: `Flux ${event.reportingController ?? ''}`,
      severity: pagerDutySeverity(event.severity),
      timestamp: goRfc3339(event.timestamp),
    };
    if (event.involvedObject.name) payload['component'] = event.involvedObject.name;
    if (event.involvedObject.kind) payload['group'] = event.involvedObject.kind;
    payload['custom_details'] = customDetails(event);
    body['payload'] = payload;
  }
  return body;
}

export function pagerDutyChangeEvent(event: FluxEvent, routingKey: string): Record<string, unknown> {
  return {
    routing_key: routingKey,
    payload: {
      summary: summary(event),
      source: `Flux ${event.reportingController ?? ''}`,
      timestamp: goRfc3339(event.timestamp),
      custom_details: customDetails(event),
    },
  };
}

export const pagerduty: ProviderAdapter = {
  type: 'pagerduty',
  validate(config) {
    // The address is already known to be an http(s) URL with a host (the store checks every address).
    return config.channel ? undefined : 'pagerduty needs the integration (routing) key in spec.channel';
  },
  async send(event, { config, http }) {
    if (event.reason === PROGRESSING_REASON || event.metadata?.['commit_status'] === 'update') return;
    const endpoint = pagerDutyEndpoint(config.address);
    if (!endpoint || !config.channel) throw new DeliveryError('pagerduty needs an http(s) spec.address and the routing key in spec.channel', false);

    await http.send({ url: `${endpoint}/v2/enqueue`, json: pagerDutyAlertEvent(event, config.channel) });
    if (event.severity === 'info') {
      await http.send({ url: `${endpoint}/v2/change/enqueue`, json: pagerDutyChangeEvent(event, config.channel) });
    }
  },
};
