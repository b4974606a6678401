/**
 * Wires image automation into Herald: an `ImageController`, its tags and policy refs kept in
 * Redis when Herald queues there (else in memory), its events handed to the dispatcher as if a
 * Flux controller had POSTed them. Started only when an ImageRepository, ImagePolicy or
 * ImageUpdateAutomation exists (checked again on every change, so one added later starts it)
 * and `--no-image-automation` is not set.
 *
 * Where the objects come from: the resource store (manifests directory), or, with
 * `kubernetes`, the API (src/image/kubernetes/: informers, status subresource, Kubernetes
 * Events, and only the holder of the `herald-image-automation` Lease does the work).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Redis } from 'ioredis';
import type { Logger } from './api/types.js';
import { errorMessage } from './common/errors.js';
import type { EventDispatcher } from './delivery/dispatcher.js';
import type { RedisClient } from './delivery/redis-connection.js';
import { createClientPool } from './image/client-pool.js';
import { ImageController, type ImageObjectSource, type ImageResourceStatus } from './image/controller.js';
import type { ControllerHooks } from './image/kubernetes/automation.js';
import { MemoryRefStore, RedisRefStore } from './image/ref-store.js';
import { MemoryTagStore, RedisTagStore } from './image/tag-store.js';
import type { ResourceStore } from './resources/store.js';

export interface ImageAutomationOptions {
  store: ResourceStore;
  dispatcher: Pick<EventDispatcher, 'dispatch'>;
  /** Herald's Redis connection, when it queues there. */
  redis?: RedisClient;
  config: { noImageAutomation: boolean; noCrossNamespaceRefs: boolean; redisPrefix: string };
  logger: Logger;
  /**
   * Whether the queue (and so Redis, where the tags are kept) can be used: nothing runs before,
   * or the first reconciles would fail, rescan and lose their events while Redis connects.
   */
  queueReady(): boolean;
  /** Kubernetes mode: read the image objects from this cluster instead of the store. */
  kubernetes?: { kubeConfig: KubeConfig; watchNamespace?: string };
}

/** How often readiness is checked until the queue is ready. */
const READY_POLL_MS = 200;

export interface ImageAutomation {
  statuses(): ImageResourceStatus[];
  close(): Promise<void>;
}

export function startImageAutomation({ store, dispatcher, redis, config, logger, queueReady, kubernetes }: ImageAutomationOptions): ImageAutomation {
  if (config.noImageAutomation) return { statuses: () => [], close: async () => {} };
  // The commands used (GET, SET with PX, DEL on one key) work the same on a Cluster.
  const client = redis as Redis | undefined;
  const tags = client ? new RedisTagStore(client, { prefix: config.redisPrefix }) : new MemoryTagStore();
  const refs = client ? new RedisRefStore(client, { prefix: config.redisPrefix }) : new MemoryRefStore();
  const clients = createClientPool();
  const createController = (source: ImageObjectSource, hooks: Partial<ControllerHooks> = {}) => {
    logger.info({ mode: client ? 'redis' : 'memory', source: kubernetes ? 'kubernetes' : 'manifests' }, 'image automation started');
    return new ImageController({
      source,
      tags,
      refs,
      clients,
      noCrossNamespaceRefs: config.noCrossNamespaceRefs,
      logger,
      onStatusChange: hooks.onStatusChange,
      onTrace: hooks.onTrace,
      dispatch: (event) => {
        dispatcher.dispatch(event).catch((err: unknown) => logger.error({ err: errorMessage(err), reason: event.reason }, 'cannot dispatch an image automation event'));
        hooks.onEvent?.(event);
      },
    });
  };
  if (kubernetes) return startInKubernetes(kubernetes, createController, { logger, queueReady, close: () => clients.close() });

  let controller: ImageController | undefined;
  const sync = () => {
    if (!controller && ImageController.wanted(store)) controller = createController(store);
    controller?.sync();
  };
  let waiting: NodeJS.Timeout | undefined;
  const start = () => {
    if (!queueReady()) {
      waiting = setTimeout(start, READY_POLL_MS);
      return;
    }
    store.on('changed', sync);
    sync();
  };
  start();
  return {
    statuses: () => controller?.statuses() ?? [],
    async close() {
      clearTimeout(waiting);
      store.removeListener('changed', sync);
      await controller?.close();
      await clients.close();
    },
  };
}

/** Kubernetes mode: loaded only then (the client takes most of a second to import), once the queue is ready. */
function startInKubernetes(
  kubernetes: NonNullable<ImageAutomationOptions['kubernetes']>,
  createController: (source: ImageObjectSource, hooks: ControllerHooks) => ImageController,
  { logger, queueReady, close }: { logger: Logger; queueReady(): boolean; close(): Promise<void> },
): ImageAutomation {
  let closed = false;
  let waiting: NodeJS.Timeout | undefined;
  const started = (async () => {
    const [{ startKubernetesImageAutomation }, { podNamespace, replicaIdentity }] = await Promise.all([
      import('./image/kubernetes/automation.js'),
      import('./resources/kubernetes/client.js'),
    ]);
    while (!queueReady() && !closed) await new Promise((resolve) => (waiting = setTimeout(resolve, READY_POLL_MS)));
    if (closed) return undefined;
    return startKubernetesImageAutomation({
      kubeConfig: kubernetes.kubeConfig,
      namespace: kubernetes.watchNamespace,
      // Herald's own namespace, where the chart grants Leases (whatever namespace is watched).
      leaseNamespace: podNamespace(),
      identity: replicaIdentity(),
      logger,
      createController,
    });
  })().catch((err: unknown) => {
    logger.error({ err: errorMessage(err) }, 'image automation could not start in Kubernetes mode');
    return undefined;
  });
  let running: Awaited<typeof started>;
  void started.then((r) => (running = r));
  return {
    statuses: () => running?.statuses() ?? [],
    async close() {
      closed = true;
      clearTimeout(waiting);
      await (await started)?.close();
      await close();
    },
  };
}
