/**
 * One informer: `@kubernetes/client-node`'s `ListWatch` (list, then watch from the list's
 * resourceVersion; on `410 Gone` — an HTTP 410 or an `ERROR` event with code 410 — it relists
 * and reports the differences as add / update / delete), plus what it leaves to its user:
 * reconnecting with backoff after any other failure (the library stops there), and telling
 * when the first list has been applied.
 */
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../../api/types.js';
import { describeApiError } from './client.js';

export interface InformerSpec {
  /** For logs, e.g. `providers` or `secret flux-system/slack-token`. */
  name: string;
  /** The collection's API path, e.g. `/apis/notification.toolkit.fluxcd.io/v1beta3/providers`. */
  path: string;
  /** The objects' `apiVersion` and `kind`, set on every object (items of core lists carry neither). */
  apiVersion: string;
  kind: string;
  list: () => Promise<KubernetesListObject<KubernetesObject>>;
  fieldSelector?: string;
}

export interface InformerHandlers {
  /** The first list has been applied (called once). */
  synced?: () => void;
  /** A list or watch failed before the first list was applied (called on each such failure). */
  failedBeforeSync?: () => void;
  upsert: (obj: KubernetesObject) => void;
  delete: (obj: KubernetesObject) => void;
}

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1_000, maxMs: 30_000 };

export interface Informer {
  /** True once the first list has been applied. */
  readonly synced: boolean;
  /** True when an attempt failed before the first list was applied (it keeps retrying). */
  readonly failedBeforeSync: boolean;
  /** The objects as last seen (status included), `apiVersion` and `kind` set. */
  get(namespace: string, name: string): KubernetesObject | undefined;
  list(): readonly KubernetesObject[];
  stop(): Promise<void>;
}

/** Exponential backoff with ±20 % jitter: attempt 1 waits about `initialMs`. */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const base = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}

class StoppedError extends Error {
  constructor() {
    super('informer stopped');
  }
}

export function startInformer(
  kubeConfig: KubeConfig,
  spec: InformerSpec,
  handlers: InformerHandlers,
  opts: { logger: Logger; backoff?: BackoffOptions },
): Informer {
  const backoff = opts.backoff ?? DEFAULT_BACKOFF;
  let synced = false;
  let failedBeforeSync = false;
  let stopped = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;

  const typed = (obj: KubernetesObject): KubernetesObject => {
    obj.apiVersion = spec.apiVersion;
    obj.kind = spec.kind;
    return obj;
  };
  let lastListAt = 0;
  let quickRelists = 0;
  const list = async () => {
    // ListWatch relists at once after a 410; a server that keeps answering 410 would make that
    // a hot loop, so relists that follow each other closely back off too.
    if (lastListAt > 0 && Date.now() - lastListAt < backoff.initialMs) {
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(++quickRelists, backoff)));
    } else {
      quickRelists = 0;
    }
    lastListAt = Date.now();
    if (stopped) throw new StoppedError();
    const result = await spec.list();
    // Stopped meanwhile: fail, or ListWatch would open a watch nobody stops.
    if (stopped) throw new StoppedError();
    for (const item of result.items ?? []) typed(item);
    failures = 0;
    // ListWatch applies the list synchronously once this promise settles; report after that,
    // without waiting for the watch to connect.
    if (!synced) setImmediate(markSynced);
    return result;
  };
  const markSynced = () => {
    if (synced || stopped) return;
    synced = true;
    handlers.synced?.();
  };
  const informer = new ListWatch<KubernetesObject>(spec.path, new Watch(kubeConfig), list, false, undefined, spec.fieldSelector);

  const upsert = (obj: KubernetesObject) => {
    failures = 0;
    if (synced && !stopped) handlers.upsert(typed(obj));
  };
  informer.on('add', upsert);
  informer.on('update', upsert);
  informer.on('delete', (obj) => {
    if (synced && !stopped) handlers.delete(typed(obj));
  });
  informer.on('error', (err: unknown) => {
    if (stopped) return; // aborting the watch on stop reports an AbortError
    failures++;
    const delayMs = backoffDelay(failures, backoff);
    opts.logger.warn({ informer: spec.name, err: describeApiError(err), retryInMs: delayMs }, 'Kubernetes list/watch failed; retrying');
    clearTimeout(timer);
    timer = setTimeout(() => void run(), delayMs);
    if (!synced) {
      failedBeforeSync = true;
      handlers.failedBeforeSync?.();
    }
  });

  async function run(): Promise<void> {
    if (stopped) return;
    // Resolves once the watch is open, or after the error handler ran.
    await informer.start();
  }

  void run();

  return {
    get synced() {
      return synced;
    },
    get failedBeforeSync() {
      return failedBeforeSync;
    },
    get(namespace, name) {
      return informer.get(name, namespace);
    },
    list() {
      return informer.list();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await informer.stop();
    },
  };
}
