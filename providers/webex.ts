/**
 * `webex`: a Webex message (`POST https://webexapis.com/v1/messages`, the address) to the room
 * in `spec.channel`, authenticated with the bot token from the Secret as a Bearer header. The
 * markdown is `✅` (or `💣` for errors) and the bold `kind/name.namespace`, the message, then
 * one `>**key**: value` line per metadata key.
 */
import type { FluxEvent } from '../src/events/event.js';
import { isError, objectTitle, sendGoJson, sortedMetadata } from './chat-format.js';
import type { ProviderAdapter } from './types.js';

export function webexMarkdown(event: FluxEvent): string {
  let text = `${isError(event) ? '💣' : '✅'} **${objectTitle(event.involvedObject)}**\n${event.message}\n`;
  for (const [key, value] of sortedMetadata(event)) text += `>**${key}**: ${value}\n`;
  return text;
}

export const webex: ProviderAdapter = {
  type: 'webex',
  validate(config) {
    if (!config.channel) return 'webex needs the Webex room ID in spec.channel';
    if (!config.token) return 'webex needs the bot access token in the `token` key of spec.secretRef';
    return undefined;
  },
  async send(event, { config, http }) {
    // Both fields are `omitempty` in Flux.
    const payload = { roomId: config.channel || undefined, markdown: webexMarkdown(event) || undefined };
    await sendGoJson(http, config.address, payload, { authorization: `Bearer ${config.token ?? ''}` });
  },
};
