/**
 * Wires image automation into Herald: an `ImageController` over the resource store, its tags
 * and policy refs kept in Redis when Herald queues there (else in memory), its events handed
 * to the dispatcher as if a Flux controller had POSTed them. Started only when the store holds
 * an ImageRepository, ImagePolicy or ImageUpdateAutomation (checked again on every change, so
 * a manifest added later starts it) and `--no-image-automation` is not set.
 */
import type { Redis } from 'ioredis';
import type { Logger } from './api/types.js';
import { errorMessage } from './common/errors.js';
import type { EventDispatcher } from './delivery/dispatcher.js';
import type { RedisClient } from './delivery/redis-connection.js';
import { createClientPool } from './image/client-pool.js';
import { ImageController, type ImageResourceStatus } from './image/controller.js';
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
}

/** How often readiness is checked until the queue is ready. */
const READY_POLL_MS = 200;

export interface ImageAutomation {
  statuses(): ImageResourceStatus[];
  close(): Promise<void>;
}

export function startImageAutomation({ store, dispatcher, redis, config, logger, queueReady }: ImageAutomationOptions): ImageAutomation {
  if (config.noImageAutomation) return { statuses: () => [], close: async () => {} };
  // The commands used (GET, SET with PX, DEL on one key) work the same on a Cluster.
  const client = redis as Redis | undefined;
  const tags = client ? new RedisTagStore(client, { prefix: config.redisPrefix }) : new MemoryTagStore();
  const refs = client ? new RedisRefStore(client, { prefix: config.redisPrefix }) : new MemoryRefStore();
  const clients = createClientPool();
  let controller: ImageController | undefined;
  const sync = () => {
    if (!controller && ImageController.wanted(store)) {
      controller = new ImageController({
        source: store,
        tags,
        refs,
        clients,
        noCrossNamespaceRefs: config.noCrossNamespaceRefs,
        logger,
        dispatch: (event) => {
          dispatcher.dispatch(event).catch((err: unknown) => logger.error({ err: errorMessage(err), reason: event.reason }, 'cannot dispatch an image automation event'));
        },
      });
      logger.info({ mode: client ? 'redis' : 'memory' }, 'image automation started');
    }
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
