/**
 * `sentry`: Flux uses the sentry-go SDK; Herald speaks the same protocol directly: one
 * envelope POSTed to the project's envelope endpoint derived from the DSN in the address
 * (`<scheme>://<key>@<host>[/<path>]/<project>` → `<scheme>://<host>[/<path>]/api/<project>/envelope/`),
 * authenticated with the DSN's public key in `X-Sentry-Auth`. As in Flux:
 *
 * - `error` events become Sentry events: level `error`, `server_name` the reporting
 *   controller, `transaction` `Kind: namespace/name`, the message, the metadata as `extra`;
 * - `info` events become transactions (a trace with one root span, op `event`, starting and
 *   ending at the event time) tagged `flux_involved_object_kind`, `…_namespace`, `…_name`,
 *   `flux_reporting_controller`, `flux_reporting_instance`, `flux_reason` and the metadata;
 * - other severities send nothing;
 * - `spec.channel` is the Sentry `environment`.
 *
 * What the SDK adds on its own (device/OS/runtime contexts, module lists, the span repeated in
 * `spans`) is left out. Ids are random per send, as the SDK makes them.
 */
import { randomBytes } from 'node:crypto';
import type { FluxEvent } from '../src/events/event.js';
import { GoMap, marshalGo, sortedMetadata } from './chat-format.js';
import { prepared, problem, type ProviderAdapter } from './types.js';

const SDK = { name: 'herald', version: '0.1.0' };

export interface SentryDsn {
  /** Where envelopes go. */
  envelopeUrl: string;
  publicKey: string;
  secretKey?: string;
}

export function parseDsn(dsn: string): SentryDsn | undefined {
  let url: URL;
  try {
    url = new URL(dsn);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !url.username) return undefined;
  const segments = url.pathname.split('/');
  const project = segments.pop();
  if (!project) return undefined;
  const prefix = segments.join('/').replace(/\/+$/, '');
  return {
    envelopeUrl: `${url.protocol}//${url.host}${prefix}/api/${project}/envelope/`,
    publicKey: decodeURIComponent(url.username),
    secretKey: url.password ? decodeURIComponent(url.password) : undefined,
  };
}

function eventSummary(event: FluxEvent): string {
  const { kind, name, namespace = '' } = event.involvedObject;
  return `${kind}: ${namespace}/${name}`;
}

/** Seconds since the epoch (with fractions), the timestamp form Sentry's protocol takes. */
function sentryTime(event: FluxEvent): number {
  const millis = event.timestamp ? Date.parse(event.timestamp) : Number.NaN;
  return (Number.isNaN(millis) ? Date.now() : millis) / 1000;
}

const hexId = (bytes: number) => randomBytes(bytes).toString('hex');

/** The envelope item for an event, or undefined for severities Flux does not send. */
export function sentryItem(event: FluxEvent, environment: string, eventId: string): { type: string; payload: unknown } | undefined {
  const time = sentryTime(event);
  const env = environment || undefined;
  if (event.severity === 'error') {
    return {
      type: 'event',
      payload: {
        event_id: eventId,
        timestamp: time,
        level: 'error',
        platform: 'other',
        server_name: event.reportingController ?? '',
        transaction: eventSummary(event),
        message: event.message,
        extra: new GoMap(Object.fromEntries(sortedMetadata(event))),
        environment: env,
        sdk: SDK,
      },
    };
  }
  if (event.severity === 'info') {
    const { kind, name, namespace = '' } = event.involvedObject;
    const tags: Record<string, string> = {
      flux_involved_object_kind: kind,
      flux_involved_object_namespace: namespace,
      flux_involved_object_name: name,
      flux_reporting_controller: event.reportingController ?? '',
      flux_reporting_instance: event.reportingInstance ?? '',
      flux_reason: event.reason ?? '',
      ...Object.fromEntries(sortedMetadata(event)),
    };
    return {
      type: 'transaction',
      payload: {
        event_id: eventId,
        type: 'transaction',
        transaction: eventSummary(event),
        message: event.message,
        start_timestamp: time,
        timestamp: time,
        platform: 'other',
        contexts: { trace: { trace_id: hexId(16), span_id: hexId(8), op: 'event' } },
        tags: new GoMap(tags),
        environment: env,
        sdk: SDK,
      },
    };
  }
  return undefined;
}

export const sentry: ProviderAdapter<{ envelopeUrl: string; auth: string; environment: string }> = {
  type: 'sentry',
  prepare(config) {
    const dsn = parseDsn(config.address);
    if (!dsn) return problem('sentry needs a Sentry DSN as the address, in the form https://<public key>@<host>/<project id>');
    const auth = [
      'Sentry sentry_version=7',
      `sentry_client=${SDK.name}/${SDK.version}`,
      `sentry_key=${dsn.publicKey}`,
      ...(dsn.secretKey ? [`sentry_secret=${dsn.secretKey}`] : []),
    ].join(', ');
    return prepared({ envelopeUrl: dsn.envelopeUrl, auth, environment: config.channel });
  },
  async send(event, { prepared: { envelopeUrl, auth, environment }, http }) {
    const eventId = hexId(16);
    const item = sentryItem(event, environment, eventId);
    if (!item) return;
    const payload = marshalGo(item.payload);
    const header = marshalGo({ event_id: eventId, sent_at: new Date().toISOString(), sdk: SDK });
    const itemHeader = marshalGo({ type: item.type, length: Buffer.byteLength(payload, 'utf8') });
    await http.send({
      url: envelopeUrl,
      body: `${header}\n${itemHeader}\n${payload}\n`,
      headers: { 'content-type': 'application/x-sentry-envelope', 'x-sentry-auth': auth },
    });
  },
};
