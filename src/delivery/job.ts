/** One delivery: one event for one Alert, to that Alert's Provider. */
import { hash } from 'node:crypto';
import type { FluxEvent } from '../events/event.js';
import { fluxEventJson } from '../events/wire.js';

export interface DeliveryJob {
  /** `namespace/name` of the Alert that matched. */
  alert: string;
  /** `namespace/name` of the Provider, resolved again at delivery time (so a fixed Secret applies to retries). */
  provider: string;
  /** Provider type at enqueue time, for metrics and listing. */
  providerType: string;
  /** The notification to send: metadata already merged for this Alert. */
  event: FluxEvent;
  /** Epoch milliseconds when Herald answered 202 for the event. */
  acceptedAt: number;
  /**
   * Set once the delivery completed: `event` was cut to what identifies it (see
   * `withoutPayload`), and there is nothing left to send.
   */
  delivered?: true;
}

/** The most of an event's message a completed delivery keeps. */
export const KEPT_MESSAGE_CHARS = 256;

/**
 * What a completed delivery keeps: the ids, the Alert and Provider, when it was accepted, and
 * the event's involved object, severity, reason, timestamp and the start of its message —
 * never its metadata or the rest of a message that may be megabytes long. Every field is
 * bounded by the event schema (253 characters for names, 1024 for `fieldPath` and `reason`),
 * so a completed record is at most about 4 KiB, typically under 1 KiB.
 */
export function withoutPayload(job: DeliveryJob): DeliveryJob {
  const { involvedObject, severity, timestamp, reason, message, reportingController } = job.event;
  // Copied, not sliced: V8 keeps a slice of a long string as a view that holds the whole string.
  const kept = message.length <= KEPT_MESSAGE_CHARS ? message : `${copyOf(message.slice(0, KEPT_MESSAGE_CHARS))}… (cut)`;
  return {
    alert: job.alert,
    provider: job.provider,
    providerType: job.providerType,
    acceptedAt: job.acceptedAt,
    delivered: true,
    event: { involvedObject, severity, timestamp, reason, reportingController, message: kept },
  };
}

function copyOf(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

/**
 * About how much memory a job's event holds: its message and metadata, which is where a
 * large event's bytes are (the other fields are bounded by the event schema to a few KiB).
 */
export function approximateBytes(job: DeliveryJob): number {
  let bytes = 2048 + job.event.message.length;
  for (const [key, value] of Object.entries(job.event.metadata ?? {})) bytes += key.length + value.length;
  return bytes;
}

/**
 * The (Provider, involved object) pair whose deliveries keep their order: a later notification
 * for the pair is not sent while an earlier one is pending (waiting for a retry, say), so that a
 * PagerDuty `resolve` never overtakes its `trigger` and a commit status never goes back.
 */
export function orderPair(job: DeliveryJob): string {
  const { kind, namespace = '', name } = job.event.involvedObject;
  return `${job.provider}\n${kind}/${namespace}/${name}`;
}

export interface QueuedJob {
  id: string;
  data: DeliveryJob;
}

/**
 * Job ids derived from the event as received and the Alert, so that a sender retrying the
 * same POST (after a 503, say) stores nothing twice and notifies once. The event is
 * serialised once, however many Alerts take it.
 */
export function deliveryJobIds(event: FluxEvent): (alertKey: string) => string {
  const eventJson = fluxEventJson(event);
  // One-shot hashing: a Hash object per job is measurable at load (its native half is freed by GC).
  return (alertKey) => hash('sha256', `${eventJson}\n${alertKey}`, 'hex');
}
