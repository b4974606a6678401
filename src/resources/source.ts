/**
 * Starts the resource source the flags select and everything that comes with it: the manifests
 * directory (`--config-dir`), or Kubernetes (`--kubernetes`): informers, status write-back by
 * the replica holding the `herald-leader` Lease, `matchLabels` look-ups through the API, and
 * Kubernetes Events on Alerts for dispatch and delivery failures.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { LabelLookup } from '../alerts/matcher.js';
import { startDirectorySource, type DirectoryReadAhead } from './dir-source.js';
import { EventReasons, involvedObjectString, type AlertEventSink, type ObjectEventSink } from './kubernetes/event-reasons.js';
import type { ResourceStore } from './store.js';
import { parseObjectKey, type Logger } from '../api/types.js';

export interface ResourceSourceConfig {
  configDir?: string;
  kubernetes?: boolean;
  watchNamespace?: string;
}

export interface ResourceSource {
  /** `manifests` or `kubernetes`, for logs. */
  readonly kind: 'manifests' | 'kubernetes';
  /** `matchLabels` look-ups; undefined means the store's own (manifests mode). */
  readonly labels?: LabelLookup;
  /** Where dispatch problems of an Alert are recorded (Kubernetes Events); undefined in manifests mode. */
  readonly alertEvents?: AlertEventSink;
  /**
   * Called by the worker once per delivery that failed for good (a dead letter): a Warning
   * Event on the Alert (Kubernetes mode); undefined in manifests mode, where the log says it.
   */
  readonly onDeadLetter?: (letter: DeadLetter, message: string) => void;
  /** Kubernetes mode: the cluster's configuration (Receivers patch their targets through it). */
  readonly kubeConfig?: KubeConfig;
  /**
   * Kubernetes mode: Events on Receivers (their object's uid and apiVersion filled in from the
   * API). Only the Lease holder records them, as only Flux's leader reconciles.
   */
  readonly receiverEvents?: ObjectEventSink;
  /** Kubernetes mode: the `status.webhookPath` a Receiver carries in the API. */
  readonly reportedWebhookPath?: (namespace: string, name: string) => string | undefined;
  close(): Promise<void>;
}

/** What a dead letter says about itself that its Alert's Event needs (a delivery job is one). */
export interface DeadLetter {
  /** `namespace/name` of the Alert the notification was for. */
  alert: string;
  event: { involvedObject: { kind: string; namespace?: string; name: string } };
}

export const LEADER_LEASE_NAME = 'herald-leader';

/** `firstRead`: the manifests directory's read, begun ahead (`readDirectoryAhead`) with the default options. */
export async function startResourceSource(
  config: ResourceSourceConfig,
  store: ResourceStore,
  logger: Logger,
  firstRead?: DirectoryReadAhead,
): Promise<ResourceSource> {
  if (!config.kubernetes) {
    const directory = await startDirectorySource(config.configDir as string, store, { logger, firstRead });
    return { kind: 'manifests', close: () => directory.close() };
  }

  // Loaded only in this mode: the Kubernetes client takes most of a second to import.
  const [{ CoordinationV1Api, CoreV1Api, CustomObjectsApi }, client, eventsModule, labelsModule, leaderModule, sourceModule, statusModule] =
    await Promise.all([
      import('@kubernetes/client-node'),
      import('./kubernetes/client.js'),
      import('./kubernetes/event-recorder.js'),
      import('./kubernetes/labels.js'),
      import('./kubernetes/leader.js'),
      import('./kubernetes/source.js'),
      import('./kubernetes/status.js'),
    ]);
  const { loadKubeConfig, podNamespace, replicaIdentity } = client;
  const { KubeEventRecorder } = eventsModule;
  const { apiLabelFetcher, cachedLabelLookup } = labelsModule;
  const { LeaderElector } = leaderModule;
  const { startKubernetesSource } = sourceModule;
  const { StatusWriter } = statusModule;

  const kubeConfig = loadKubeConfig();
  const namespace = config.watchNamespace;
  const source = startKubernetesSource(store, { namespace, logger, kubeConfig });
  const events = new KubeEventRecorder({ api: kubeConfig.makeApiClient(CoreV1Api), logger });
  const statusWriter = new StatusWriter({ store, source, api: kubeConfig.makeApiClient(CustomObjectsApi), logger });
  const elector = new LeaderElector({
    api: kubeConfig.makeApiClient(CoordinationV1Api),
    namespace: namespace ?? podNamespace(),
    name: LEADER_LEASE_NAME,
    identity: replicaIdentity(),
    logger,
  });
  const receiverEvents = leaderReceiverEvents(new KubeEventRecorder({ api: kubeConfig.makeApiClient(CoreV1Api), logger }), (ns, name) =>
    source.object('Receiver', ns, name),
  );
  elector.on('started', () => {
    statusWriter.setActive(true);
    receiverEvents.setLeading(true);
  });
  elector.on('stopped', () => {
    statusWriter.setActive(false);
    receiverEvents.setLeading(false);
  });
  elector.start();
  logger.info({ server: kubeConfig.getCurrentCluster()?.server, namespace: namespace ?? '(all)' }, 'watching Providers and Alerts in Kubernetes');

  return {
    kind: 'kubernetes',
    kubeConfig,
    reportedWebhookPath: (receiverNamespace, name) => {
      const path = (source.object('Receiver', receiverNamespace, name) as { status?: { webhookPath?: unknown } } | undefined)?.status?.webhookPath;
      return typeof path === 'string' ? path : undefined;
    },
    labels: cachedLabelLookup({ fetch: apiLabelFetcher(kubeConfig), logger }),
    alertEvents: events,
    receiverEvents,
    onDeadLetter: (letter, message) => {
      const [alertNamespace, name] = parseObjectKey(letter.alert);
      const alert = source.object('Alert', alertNamespace, name);
      events.warning(
        { namespace: alertNamespace, name, uid: alert?.metadata?.uid, apiVersion: alert?.apiVersion },
        EventReasons.NotificationDispatchFailed,
        `failed to send notification for ${involvedObjectString(letter.event.involvedObject)}: ${message}`,
      );
    },
    async close() {
      // Stop writing before releasing the Lease, so two replicas never write at once.
      statusWriter.setActive(false);
      await statusWriter.close();
      await elector.stop();
      await source.close();
      await Promise.all([events.flush(), receiverEvents.close()]);
    },
  };
}

/** Receivers whose last Event waits to be recorded, at most (the oldest go first). */
const MAX_WAITING_RECEIVER_EVENTS = 4096;
/** Receivers' Events written at once: the recorder's own bound on requests in flight, which it would otherwise enforce by dropping. */
const RECEIVER_EVENTS_AT_ONCE = 8;

/**
 * Receivers' Events from the Lease holder only, on a recorder of their own. They come in bursts
 * (every Receiver is evaluated when the resources load), so they wait in a bounded queue (the
 * last per Receiver) and are written a few at a time rather than dropped by the recorder. What a
 * follower would have recorded is written when it becomes the leader, as Flux's new leader
 * reconciles every Receiver and records the outcome; a Receiver deleted meanwhile is skipped.
 */
export function leaderReceiverEvents(
  recorder: ObjectEventSink & { flush(): Promise<void> },
  object: (namespace: string, name: string) => { apiVersion?: string; metadata?: { uid?: string } } | undefined,
): ObjectEventSink & { setLeading(leading: boolean): void; close(): Promise<void> } {
  let leading = false;
  let closed = false;
  let draining: Promise<void> | undefined;
  const waiting = new Map<string, Parameters<ObjectEventSink['record']>>();
  const write = ([ref, type, reason, message]: Parameters<ObjectEventSink['record']>) => {
    const current = object(ref.namespace, ref.name);
    if (!current) return;
    recorder.record({ ...ref, apiVersion: current.apiVersion ?? ref.apiVersion, ...(current.metadata?.uid && { uid: current.metadata.uid }) }, type, reason, message);
  };
  const drain = (): void => {
    if (draining || !leading || closed || waiting.size === 0) return;
    draining = (async () => {
      while (leading && !closed && waiting.size > 0) {
        const batch = [...waiting.entries()].slice(0, RECEIVER_EVENTS_AT_ONCE);
        for (const [key, args] of batch) {
          waiting.delete(key);
          write(args);
        }
        await recorder.flush();
      }
    })().finally(() => {
      draining = undefined;
      drain(); // anything queued while the last batch was written
    });
  };
  return {
    record(ref, type, reason, message) {
      const key = `${ref.namespace}/${ref.name}`;
      waiting.delete(key);
      waiting.set(key, [ref, type, reason, message]);
      while (waiting.size > MAX_WAITING_RECEIVER_EVENTS) waiting.delete(waiting.keys().next().value as string);
      drain();
    },
    setLeading(now) {
      leading = now;
      drain();
    },
    async close() {
      closed = true;
      await draining;
      await recorder.flush();
    },
  };
}
