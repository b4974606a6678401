/** One delivery: one event for one Alert, to that Alert's Provider. */
import { createHash } from 'node:crypto';
import type { FluxEvent } from '../events/event.js';
import { fluxEventJson } from '../../providers/wire.js';

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
  return (alertKey) => createHash('sha256').update(eventJson).update('\n').update(alertKey).digest('hex');
}
