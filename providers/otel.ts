/**
 * `otel`: each event as one span, exported over OTLP/HTTP in protobuf (what Flux's
 * notification-controller sends through the OpenTelemetry Go exporter), POSTed to the address
 * as given (the full URL, such as `https://collector:4318/v1/traces`).
 *
 * Mapped as Flux maps it:
 * - resource (schema `https://opentelemetry.io/schemas/1.34.0`): `service.name`
 *   `<alert namespace>/<alert name>`, `service.namespace` the Alert's namespace,
 *   `service.instance.id` its uid; scope `flux:notification-controller`;
 * - span `<Kind>: <namespace>/<name>`, kind internal, starting at the event's timestamp and
 *   ending when sent; attributes `object.uid`, `object.kind`, `object.name`,
 *   `object.namespace`, then every metadata key (sorted here; Flux's order is random);
 * - trace id: the first 16 bytes of SHA-256 of `<alert uid>:<revision>`, the revision being
 *   `<app-version>@<oci-digest>` when both are in the metadata, else `revision`, else
 *   `unknown`, so every event of one revision through one Alert lands in one trace; the span
 *   id is random and the span has no parent span id (its remote parent only carries the trace);
 * - status: Error with the message for error events, Ok (without message) otherwise;
 * - `HelmRepository` events are not sent.
 *
 * Authentication: the Secret's `headers` are sent; when they set no `Authorization`, its
 * `token` (else its `password`) is sent as `Bearer <token>` (without `username`) or with
 * `username` as Basic.
 * Flux adds that header only when the Secret also has `headers`; Herald whenever there is a
 * token or password. And where Flux's exporter only logs a failed export, Herald reports it like any
 * other delivery failure, so it is retried or dead-lettered.
 *
 * An Alert in the manifests directory has no uid: a stable one is derived from its namespace
 * and name, as for Providers.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { HrTime } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { FluxEvent } from '../src/events/event.js';
import { onFirstUse } from '../src/common/on-first-use.js';
import { goSortedKeys } from '../src/events/wire.js';
import { basicAuth, DeliveryError } from './http.js';
import type { AlertIdentity, ProviderAdapter } from './types.js';

const otelApi = onFirstUse<typeof import('@opentelemetry/api')>('@opentelemetry/api');
const otlpTransformer = onFirstUse<typeof import('@opentelemetry/otlp-transformer')>('@opentelemetry/otlp-transformer');
const otelResources = onFirstUse<typeof import('@opentelemetry/resources')>('@opentelemetry/resources');

export const SCHEMA_URL = 'https://opentelemetry.io/schemas/1.34.0';
export const SCOPE_NAME = 'flux:notification-controller';
const SOURCE_SKIPPED = 'HelmRepository';
/** W3C trace flags: none. Go's exporter writes only the remote-parent bits in the span's flags. */
const NO_TRACE_FLAGS = 0;

/** The revision the trace id is derived from, as Flux reads it. */
export function traceRevision(metadata: Record<string, string> = {}): string {
  const has = (key: string) => Object.prototype.hasOwnProperty.call(metadata, key);
  if (has('oci-digest') && has('app-version')) return `${metadata['app-version']}@${metadata['oci-digest']}`;
  return has('revision') ? (metadata['revision'] ?? '') : 'unknown';
}

/** 32 hex digits: the first 16 bytes of SHA-256 of `<alert uid>:<revision>`. */
export function traceId(alertUid: string, revision: string): string {
  return createHash('sha256').update(`${alertUid}:${revision}`).digest('hex').slice(0, 32);
}

/** The uid an Alert without `metadata.uid` (manifests directory) stands for. */
export function alertUid(alert: AlertIdentity): string {
  if (alert.uid) return alert.uid;
  const hex = createHash('sha256').update(`herald/Alert/${alert.namespace}/${alert.name}`).digest('hex');
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20, 32)].join('-');
}

function hrTime(ms: number): HrTime {
  return [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];
}

/** The span Flux would record for the event, ending at `endMs`. */
export function eventSpan(event: FluxEvent, alert: AlertIdentity, endMs: number, spanId = randomBytes(8).toString('hex')): ReadableSpan {
  const uid = alertUid(alert);
  const { kind, namespace = '', name, uid: objectUid = '' } = event.involvedObject;
  const metadata = event.metadata ?? {};
  const attributes: Record<string, string> = {
    'object.uid': objectUid,
    'object.kind': kind,
    'object.name': name,
    'object.namespace': namespace,
  };
  for (const key of goSortedKeys(Object.keys(metadata))) attributes[key] = metadata[key] ?? '';
  // A missing timestamp is Go's zero time, which the SDK replaces with the current time.
  const parsed = event.timestamp ? Date.parse(event.timestamp) : NaN;
  const startMs = Number.isNaN(parsed) ? endMs : parsed;
  const trace = traceId(uid, traceRevision(metadata));
  const { SpanKind, SpanStatusCode } = otelApi();
  return {
    name: `${kind}: ${namespace}/${name}`,
    kind: SpanKind.INTERNAL,
    spanContext: () => ({ traceId: trace, spanId, traceFlags: NO_TRACE_FLAGS }),
    // The remote parent carries only the trace id: no parent span id is written.
    parentSpanContext: { traceId: trace, spanId: '', traceFlags: NO_TRACE_FLAGS, isRemote: true },
    startTime: hrTime(startMs),
    endTime: hrTime(endMs),
    duration: hrTime(Math.max(0, endMs - startMs)),
    status: event.severity === 'error' ? { code: SpanStatusCode.ERROR, message: event.message } : { code: SpanStatusCode.OK },
    attributes,
    links: [],
    events: [],
    ended: true,
    resource: otelResources().resourceFromAttributes(
      { 'service.name': `${alert.namespace}/${alert.name}`, 'service.namespace': alert.namespace, 'service.instance.id': uid },
      { schemaUrl: SCHEMA_URL },
    ),
    instrumentationScope: { name: SCOPE_NAME },
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

export const otel: ProviderAdapter = {
  type: 'otel',
  // Nothing to check beyond the address the store already checks; the span is built per event.
  prepare: () => ({ ok: true, prepared: undefined }),
  async send(event, { config, http, alert }) {
    if (event.involvedObject.kind === SOURCE_SKIPPED) return;
    if (!alert) throw new DeliveryError('otel: the Alert of the notification is not known', false);
    const body = otlpTransformer().ProtobufTraceSerializer.serializeRequest([eventSpan(event, alert, Date.now())]);
    if (!body) throw new DeliveryError('otel: the span could not be encoded', false);
    const headers: Record<string, string> = { 'content-type': 'application/x-protobuf' };
    const hasAuthorization = Object.keys(config.headers).some((h) => h.toLowerCase() === 'authorization');
    // As Flux: the token, or else the password, is the credential.
    const credential = config.token || config.password;
    if (!hasAuthorization && credential) {
      headers['authorization'] = config.username ? basicAuth(config.username, credential) : `Bearer ${credential}`;
    }
    await http.send({ method: 'POST', url: config.address, headers, body: Buffer.from(body) });
  },
};
