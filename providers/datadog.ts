/**
 * `datadog`: a Datadog event (v1 Events API, `POST <scheme>://<host>/api/v1/events`; only the
 * scheme and host of the address are used, as Datadog's client does) with the API key from the
 * Secret's `token` in the `DD-API-KEY` header. Title `Events from the <Kind> <name>/<namespace>`,
 * text the message, `source_type_name: fluxcd`, `date_happened` in seconds, `alert_type`
 * `error` or `info`, and lower-cased tags: `flux_reporting_controller`, `flux_reason`,
 * `kube_kind`, `kube_name`, `kube_namespace`, then `key:value` per metadata key. Datadog's
 * client writes the body's fields in alphabetical order.
 */
import type { FluxEvent } from '../src/events/event.js';
import { isError, sendGoJson, sortedMetadata, unixSeconds } from './chat-format.js';
import { prepared, problem, type ProviderAdapter } from './types.js';

export function datadogEventsUrl(address: string): string {
  const url = new URL(address);
  return `${url.protocol}//${url.host}/api/v1/events`;
}

export function datadogPayload(event: FluxEvent): Record<string, unknown> {
  const { kind, name, namespace = '' } = event.involvedObject;
  const tags = [
    `flux_reporting_controller:${event.reportingController ?? ''}`,
    `flux_reason:${event.reason ?? ''}`,
    `kube_kind:${kind}`,
    `kube_name:${name}`,
    `kube_namespace:${namespace}`,
    ...sortedMetadata(event).map(([key, value]) => `${key}:${value}`),
  ].map((tag) => tag.toLowerCase());
  return {
    alert_type: isError(event) ? 'error' : 'info',
    date_happened: unixSeconds(event),
    source_type_name: 'fluxcd',
    tags,
    text: event.message,
    title: `Events from the ${kind} ${name}/${namespace}`,
  };
}

export const datadog: ProviderAdapter<{ url: string; headers: Record<string, string> }> = {
  type: 'datadog',
  prepare(config) {
    if (!config.token) return problem('datadog needs the Datadog API key in the `token` key of spec.secretRef');
    return prepared({ url: datadogEventsUrl(config.address), headers: { accept: 'application/json', 'dd-api-key': config.token } });
  },
  async send(event, { prepared: { url, headers }, http }) {
    await sendGoJson(http, url, datadogPayload(event), headers);
  },
};
