/**
 * `opsgenie`: an Opsgenie alert (`POST https://api.opsgenie.com/v2/alerts`, the address) with
 * `Authorization: GenieKey <token>`. `message` is `Kind/name` (as Flux writes it: kind not
 * lower-cased, no namespace), `alias` a stable key for Opsgenie's de-duplication, `description`
 * the event message, `details` the metadata plus `severity`.
 */
import { createHash } from 'node:crypto';
import type { FluxEvent } from '../src/events/event.js';
import { GoMap, sendGoJson } from './chat-format.js';
import { prepared, problem, type ProviderAdapter } from './types.js';

/**
 * Opsgenie collapses alerts with one alias into one incident: as current Flux does, the alias is
 * the hex SHA-256 of `<provider uid>/<kind>/<namespace>/<name>/<reason>`, so repeated events for
 * one object and reason do not page again, while two clusters (two Provider uids) stay apart.
 */
export function opsgenieAlias(providerUid: string, event: FluxEvent): string {
  const { kind, namespace = '', name } = event.involvedObject;
  return createHash('sha256').update(`${providerUid}/${kind}/${namespace}/${name}/${event.reason}`).digest('hex');
}

export const opsgenie: ProviderAdapter<{ url: string; headers: Record<string, string> }> = {
  type: 'opsgenie',
  prepare(config) {
    if (!config.token) return problem('opsgenie needs the API key in the `token` key of spec.secretRef');
    return prepared({ url: config.address, headers: { authorization: `GenieKey ${config.token}` } });
  },
  async send(event, { config, prepared: { url, headers }, http }) {
    const { kind, name } = event.involvedObject;
    const payload = {
      message: `${kind}/${name}`,
      alias: opsgenieAlias(config.uid, event),
      description: event.message,
      details: new GoMap({ ...event.metadata, severity: event.severity }),
    };
    await sendGoJson(http, url, payload, headers);
  },
};
