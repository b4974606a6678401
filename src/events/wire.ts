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

/**
 * A code unit from which UTF-16 order and UTF-8 byte order can differ: surrogates (characters
 * beyond U+FFFF) sort below U+E000–U+FFFF in UTF-16 but above them in UTF-8.
 */
const ORDER_SENSITIVE = /[\uD800-\uFFFF]/;

function byUtf8Bytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Sorts strings by their UTF-8 bytes, the order Go uses for map keys (not JS's UTF-16 order). */
export function goSortedKeys(keys: Iterable<string>): string[] {
  const sorted = [...keys];
  // Below U+D800 both orders are code point order: the default sort, without a Buffer per comparison.
  return sorted.some((key) => ORDER_SENSITIVE.test(key)) ? sorted.sort(byUtf8Bytes) : sorted.sort();
}

/** ObjectReference's fields in Go's struct order, each with its key already written, all `omitempty`. */
const OBJECT_REFERENCE_FIELDS = (['kind', 'namespace', 'name', 'uid', 'apiVersion', 'resourceVersion', 'fieldPath'] as const).map(
  (field) => [field, `${goString(field)}:`] as const,
);

function objectReference(ref: ObjectReference): string {
  let json = '';
  for (const [field, key] of OBJECT_REFERENCE_FIELDS) {
    const value = ref[field];
    if (value) json += `${json ? ',' : ''}${key}${goString(value)}`;
  }
  return `{${json}}`;
}

/** The last timestamp written and its JSON: events arriving together mostly carry the same second. */
let lastTime: { timestamp: string; json: string } | undefined;

/** metav1.Time: RFC 3339 in UTC, whole seconds; the zero time is `null`. */
function goTime(timestamp: string | undefined): string {
  if (!timestamp) return 'null';
  if (lastTime?.timestamp === timestamp) return lastTime.json;
  const millis = Date.parse(timestamp);
  const json = Number.isNaN(millis) ? 'null' : goString(rfc3339Seconds(millis));
  lastTime = { timestamp, json };
  return json;
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

/** Event's fields in Go's struct order; `metadata` and `reportingInstance` are `omitempty`, the others always written. */
function serialise(event: FluxEvent): string {
  let json = `{"involvedObject":${objectReference(event.involvedObject)}`;
  json += `,"severity":${goString(event.severity)}`;
  json += `,"timestamp":${goTime(event.timestamp)}`;
  json += `,"message":${goString(event.message)}`;
  json += `,"reason":${goString(event.reason ?? '')}`;
  const metadata = event.metadata ?? {};
  const keys = goSortedKeys(Object.keys(metadata));
  if (keys.length > 0) json += `,"metadata":{${keys.map((k) => `${goString(k)}:${goString(metadata[k] ?? '')}`).join(',')}}`;
  json += `,"reportingController":${goString(event.reportingController ?? '')}`;
  if (event.reportingInstance) json += `,"reportingInstance":${goString(event.reportingInstance)}`;
  return `${json}}`;
}
