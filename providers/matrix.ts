/**
 * `matrix`: an `m.room.message` text event sent with the client-server API,
 * `PUT <address>/_matrix/client/r0/rooms/<spec.channel>/send/m.room.message/<txn id>`, with
 * the access token from the Secret as a Bearer header. The transaction id is the SHA-1 of the
 * event's JSON (so a retry of the same event is idempotent on the homeserver). The body is
 * `💫` / `🚨` and `kind/name.namespace`, the message, then `- key: value` per metadata key.
 */
import { createHash } from 'node:crypto';
import type { FluxEvent } from '../src/events/event.js';
import { isError, objectTitle, sendGoJson, sortedMetadata } from './chat-format.js';
import { allProblems, prepared, type ProviderAdapter } from './types.js';
import { fluxEventJson } from '../src/events/wire.js';

export function matrixBody(event: FluxEvent): string {
  let metadata = '';
  for (const [key, value] of sortedMetadata(event)) metadata += `- ${key}: ${value}\n`;
  return `${isError(event) ? '🚨' : '💫'} ${objectTitle(event.involvedObject)}\n${event.message}\n${metadata}`;
}

/** The transaction id Flux uses: hex SHA-1 of the event serialised as Go does. */
export function matrixTxnId(event: FluxEvent): string {
  return createHash('sha1').update(fluxEventJson(event)).digest('hex');
}

/** Percent-encodes only what cannot stand in a URL path segment; `!` and `:` of room ids stay. */
function pathSegment(value: string): string {
  return value.replace(/[^A-Za-z0-9!$&'()*+,;=:@._~-]/g, (c) => encodeURIComponent(c));
}

export const matrix: ProviderAdapter<{ roomUrl: string; headers: Record<string, string> }> = {
  type: 'matrix',
  prepare(config) {
    const bad = allProblems(
      !config.token && 'matrix needs the access token in the `token` key of spec.secretRef',
      !config.channel && 'matrix needs the room id in spec.channel (for example !roomid:matrix.org)',
    );
    if (bad) return bad;
    const base = config.address.replace(/\/+$/, '');
    return prepared({
      roomUrl: `${base}/_matrix/client/r0/rooms/${pathSegment(config.channel)}/send/m.room.message/`,
      headers: { authorization: `Bearer ${config.token}` },
    });
  },
  async send(event, { prepared: { roomUrl, headers }, http }) {
    await sendGoJson(http, `${roomUrl}${matrixTxnId(event)}`, { body: matrixBody(event), msgtype: 'm.text' }, headers, 'PUT');
  },
};
