/**
 * Formatting shared by the chat and alerting adapters: Go-compatible JSON (Flux builds every
 * payload with Go's encoding/json), the `kind/name.namespace` object title, metadata in a
 * stable order, and the Slack-style attachment payload that `discord` and `rocket` reuse.
 *
 * Go serialises maps with their keys sorted byte-wise, struct fields in declaration order, and
 * escapes `<`, `>`, `&`, U+2028 and U+2029 inside strings. A JS object cannot stand in for a Go
 * map (integer-like keys are enumerated first), so maps are wrapped in `GoMap`.
 *
 * The payload convention, decided per adapter and pinned by each adapter's golden test:
 * - Go-compatible bytes (`fluxEventJson`, `marshalGo`/`sendGoJson`) wherever the bytes are the
 *   contract: the Flux event itself (`generic`, `generic-hmac`, whose receivers check an HMAC;
 *   `githubdispatch`'s `client_payload`; `matrix`'s transaction id, a hash of it), and every
 *   payload Flux builds from a Go map (alertmanager, opsgenie, incidentio, sentry) or that the
 *   chat adapters share (discord, rocket, googlechat, lark, webex, telegram, grafana, datadog).
 * - `JSON.stringify` (the `json` option of the shared layer) where the receiver only parses JSON
 *   and the payload has no map whose order could differ: slack, msteams, pagerduty (its one
 *   map, `custom_details.metadata`, is sorted byte-wise; only integer-like keys would come out
 *   in JS order) and the commit-status APIs. There the bytes differ from Flux's only in how
 *   `<`, `>` and `&` are written, which no JSON parser tells apart.
 * - Metadata order is always byte-wise (`goSortedKeys`), where Flux ranges over a Go map in
 *   random order.
 */
import { rfc3339Seconds } from '../src/common/time.js';
import type { FluxEvent, ObjectReference } from '../src/events/event.js';
import type { HttpClient, HttpResponse } from './contract.js';
import { goSortedKeys, goString } from '../src/events/wire.js';

/** A Go `map[string]T`: serialised with its keys sorted byte-wise, as encoding/json does. */
export class GoMap {
  constructor(readonly entries: Readonly<Record<string, unknown>>) {}
}

/** Already-serialised JSON spliced in as-is (Go's `json.RawMessage`). */
export class RawJson {
  constructor(readonly text: string) {}
}



/**
 * Serialises like Go's json.Marshal: plain objects are structs (insertion order; `undefined`
 * fields are left out, the way `omitempty` leaves them), `GoMap` is a map, `RawJson` is raw.
 */
export function marshalGo(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (value instanceof RawJson) return value.text;
  if (value instanceof GoMap) {
    const fields = goSortedKeys(Object.keys(value.entries)).map((k) => `${goString(k)}:${marshalGo(value.entries[k])}`);
    return `{${fields.join(',')}}`;
  }
  if (Array.isArray(value)) return `[${value.map(marshalGo).join(',')}]`;
  switch (typeof value) {
    case 'string':
      return goString(value);
    case 'number':
    case 'boolean':
      return JSON.stringify(value);
    case 'object': {
      const fields = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${goString(k)}:${marshalGo(v)}`);
      return `{${fields.join(',')}}`;
    }
    default:
      throw new TypeError(`cannot serialise a ${typeof value}`);
  }
}

/** POSTs (or PUTs) a Go-serialised JSON body with `Content-Type: application/json`. */
export function sendGoJson(
  http: HttpClient,
  url: string,
  payload: unknown,
  headers: Record<string, string> = {},
  method: 'POST' | 'PUT' = 'POST',
): Promise<HttpResponse> {
  return http.send({ method, url, body: marshalGo(payload), headers: { 'content-type': 'application/json', ...headers } });
}

/** `kind/name.namespace` with the kind lower-cased: how most Flux notifiers title an event. */
export function objectTitle(ref: ObjectReference): string {
  return `${ref.kind.toLowerCase()}/${ref.name}.${ref.namespace ?? ''}`;
}

/**
 * The event's metadata as [key, value] pairs, keys sorted byte-wise. Flux ranges over a Go map
 * here, so its order is random; Herald makes it stable.
 */
export function sortedMetadata(event: FluxEvent): Array<[string, string]> {
  const metadata = event.metadata ?? {};
  return goSortedKeys(Object.keys(metadata)).map((k) => [k, metadata[k] ?? '']);
}

/** Events marked `commit_status: update` are for commit-status providers, not chats or incident tools. */
export function isCommitStatusUpdate(event: FluxEvent): boolean {
  return event.metadata?.['commit_status'] === 'update';
}

export function isError(event: FluxEvent): boolean {
  return event.severity === 'error';
}

/** Go's zero `time.Time` (0001-01-01T00:00:00Z), which a missing timestamp stands for. */
const GO_ZERO_TIME_MS = (() => {
  const zero = new Date(0);
  zero.setUTCFullYear(1, 0, 1);
  return zero.getTime();
})();

function eventMillis(event: FluxEvent): number {
  const millis = event.timestamp ? Date.parse(event.timestamp) : Number.NaN;
  return Number.isNaN(millis) ? GO_ZERO_TIME_MS : millis;
}

/** `event.Timestamp.Unix()`: whole seconds since the epoch (negative for the zero time). */
export function unixSeconds(event: FluxEvent): number {
  return Math.floor(eventMillis(event) / 1000);
}

/** `time.Format(time.RFC3339)` of the event timestamp in UTC: whole seconds, `Z` suffix. */
export function rfc3339(event: FluxEvent): string {
  return rfc3339Seconds(eventMillis(event));
}

/** Flux's Slack attachment payload (SlackPayload in Flux's slack notifier), Go field order. */
export function slackStylePayload(
  event: FluxEvent,
  opts: { channel: string; username: string; color: string },
): Record<string, unknown> {
  return {
    channel: opts.channel,
    username: opts.username,
    icon_url: '',
    icon_emoji: '',
    attachments: [
      {
        color: opts.color,
        author_name: objectTitle(event.involvedObject),
        text: event.message,
        mrkdwn_in: ['text'],
        fields: sortedMetadata(event).map(([title, value]) => ({ title, value, short: false })),
      },
    ],
  };
}


