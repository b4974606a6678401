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
 * The request bodies are typed with `@pagerduty/pdjs`'s Events API v2 types (Flux leaves the
 * payload out of `resolve` and sends change events without links, so those fields are optional
 * here). Sending stays on the shared HTTP layer: pdjs's sender retries a 429 three times, 20
 * seconds apart, ignoring `Retry-After`; it always calls `https://<server>`; and its timeout
 * option does nothing. Herald's queue decides retries (with `Retry-After`), and the configured
 * timeout, proxy, CA, masking and plain-http addresses all apply.
 */
import type { ChangePayload, EventPayloadV2, Severity } from '@pagerduty/pdjs/build/src/events.js';
import type { FluxEvent } from '../src/events/event.js';
import { isCommitStatusUpdate, rfc3339 } from './chat-format.js';
import { goSortedKeys } from '../src/events/wire.js';
import { PROGRESSING_REASON, statusDescription, statusName } from './commit-status/shared.js';
import { allProblems, prepared, type ProviderAdapter } from './types.js';

/** `scheme://host[:port]` of the address, or undefined when it is not an absolute URL. */
export function pagerDutyEndpoint(address: string): string | undefined {
  try {
    const url = new URL(address);
    return url.host ? `${url.protocol}//${url.host}` : undefined;
  } catch {
    return undefined;
  }
}

/** An alert event as Flux sends it: `resolve` carries no payload. */
export type PagerDutyAlertEvent = Omit<EventPayloadV2, 'payload'> & { payload?: EventPayloadV2['payload'] };
/** A change event as Flux sends it: without links. */
export type PagerDutyChangeEvent = Omit<ChangePayload, 'links'>;

/** What Flux calls `toPagerDutySeverity`: error stays error, info and trace become info. */
function pagerDutySeverity(severity: string): Severity {
  return severity === 'info' || severity === 'trace' ? 'info' : 'error';
}

function summary(event: FluxEvent): string {
  return `${statusDescription(event)}: ${statusName(event)}`;
}

/** `message` and `metadata` (keys sorted, as Go marshals a map; null when the event has none). */
function customDetails(event: FluxEvent): { message: string; metadata: Record<string, string | undefined> | null } {
  const metadata = event.metadata;
  const sorted = metadata ? Object.fromEntries(goSortedKeys(Object.keys(metadata)).map((k) => [k, metadata[k]])) : null;
  return { message: event.message, metadata: sorted };
}

export function pagerDutyAlertEvent(event: FluxEvent, routingKey: string): PagerDutyAlertEvent {
  const body: PagerDutyAlertEvent = { routing_key: routingKey, event_action: 'resolve' };
  if (event.involvedObject.uid) body.dedup_key = event.involvedObject.uid;
  if (event.severity === 'error') {
    body.event_action = 'trigger';
    // Field order is the JSON order: Flux's (Go struct) order.
    body.payload = {
      summary: summary(event),
      source: `Flux ${event.reportingController ?? ''}`,
      severity: pagerDutySeverity(event.severity),
      timestamp: rfc3339(event),
      component: event.involvedObject.name || undefined,
      group: event.involvedObject.kind || undefined,
      custom_details: customDetails(event),
    };
  }
  return body;
}

export function pagerDutyChangeEvent(event: FluxEvent, routingKey: string): PagerDutyChangeEvent {
  return {
    routing_key: routingKey,
    payload: {
      summary: summary(event),
      source: `Flux ${event.reportingController ?? ''}`,
      timestamp: rfc3339(event),
      custom_details: customDetails(event),
    },
  };
}

export const pagerduty: ProviderAdapter<{ alertUrl: string; changeUrl: string; routingKey: string }> = {
  type: 'pagerduty',
  prepare(config) {
    const endpoint = pagerDutyEndpoint(config.address);
    const bad = allProblems(
      !config.channel && 'pagerduty needs the integration (routing) key in spec.channel',
      !endpoint && 'pagerduty needs an http(s) URL in spec.address',
    );
    if (bad) return bad;
    // Set: its absence is one of the problems above.
    const base = endpoint!;
    return prepared({ alertUrl: `${base}/v2/enqueue`, changeUrl: `${base}/v2/change/enqueue`, routingKey: config.channel });
  },
  async send(event, { prepared: { alertUrl, changeUrl, routingKey }, http }) {
    if (event.reason === PROGRESSING_REASON || isCommitStatusUpdate(event)) return;
    await http.send({ url: alertUrl, json: pagerDutyAlertEvent(event, routingKey) });
    if (event.severity === 'info') await http.send({ url: changeUrl, json: pagerDutyChangeEvent(event, routingKey) });
  },
};
