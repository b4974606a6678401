/**
 * Serialises an event exactly as Flux's notification-controller does (Go's encoding/json on
 * fluxcd/pkg `eventv1.Event`): struct field order, `omitempty` fields left out, map keys
 * sorted, timestamps in RFC 3339 UTC with second precision, and `<`, `>`, `&`, U+2028 and
 * U+2029 escaped. Receivers that verify an HMAC over the body need these exact bytes.
 */
import { rfc3339Seconds } from '../common/time.js';
import type { FluxEvent, ObjectReference } from './event.js';

const GO_ESCAPED = /[<>&\u2028\u2029]/;
const GO_ESCAPED_ALL = /[<>&\u2028\u2029]/g;

/** A JSON string literal exactly as Go's json.Marshal writes it: it escapes these characters even inside strings. */
export function goString(value: string): string {
  const json = JSON.stringify(value);
  // Most strings have none of them: skip the replace (this runs for every field of every delivery).
  if (!GO_ESCAPED.test(json)) return json;
  return json.replace(GO_ESCAPED_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Sorts strings by their UTF-8 bytes, the order Go uses for map keys (not JS's UTF-16 order). */
export function goSortedKeys(keys: Iterable<string>): string[] {
  return [...keys].sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}

function goObject(entries: Array<[string, string | undefined]>, omitEmpty: boolean): string {
  const fields = entries
    .filter(([, v]) => !(omitEmpty && (v === undefined || v === '')))
    .map(([k, v]) => `${goString(k)}:${v}`);
  return `{${fields.join(',')}}`;
}

function objectReference(ref: ObjectReference): string {
  const order: Array<keyof ObjectReference> = ['kind', 'namespace', 'name', 'uid', 'apiVersion', 'resourceVersion', 'fieldPath'];
  return goObject(
    order.map((k) => [k, ref[k] ? goString(ref[k]) : undefined]),
    true,
  );
}

/** metav1.Time: RFC 3339 in UTC, whole seconds; the zero time is `null`. */
function goTime(timestamp: string | undefined): string {
  if (!timestamp) return 'null';
  const millis = Date.parse(timestamp);
  if (Number.isNaN(millis)) return 'null';
  return goString(rfc3339Seconds(millis));
}

/**
 * The wire JSON of each event object already serialised: every delivery and attempt of the
 * same event sends the same bytes, built once. Events are never changed once built (each
 * notification is a new object), and the entries go with their events.
 */
const serialised = new WeakMap<FluxEvent, string>();

export function fluxEventJson(event: FluxEvent): string {
  let json = serialised.get(event);
  if (json === undefined) {
    json = serialise(event);
    serialised.set(event, json);
  }
  return json;
}

function serialise(event: FluxEvent): string {
  const metadata = event.metadata ?? {};
  const metadataKeys = goSortedKeys(Object.keys(metadata));
  const entries: Array<[string, string | undefined]> = [
    ['involvedObject', objectReference(event.involvedObject)],
    ['severity', goString(event.severity)],
    ['timestamp', goTime(event.timestamp)],
    ['message', goString(event.message)],
    ['reason', goString(event.reason ?? '')],
    ['metadata', metadataKeys.length ? goObject(metadataKeys.map((k) => [k, goString(metadata[k] ?? '')]), false) : undefined],
    ['reportingController', goString(event.reportingController ?? '')],
    ['reportingInstance', event.reportingInstance ? goString(event.reportingInstance) : undefined],
  ];
  return `{${entries.filter(([, v]) => v !== undefined).map(([k, v]) => `${goString(k)}:${v}`).join(',')}}`;
}
