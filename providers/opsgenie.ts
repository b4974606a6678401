/**
 * `opsgenie`: an Opsgenie alert (`POST https://api.opsgenie.com/v2/alerts`, the address) with
 * `Authorization: GenieKey <token>`. `message` is `Kind/name` (as Flux writes it: kind not
 * lower-cased, no namespace), `description` the event message, `details` the metadata plus
 * `severity`.
 */
import { GoMap, sendGoJson } from './chat-format.js';
import type { ProviderAdapter } from './types.js';

export const opsgenie: ProviderAdapter = {
  type: 'opsgenie',
  validate(config) {
    return config.token ? undefined : 'opsgenie needs the API key in the `token` key of spec.secretRef';
  },
  async send(event, { config, http }) {
    const { kind, name } = event.involvedObject;
    const payload = {
      message: `${kind}/${name}`,
      description: event.message,
      details: new GoMap({ ...event.metadata, severity: event.severity }),
    };
    await sendGoJson(http, config.address, payload, { authorization: `GenieKey ${config.token ?? ''}` });
  },
};
