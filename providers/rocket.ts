/**
 * `rocket`: Rocket.Chat incoming webhook, posted to the address as a Slack attachment message
 * (Rocket.Chat accepts Slack's format). Colour `#0076D7` for info and `#FF0000` for errors,
 * author `kind/name.namespace`, one field per metadata key; `channel` and `username` from the
 * spec (or the Secret's `username`), sent even when empty, as Flux does (no default username).
 */
import { isError, sendGoJson, slackStylePayload } from './chat-format.js';
import type { ProviderAdapter } from './types.js';

export const rocket: ProviderAdapter = {
  type: 'rocket',
  async send(event, { config, http }) {
    const payload = slackStylePayload(event, {
      channel: config.channel,
      username: config.username,
      color: isError(event) ? '#FF0000' : '#0076D7',
    });
    await sendGoJson(http, config.address, payload);
  },
};
