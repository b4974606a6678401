/**
 * `lark`: an interactive message card posted to the Lark (Feishu) custom bot webhook address.
 * Header `💫` / `🚨` and `kind/name.namespace` in template colour `turquoise` / `red`; one
 * `lark_md` element with the bold message, a blank line, then `key: value` per metadata key.
 */
import type { FluxEvent } from '../src/events/event.js';
import { isError, objectTitle, sendGoJson, sortedMetadata } from './chat-format.js';
import { prepared, type ProviderAdapter } from './types.js';

export function larkPayload(event: FluxEvent): Record<string, unknown> {
  let content = `**${event.message}**\n\n`;
  for (const [key, value] of sortedMetadata(event)) content += `${key}: ${value}\n`;
  return {
    msg_type: 'interactive',
    card: {
      config: { wide_screen_mode: true },
      header: {
        title: { tag: 'plain_text', content: `${isError(event) ? '🚨' : '💫'} ${objectTitle(event.involvedObject)}` },
        template: isError(event) ? 'red' : 'turquoise',
      },
      elements: [{ tag: 'div', text: { tag: 'lark_md', content } }],
    },
  };
}

export const lark: ProviderAdapter<{ url: string }> = {
  type: 'lark',
  prepare: (config) => prepared({ url: config.address }),
  async send(event, { prepared: { url }, http }) {
    await sendGoJson(http, url, larkPayload(event));
  },
};
