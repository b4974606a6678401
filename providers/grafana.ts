/**
 * `grafana`: an annotation POSTed to the Grafana annotations API (the address,
 * `.../api/annotations`) in the Graphite format: `when`, `text` = `kind/name.namespace`, and
 * tags `flux`, the reporting controller, `key: value` per metadata key (`:` inside keys and
 * values replaced by `|`), then `kind: …`, `name: …`, `namespace: …`.
 *
 * `when` is the event time in whole seconds, exactly as Flux sends it (Grafana documents
 * milliseconds; Flux's value is kept so dashboards behave the same as with Flux).
 * Auth: `token` as a Bearer header; otherwise `username` + `password` as Basic auth.
 */
import { basicAuth } from './http.js';
import type { FluxEvent } from '../src/events/event.js';
import { objectTitle, sendGoJson, sortedMetadata, unixSeconds } from './chat-format.js';
import { prepared, type ProviderAdapter } from './types.js';

export function grafanaPayload(event: FluxEvent): Record<string, unknown> {
  const { kind, name, namespace = '' } = event.involvedObject;
  const tags = ['flux', event.reportingController ?? ''];
  for (const [key, value] of sortedMetadata(event)) tags.push(`${key.replaceAll(':', '|')}: ${value.replaceAll(':', '|')}`);
  tags.push(`kind: ${kind}`, `name: ${name}`, `namespace: ${namespace}`);
  return { when: unixSeconds(event), text: objectTitle(event.involvedObject), tags };
}

export const grafana: ProviderAdapter<{ url: string; headers: Record<string, string> }> = {
  type: 'grafana',
  prepare(config) {
    const headers: Record<string, string> = {};
    if (config.token) headers.authorization = `Bearer ${config.token}`;
    else if (config.username && config.password) headers.authorization = basicAuth(config.username, config.password);
    return prepared({ url: config.address, headers });
  },
  async send(event, { prepared: { url, headers }, http }) {
    await sendGoJson(http, url, grafanaPayload(event), headers);
  },
};
