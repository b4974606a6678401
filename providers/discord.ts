/**
 * `discord`: Flux formats the event as a Slack attachment message and posts it to the
 * webhook's Slack-compatible endpoint: `/slack` is appended to the address path unless the
 * address already ends in `/slack`. Colour `good` / `danger` by severity, author
 * `kind/name.namespace`, one field per metadata key, `username` from the spec or Secret
 * (default: the reporting controller). Flux leaves `channel` empty: Discord takes the channel
 * from the webhook.
 */
import { isError, sendGoJson, slackStylePayload } from './chat-format.js';
import { prepared, type ProviderAdapter } from './types.js';

/** The webhook's Slack-compatible endpoint. */
export function discordSlackUrl(address: string): string {
  if (address.endsWith('/slack')) return address;
  const url = new URL(address);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/slack`;
  return url.toString();
}

export const discord: ProviderAdapter<{ url: string; username: string }> = {
  type: 'discord',
  // The address is already known to be an http(s) URL (the store checks every address first).
  prepare: (config) => prepared({ url: discordSlackUrl(config.address), username: config.username }),
  async send(event, { prepared: { url, username }, http }) {
    const payload = slackStylePayload(event, {
      channel: '',
      username: username || event.reportingController || '',
      color: isError(event) ? 'danger' : 'good',
    });
    await sendGoJson(http, url, payload);
  },
};
