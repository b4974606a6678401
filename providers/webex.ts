/**
 * `webex`: a Webex message (`POST https://webexapis.com/v1/messages`, the address) to the room
 * in `spec.channel`, authenticated with the bot token from the Secret as a Bearer header. The
 * markdown is `✅` (or `💣` for errors) and the bold `kind/name.namespace`, the message, then
 * one `>**key**: value` line per metadata key.
 */
import type { FluxEvent } from '../src/events/event.js';
import { isError, objectTitle, sendGoJson, sortedMetadata } from './chat-format.js';
import { allProblems, prepared, type ProviderAdapter } from './types.js';

export function webexMarkdown(event: FluxEvent): string {
  let text = `${isError(event) ? '💣' : '✅'} **${objectTitle(event.involvedObject)}**\n${event.message}\n`;
  for (const [key, value] of sortedMetadata(event)) text += `>**${key}**: ${value}\n`;
  return text;
}

export const webex: ProviderAdapter<{ url: string; roomId: string; headers: Record<string, string> }> = {
  type: 'webex',
  prepare(config) {
    const bad = allProblems(
      !config.channel && 'webex needs the Webex room ID in spec.channel',
      !config.token && 'webex needs the bot access token in the `token` key of spec.secretRef',
    );
    if (bad) return bad;
    return prepared({ url: config.address, roomId: config.channel, headers: { authorization: `Bearer ${config.token}` } });
  },
  async send(event, { prepared: { url, roomId, headers }, http }) {
    // Both fields are `omitempty` in Flux.
    const payload = { roomId: roomId || undefined, markdown: webexMarkdown(event) || undefined };
    await sendGoJson(http, url, payload, headers);
  },
};
