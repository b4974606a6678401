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
 * The incoming-webhook path sends with `@slack/webhook`'s `IncomingWebhook`, its fetch
 * injected so that the request goes through the shared HTTP layer (timeout, proxy, CA and
 * client certificate, bounded answers, masking, retry classification, `Retry-After`): the
 * layer's `DeliveryError` comes back out of the package's wrapper unchanged. The package's own
 * retries stay off (the queue retries) and its `User-Agent` is not forwarded, so the Secret's
 * `headers` still apply as for every provider. Bot mode has no counterpart in the package and
 * posts through the shared layer directly. Message types come from `@slack/types`.
 */
import type { MessageAttachment } from '@slack/types';
// Loaded on the first webhook send (with axios, a few MB in every thread that imports it).
import type { FetchFunction } from '@slack/webhook';
import type { FluxEvent } from '../src/events/event.js';
import { objectTitle } from './chat-format.js';
import { goSortedKeys } from '../src/events/wire.js';
import { DeliveryError, parseRetryAfter } from './http.js';
import type { HttpClient } from './contract.js';
import { allProblems, prepared, type ProviderAdapter, type ProviderConfig } from './types.js';

export type SlackField = Required<NonNullable<MessageAttachment['fields']>[number]>;

export type SlackAttachment = Required<Pick<MessageAttachment, 'fallback' | 'color' | 'author_name' | 'text' | 'mrkdwn_in'>> & {
  fields: SlackField[];
};

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

export function slackPayload(event: FluxEvent, config: Pick<ProviderConfig, 'channel' | 'username'>): SlackPayload {
  const metadata = event.metadata ?? {};
  const author = objectTitle(event.involvedObject);
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
        fields: goSortedKeys(Object.keys(metadata)).map((key) => ({ title: key, value: metadata[key] ?? '', short: false })),
      },
    ],
  };
}

export interface PreparedSlack {
  url: string;
  /** `chat.postMessage` (bot mode) rather than an incoming webhook. */
  bot: boolean;
  headers: Record<string, string>;
  channel: string;
  username: string;
}

export const slack: ProviderAdapter<PreparedSlack> = {
  type: 'slack',
  prepare(config) {
    const bot = isSlackBotAddress(config.address);
    if (bot) {
      const bad = allProblems(
        !config.token && 'slack chat.postMessage (bot mode) needs the bot token in the `token` key of spec.secretRef',
        !config.channel && 'slack chat.postMessage (bot mode) needs spec.channel',
      );
      if (bad) return bad;
    }
    const headers: Record<string, string> = {};
    if (config.token) headers['authorization'] = `Bearer ${config.token}`;
    return prepared({ url: config.address, bot, headers, channel: config.channel, username: config.username });
  },
  async send(event, { config, prepared: slackConfig, http }) {
    const payload = slackPayload(event, slackConfig);
    if (slackConfig.bot) await postMessage(http, slackConfig, payload);
    else await postToWebhook(http, config, slackConfig, payload);
  },
};

/** Sends through `IncomingWebhook` with the shared HTTP layer as its fetch. */
async function postToWebhook(http: HttpClient, config: ProviderConfig, slackConfig: PreparedSlack, payload: SlackPayload): Promise<void> {
  // A Content-Type among the Secret's headers wins, as on every other path of the shared layer.
  const ownContentType = Object.keys(config.headers).some((name) => name.toLowerCase() === 'content-type');
  const headers = ownContentType ? slackConfig.headers : { ...slackConfig.headers, 'content-type': 'application/json' };
  const { IncomingWebhook, IncomingWebhookRequestError } = await import('@slack/webhook');
  const webhook = new IncomingWebhook(slackConfig.url, { fetch: sharedLayerFetch(http, headers) });
  try {
    await webhook.send(payload);
  } catch (err) {
    // The package wraps what its fetch threw; the layer's DeliveryError carries the classification.
    throw err instanceof IncomingWebhookRequestError && err.original instanceof DeliveryError ? err.original : err;
  }
}

/** A fetch for `IncomingWebhook` that sends its body through the shared layer, with Herald's headers. */
function sharedLayerFetch(http: HttpClient, headers: Record<string, string>): FetchFunction {
  return async (url, init) => {
    const body = typeof init?.body === 'string' ? init.body : '';
    const res = await http.send({ method: 'POST', url: String(url), headers, body });
    const answer: Awaited<ReturnType<FetchFunction>> = {
      // The layer resolves on 2xx only; anything else was thrown as a DeliveryError.
      ok: true,
      status: res.status,
      statusText: '',
      url: String(url),
      headers: new Headers(),
      text: async () => res.body,
      json: async () => JSON.parse(res.body) as unknown,
      arrayBuffer: async () => new TextEncoder().encode(res.body).buffer as ArrayBuffer,
    };
    return answer;
  };
}

/** `chat.postMessage` answers 200 even on failure: its JSON `ok` says whether it was accepted. */
async function postMessage(http: HttpClient, slackConfig: PreparedSlack, payload: SlackPayload): Promise<void> {
  const res = await http.send({ url: slackConfig.url, headers: slackConfig.headers, json: payload });
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
}
