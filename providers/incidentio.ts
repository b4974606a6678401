/**
 * `incidentio`: an alert event POSTed to an incident.io HTTP alert source (the address,
 * `https://api.incident.io/v2/alert_events/http/<alert source config id>`) with the alert
 * source's API token as a Bearer header. Error events fire (`status: firing`), all others
 * resolve (`resolved`); the involved object's UID is the deduplication key, so a recovery
 * resolves what a failure fired. Title `kind/name.namespace: Reason`, description the message,
 * metadata the event metadata plus `severity`, `reason` and (when set) `reportingController`.
 * `Progressing` events are skipped, as Flux skips them.
 */
import type { FluxEvent } from '../src/events/event.js';
import { GoMap, isError, objectTitle, sendGoJson } from './chat-format.js';
import { prepared, problem, type ProviderAdapter } from './types.js';

export function incidentioPayload(event: FluxEvent): Record<string, unknown> {
  const reason = event.reason ?? '';
  const metadata: Record<string, string> = { ...event.metadata, severity: event.severity, reason };
  if (event.reportingController) metadata.reportingController = event.reportingController;
  return {
    title: `${objectTitle(event.involvedObject)}: ${reason}`,
    status: isError(event) ? 'firing' : 'resolved',
    deduplication_key: event.involvedObject.uid ?? '',
    // `omitempty` fields in Flux.
    description: event.message || undefined,
    metadata: new GoMap(metadata),
  };
}

export const incidentio: ProviderAdapter<{ url: string; headers: Record<string, string> }> = {
  type: 'incidentio',
  prepare(config) {
    if (!config.token) return problem('incidentio needs the alert source API token in the `token` key of spec.secretRef');
    return prepared({ url: config.address, headers: { authorization: `Bearer ${config.token}` } });
  },
  async send(event, { prepared: { url, headers }, http }) {
    if (event.reason === 'Progressing') return;
    await sendGoJson(http, url, incidentioPayload(event), headers);
  },
};
