/**
 * `rocket`: Rocket.Chat incoming webhook, posted to the address as a Slack attachment message
 * (Rocket.Chat accepts Slack's format). Colour `#0076D7` for info and `#FF0000` for errors,
 * author `kind/name.namespace`, one field per metadata key; `channel` and `username` from the
 * spec (or the Secret's `username`), sent even when empty, as Flux does (no default username).
 */
import { isError, sendGoJson, slackStylePayload } from './chat-format.js';
import { prepared, type ProviderAdapter } from './types.js';

export const rocket: ProviderAdapter<{ url: string; channel: string; username: string }> = {
  type: 'rocket',
  prepare: (config) => prepared({ url: config.address, channel: config.channel, username: config.username }),
  async send(event, { prepared: { url, channel, username }, http }) {
    const payload = slackStylePayload(event, { channel, username, color: isError(event) ? '#FF0000' : '#0076D7' });
    await sendGoJson(http, url, payload);
  },
};
