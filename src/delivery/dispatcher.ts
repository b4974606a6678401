/**
 * Turns one accepted Flux event into delivery jobs: the Alerts that match it, each Alert's
 * Provider, the notification built for that Alert, stored in the queue all at once. Named
 * `EventDispatcher` so it is not mistaken for undici's `Dispatcher` (an HTTP connection pool).
 */
import type { FluxEvent } from '../events/event.js';
import type { LabelLookup } from '../alerts/matcher.js';
import { METADATA_CONFLICT_MESSAGE, notificationFor, routeToProvider } from '../alerts/notification.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { EventReasons, involvedObjectString, type AlertEventSink } from '../resources/kubernetes/event-reasons.js';
import type { ResourceStore } from '../resources/store.js';
import { NOTIFICATION_GROUP, objectKey } from '../api/types.js';
import { deliveryJobIds, type QueuedJob } from './job.js';
import type { DeliveryQueue, DuplicateWindow, WindowOutcome } from './queue.js';

export interface DispatchResult {
  /** Alerts whose rules matched the event. */
  matched: number;
  /** Jobs stored (an Alert whose Provider is missing, suspended or not for this event stores none). */
  enqueued: number;
  /**
   * Set when the queue checked and started the event's duplicate window with its jobs (see
   * `DeliveryQueue.add`); absent when the window is still the caller's (no job, or a queue that
   * does not keep it).
   */
  window?: WindowOutcome;
}

export interface EventDispatcherDeps {
  store: ResourceStore;
  queue: DeliveryQueue;
  metrics: Metrics;
  logger: Logger;
  /** Where `matchLabels` gets the involved object's labels; the store's by default (manifests mode). */
  labels?: LabelLookup;
  /** Where an Alert's dispatch problems are reported besides the log (Kubernetes Events). */
  alertEvents?: AlertEventSink;
}

export class EventDispatcher {
  constructor(private readonly deps: EventDispatcherDeps) {}

  /**
   * Resolves once every job for the event is stored; rejects if the queue cannot store them.
   * Given the event's duplicate window, the queue may check and start it in the same write.
   */
  async dispatch(event: FluxEvent, acceptedAt = Date.now(), duplicateWindow?: DuplicateWindow): Promise<DispatchResult> {
    const { store, queue, metrics, logger, alertEvents } = this.deps;
    const alerts = await store.alerts.match(event, this.deps.labels ?? ((ref) => store.labelsOf(ref)));
    const jobs: QueuedJob[] = [];
    let jobIdFor: ((alertKey: string) => string) | undefined;
    for (const compiled of alerts) {
      const alert = compiled.alert;
      const providerKey = objectKey({ namespace: alert.metadata.namespace, name: alert.spec.providerRef.name });
      const provider = store.provider(alert.metadata.namespace, alert.spec.providerRef.name);
      const route = routeToProvider(event, provider);
      if (!provider || route.action === 'missing') {
        // As in Flux: an Alert without its Provider sends nothing (its status says ProviderNotFound).
        // Counted, so that the loss shows on a dashboard and not only in a log line.
        metrics.eventsDropped.inc({ reason: 'provider_missing' });
        logger.warn({ alert: compiled.key, provider: providerKey }, 'discarding event for alert: provider not found');
        alertEvents?.warning(
          { ...alert.metadata, apiVersion: alert.apiVersion },
          EventReasons.NotificationDispatchFailed,
          `failed to dispatch notification for ${involvedObjectString(event.involvedObject)}: failed to read provider: Provider.${NOTIFICATION_GROUP} "${alert.spec.providerRef.name}" not found`,
        );
        continue;
      }
      if (route.action === 'suspended') {
        metrics.deliveries.inc({ provider_type: route.providerType, outcome: 'dropped' });
        logger.info({ alert: compiled.key, provider: providerKey }, 'provider is suspended; notification dropped');
        continue;
      }
      if (!provider.ready) {
        // Queued all the same: the worker retries, and the Provider may be fixed meanwhile.
        alertEvents?.warning(
          { ...alert.metadata, apiVersion: alert.apiVersion },
          EventReasons.NotificationDispatchFailed,
          `failed to dispatch notification for ${involvedObjectString(event.involvedObject)}: provider '${providerKey}' is not ready (${provider.reason}): ${provider.message}; the notification is queued and retried`,
        );
      }
      const { providerType } = route;
      if (route.action === 'dropped') {
        metrics.deliveries.inc({ provider_type: providerType, outcome: 'dropped' });
        logger.info(
          { alert: compiled.key, provider: providerKey, type: providerType, involved: involvedObjectString(event.involvedObject) },
          'provider does not take this event (a commit status needs a revision, or the event is not meant for this provider type); notification dropped',
        );
        continue;
      }
      const { event: notification, conflicts, conflictSources } = notificationFor(event, alert);
      if (conflicts.length > 0) {
        logger.info({ alert: compiled.key, keys: conflicts }, 'metadata keys set by more than one source; the higher precedence wins');
        alertEvents?.warning({ ...alert.metadata, apiVersion: alert.apiVersion }, EventReasons.MetadataAppendFailed, METADATA_CONFLICT_MESSAGE, conflictSources);
      }
      jobs.push({
        id: (jobIdFor ??= deliveryJobIds(event))(compiled.key),
        data: { alert: compiled.key, provider: providerKey, providerType, event: notification, acceptedAt },
      });
    }
    if (jobs.length === 0) return { matched: alerts.length, enqueued: 0 };
    const window = (await queue.add(jobs, duplicateWindow)) ?? undefined;
    if (window?.duplicateUntil !== undefined) return { matched: alerts.length, enqueued: 0, window };
    for (const job of jobs) metrics.jobsEnqueued.inc({ provider_type: job.data.providerType });
    return { matched: alerts.length, enqueued: jobs.length, ...(window ? { window } : {}) };
  }
}
