/**
 * `zulip`: Zulip's send-message API, `POST <scheme>://<host>/api/v1/messages` (the address's
 * path is replaced), form-encoded: `type=stream`, `to` and `topic` from `spec.channel` written
 * `<channel>/<topic>`, and `content` in Markdown:
 *
 *     ## Flux Status
 *
 *     ℹ️ Kind/namespace/name        (⚠️ for errors)
 *
 *     <message>
 *
 *     Metadata:
 *     * `key`: value                (sorted; the change_request key left out)
 *
 * HTTP Basic auth with the Secret's `username` (the bot's email) and `password` (its API key).
 */
import { basicAuth } from './http.js';
import type { FluxEvent } from '../src/events/event.js';
import { isError } from './chat-format.js';
import { goSortedKeys } from '../src/events/wire.js';
import { prepared, problem, type ProviderAdapter } from './types.js';

/** Metadata key of the change request number, which Flux's Markdown post leaves out. */
const CHANGE_REQUEST_KEY = 'change_request';

/** Flux's Markdown status post (shared with its change-request comment providers). */
export function markdownPost(event: FluxEvent): string {
  const { kind, name, namespace = '' } = event.involvedObject;
  const metadata = event.metadata ?? {};
  let lines = '';
  for (const key of goSortedKeys(Object.keys(metadata))) {
    if (key !== CHANGE_REQUEST_KEY) lines += `* \`${key}\`: ${metadata[key]}\n`;
  }
  const emoji = isError(event) ? '⚠️' : 'ℹ️';
  return `## Flux Status\n\n${emoji} ${kind}/${namespace}/${name}\n\n${event.message}\n\nMetadata:\n${lines}`;
}

/** Go's url.QueryEscape: only A-Z a-z 0-9 - _ . ~ stay; a space becomes `+`. */
function queryEscape(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** Go's url.Values.Encode: keys sorted, `key=value` joined with `&`. */
export function formEncode(values: Record<string, string>): string {
  return goSortedKeys(Object.keys(values))
    .map((k) => `${queryEscape(k)}=${queryEscape(values[k] ?? '')}`)
    .join('&');
}

/** `<channel>/<topic>`: the first `/` splits; both parts must be non-empty. */
export function zulipDestination(channel: string): { stream: string; topic: string } | undefined {
  const slash = channel.indexOf('/');
  if (slash <= 0 || slash === channel.length - 1) return undefined;
  return { stream: channel.slice(0, slash), topic: channel.slice(slash + 1) };
}

export function zulipMessagesUrl(address: string): string {
  const url = new URL(address);
  url.pathname = '/api/v1/messages';
  return url.toString();
}

export const zulip: ProviderAdapter<{ url: string; headers: Record<string, string>; stream: string; topic: string }> = {
  type: 'zulip',
  prepare(config) {
    const destination = zulipDestination(config.channel);
    if (!destination) return problem(`zulip needs spec.channel in the form <channel>/<topic>, got '${config.channel}'`);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (config.username || config.password) headers.authorization = basicAuth(config.username, config.password ?? '');
    return prepared({ url: zulipMessagesUrl(config.address), headers, ...destination });
  },
  async send(event, { prepared: { url, headers, stream, topic }, http }) {
    await http.send({
      url,
      body: formEncode({ type: 'stream', to: stream, topic, content: markdownPost(event) }),
      headers,
    });
  },
};
