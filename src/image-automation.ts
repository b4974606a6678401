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
import type { ImageController, ImageObjectSource, ImageResourceStatus } from './image/controller.js';
import { holdsImageObjects } from './image/kinds.js';
import type { ControllerHooks } from './image/kubernetes/automation.js';
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

/** Builds the controllers: loaded once image objects exist (registry clients, git, YAML setters: about 1.7 MB of heap otherwise held by every Herald). */
interface ControllerFactory {
  create(source: ImageObjectSource, hooks?: Partial<ControllerHooks>): ImageController;
  close(): Promise<void>;
}

async function loadControllerFactory({ dispatcher, redis, config, logger, kubernetes }: ImageAutomationOptions): Promise<ControllerFactory> {
  const [{ ImageController }, { createClientPool }, { MemoryRefStore, RedisRefStore }, { MemoryTagStore, RedisTagStore }] = await Promise.all([
    import('./image/controller.js'),
    import('./image/client-pool.js'),
    import('./image/ref-store.js'),
    import('./image/tag-store.js'),
  ]);
  // The commands used (GET, SET with PX, DEL on one key) work the same on a Cluster.
  const client = redis as Redis | undefined;
  const tags = client ? new RedisTagStore(client, { prefix: config.redisPrefix }) : new MemoryTagStore();
  const refs = client ? new RedisRefStore(client, { prefix: config.redisPrefix }) : new MemoryRefStore();
  const clients = createClientPool();
  return {
    create: (source, hooks = {}) => {
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
    },
    close: () => clients.close(),
  };
}

export function startImageAutomation(opts: ImageAutomationOptions): ImageAutomation {
  const { store, config, logger, queueReady, kubernetes } = opts;
  if (config.noImageAutomation) return { statuses: () => [], close: async () => {} };
  let factory: Promise<ControllerFactory> | undefined;
  const loadFactory = () => (factory ??= loadControllerFactory(opts));
  const closeFactory = async () => factory?.then((loaded) => loaded.close(), () => undefined);
  if (kubernetes) return startInKubernetes(kubernetes, loadFactory, { logger, queueReady, close: closeFactory });

  let controller: ImageController | undefined;
  let starting: Promise<void> | undefined;
  let closed = false;
  const sync = () => {
    if (controller) return controller.sync();
    if (starting || !holdsImageObjects(store)) return;
    starting = loadFactory().then(
      ({ create }) => {
        if (closed) return;
        controller = create(store);
        controller.sync();
      },
      (err: unknown) => logger.error({ err: errorMessage(err) }, 'image automation could not start'),
    );
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
      closed = true;
      clearTimeout(waiting);
      store.removeListener('changed', sync);
      await starting;
      await controller?.close();
      await closeFactory();
    },
  };
}

/** Kubernetes mode: loaded only then (the client takes most of a second to import), once the queue is ready. */
function startInKubernetes(
  kubernetes: NonNullable<ImageAutomationOptions['kubernetes']>,
  loadFactory: () => Promise<ControllerFactory>,
  { logger, queueReady, close }: { logger: Logger; queueReady(): boolean; close(): Promise<void> },
): ImageAutomation {
  let closed = false;
  let waiting: NodeJS.Timeout | undefined;
  const started = (async () => {
    const [{ startKubernetesImageAutomation }, { podNamespace, replicaIdentity }, { create }] = await Promise.all([
      import('./image/kubernetes/automation.js'),
      import('./resources/kubernetes/client.js'),
      loadFactory(),
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
      createController: create,
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
