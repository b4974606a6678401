/**
 * `slack`: an attachment message, as Flux's notification-controller sends it, to an incoming
 * webhook or to the `chat.postMessage` Web API (bot mode).
 *
 * - Payload: `channel` (spec.channel, may be empty), `username` (spec.username, else the
 *   reporting controller), empty `icon_url` / `icon_emoji`, and one attachment: a plain-text
 *   `fallback` (`<author>: <first line of the message>`, what notifications and clients without
 *   attachment support show), colour `good`, or `danger` for error events; author
 *   `<kind lower-cased>/<name>.<namespace>`; the message
 *   as markdown text; one short=false field per metadata key (sorted by key here; Flux's order
 *   is Go's random map order).
 * - The Secret's `token`, when set, goes out as a Bearer token.
 * - Bot mode: Flux recognises exactly `https://slack.com/api/chat.postMessage`; Herald takes any
 *   address whose path ends in `/api/chat.postMessage` (so a proxy, a Slack-compatible server or
 *   a test sink can stand in). The Web API answers 200 even on failure, so its JSON `ok: false`
 *   is a failure: retryable only for rate limiting and Slack's own transient errors.
 *
 * Sent through the shared HTTP layer rather than `@slack/webhook`: that package is a single JSON
 * POST through its own fetch and error types (our timeouts, proxy, CA, masking and
 * retry classification would have to be re-plumbed through it), and it has no bot mode.
 */
import type { FluxEvent } from '../src/events/event.js';
import { DeliveryError, parseRetryAfter } from './http.js';
import type { ProviderAdapter, ProviderConfig } from './types.js';

export interface SlackField {
  title: string;
  value: string;
  short: boolean;
}

export interface SlackAttachment {
  fallback: string;
  color: string;
  author_name: string;
  text: string;
  mrkdwn_in: string[];
  fields: SlackField[];
}

export interface SlackPayload {
  channel: string;
  username: string;
  icon_url: string;
  icon_emoji: string;
  attachments: SlackAttachment[];
}

/** Slack Web API error codes worth another attempt. */
const RETRYABLE_SLACK_ERRORS = new Set(['ratelimited', 'rate_limited', 'service_unavailable', 'request_timeout', 'internal_error', 'fatal_error']);

/** Whether the address is Slack's `chat.postMessage` Web API (bot mode). */
export function isSlackBotAddress(address: string): boolean {
  try {
    return new URL(address).pathname.replace(/\/+$/, '').endsWith('/api/chat.postMessage');
  } catch {
    return false;
  }
}

/** The object's display name Flux uses in chat messages: `<kind lower-cased>/<name>.<namespace>`. */
export function objectDisplayName(event: FluxEvent): string {
  const { kind, name, namespace = '' } = event.involvedObject;
  return `${kind.toLowerCase()}/${name}.${namespace}`;
}

export function slackPayload(event: FluxEvent, config: Pick<ProviderConfig, 'channel' | 'username'>): SlackPayload {
  const metadata = event.metadata ?? {};
  const author = objectDisplayName(event);
  return {
    channel: config.channel,
    username: config.username || (event.reportingController ?? ''),
    icon_url: '',
    icon_emoji: '',
    attachments: [
      {
        fallback: `${author}: ${event.message.split('\n')[0]}`,
        color: event.severity === 'error' ? 'danger' : 'good',
        author_name: author,
        text: event.message,
        mrkdwn_in: ['text'],
        fields: Object.keys(metadata)
          .sort()
          .map((key) => ({ title: key, value: metadata[key] ?? '', short: false })),
      },
    ],
  };
}

export const slack: ProviderAdapter = {
  type: 'slack',
  validate(config) {
    if (isSlackBotAddress(config.address)) {
      if (!config.token) return 'slack chat.postMessage (bot mode) needs the bot token in the `token` key of spec.secretRef';
      if (!config.channel) return 'slack chat.postMessage (bot mode) needs spec.channel';
    }
    return undefined;
  },
  async send(event, { config, http }) {
    const headers: Record<string, string> = {};
    if (config.token) headers['authorization'] = `Bearer ${config.token}`;
    const res = await http.send({ url: config.address, headers, json: slackPayload(event, config) });
    if (!isSlackBotAddress(config.address)) return;

    let reply: { ok?: unknown; error?: unknown };
    try {
      reply = JSON.parse(res.body) as typeof reply;
    } catch {
      throw new DeliveryError(http.mask(`Slack chat.postMessage answered ${res.status} with a body that is not JSON`), false, res.status);
    }
    if (reply?.ok === true) return;
    const error = typeof reply?.error === 'string' ? reply.error : 'unknown error';
    const retryable = RETRYABLE_SLACK_ERRORS.has(error);
    throw new DeliveryError(
      http.mask(`Slack chat.postMessage responded with error: ${error}`),
      retryable,
      res.status,
      retryable ? parseRetryAfter(res.headers['retry-after']) : undefined,
    );
  },
};
