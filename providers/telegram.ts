/**
 * `telegram`: the Bot API `sendMessage` method, `<base>/bot<token>/sendMessage`, with a
 * MarkdownV2 text: a bold heading `💫` (or `🚨` for errors) `kind/name/namespace`, the message,
 * then one `\- *key*: value` line per metadata key, every MarkdownV2 special character escaped.
 * `spec.channel` is the chat: an id (`-1234567890`), `@channelname`, or `<chat id>:<topic id>`
 * for a forum topic (sent as `message_thread_id`). The token comes from the Secret.
 *
 * The API base is `https://api.telegram.org`. Flux ignores the address for this type; Herald
 * uses the address as the base instead when it is an http(s) URL (Flux's old docs had users
 * set `https://api.telegram.org`, which gives the same URL), so the API can be pointed at a
 * local endpoint or an API proxy. The token travels in the URL path only, as in Flux.
 */
import type { FluxEvent } from '../src/events/event.js';
import { isError, sendGoJson, sortedMetadata } from './chat-format.js';
import { allProblems, prepared, type ProviderAdapter, type ProviderConfig } from './types.js';

export const TELEGRAM_API = 'https://api.telegram.org';

/** Escapes what MarkdownV2 treats as markup (and the backslash itself). */
export function escapeMarkdownV2(text: string): string {
  return text.replace(/[\\.\-_[\]()~>`#+=|{}!*]/g, (c) => `\\${c}`);
}

export function telegramText(event: FluxEvent): string {
  const { kind, name, namespace = '' } = event.involvedObject;
  const heading = `${isError(event) ? '🚨' : '💫'} ${kind.toLowerCase()}/${name}/${namespace}`;
  let metadata = '';
  for (const [key, value] of sortedMetadata(event)) metadata += `\\- *${escapeMarkdownV2(key)}*: ${escapeMarkdownV2(value)}\n`;
  return `*${escapeMarkdownV2(heading)}*\n${escapeMarkdownV2(event.message)}\n${metadata}`;
}

/** The API base: the address when it is an http(s) URL, otherwise Telegram's. */
export function telegramApiBase(config: ProviderConfig): string {
  if (config.address) {
    try {
      const url = new URL(config.address);
      if (url.protocol === 'http:' || url.protocol === 'https:') return config.address.replace(/\/+$/, '');
    } catch {
      // not a URL: use Telegram's API
    }
  }
  return TELEGRAM_API;
}

export const telegram: ProviderAdapter<{ url: string; chatId: string; thread?: string }> = {
  type: 'telegram',
  requiresAddress: false,
  prepare(config) {
    const bad = allProblems(
      !config.channel && 'telegram needs the chat in spec.channel (a chat id, @channelname or <chat id>:<topic id>)',
      !config.token && 'telegram needs the bot token in the `token` key of spec.secretRef',
    );
    if (bad) return bad;
    const colon = config.channel.indexOf(':');
    return prepared({
      url: `${telegramApiBase(config)}/bot${config.token}/sendMessage`,
      chatId: colon < 0 ? config.channel : config.channel.slice(0, colon),
      thread: colon < 0 ? undefined : config.channel.slice(colon + 1),
    });
  },
  async send(event, { prepared: { url, chatId, thread }, http }) {
    const payload = {
      chat_id: chatId,
      message_thread_id: thread || undefined,
      text: telegramText(event),
      parse_mode: 'MarkdownV2',
    };
    await sendGoJson(http, url, payload);
  },
};
