/**
 * The Kubernetes source of the resource store: informers for Flux's `Provider` and `Alert`
 * (`notification.toolkit.fluxcd.io/v1beta3`) and `Receiver` (`v1`), every namespace or one, and
 * for the Secrets those Providers and Receivers reference, feeding the same store and validation
 * as the manifests directory. A cluster without the Receiver CRD still loads the other kinds.
 *
 * Secrets: only referenced ones are watched, one informer per Secret with a
 * `metadata.name=<name>` field selector in the Provider's namespace. Nothing else is read, no
 * Secret outside that set is ever held in memory, and no labels need to be put on Secrets; the
 * cost is one watch connection per referenced Secret (Providers share them).
 *
 * Loading: nothing reaches the store until the Providers and Alerts are listed and every Secret
 * they reference is listed too (or failed once: an unreadable Secret must not hold up the rest);
 * then one snapshot (`replaceAll`) marks the store loaded, so `/readyz` does not report a
 * half-loaded state in which Providers look `SecretNotFound` for no reason. After
 * that each change is one `upsert` / `remove`. Objects reach the store without their
 * `resourceVersion`, so a status write (which moves it) is not a change the store re-evaluates.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { toStoredObject, type ManifestProblem } from '../manifests.js';
import type { ResourceStore } from '../store.js';
import { NOTIFICATION_GROUP, objectKey, type Logger, type StoredObject } from '../../api/types.js';
import { loadKubeConfig } from './client.js';
import { startInformer, type BackoffOptions, type Informer } from './informer.js';

export const NOTIFICATION_VERSION = 'v1beta3';
export const NOTIFICATION_API_VERSION = `${NOTIFICATION_GROUP}/${NOTIFICATION_VERSION}`;

export interface KubernetesSourceOptions {
  /** Watch only this namespace; every namespace when unset. */
  namespace?: string;
  logger: Logger;
  /** Defaults to `loadKubeConfig()` (KUBECONFIG, in-cluster, ~/.kube/config). */
  kubeConfig?: KubeConfig;
  backoff?: BackoffOptions;
}

export type NotificationKind = 'Provider' | 'Alert' | 'Receiver';

/** Flux serves Receivers at v1 (Providers and Alerts at v1beta3). */
export const RECEIVER_VERSION = 'v1';

/** The API version each kind is read and its status written at. */
export const NOTIFICATION_VERSIONS: Record<NotificationKind, string> = { Provider: NOTIFICATION_VERSION, Alert: NOTIFICATION_VERSION, Receiver: RECEIVER_VERSION };

export interface KubernetesSource {
  readonly kubeConfig: KubeConfig;
  /** True once the first snapshot reached the store. */
  readonly loaded: boolean;
  /** A Provider or Alert as last seen from the API (with its `status`), or undefined. */
  object(kind: NotificationKind, namespace: string, name: string): KubernetesObject | undefined;
  /** Every Provider or Alert as last seen from the API. */
  objects(kind: NotificationKind): readonly KubernetesObject[];
  /** Called whenever a Provider or Alert as seen from the API changes (status included), and once when loaded. */
  onObjectChange(listener: (kind: NotificationKind, namespace: string, name: string) => void): void;
  /** `namespace/name` of each Secret watched now. */
  watchedSecrets(): string[];
  close(): Promise<void>;
}

interface SecretWatch {
  informer: Informer;
  namespace: string;
  name: string;
}

const PLURALS: Record<NotificationKind, string> = { Provider: 'providers', Alert: 'alerts', Receiver: 'receivers' };

/** Starts the informers and returns at once; the store is loaded when `loaded` turns true. */
export function startKubernetesSource(store: ResourceStore, opts: KubernetesSourceOptions): KubernetesSource {
  const kubeConfig = opts.kubeConfig ?? loadKubeConfig();
  const { namespace, logger } = opts;
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const listeners: Array<(kind: NotificationKind, namespace: string, name: string) => void> = [];
  const secrets = new Map<string, SecretWatch>();
  let loaded = false;
  let closed = false;

  const notify = (kind: NotificationKind, obj: KubernetesObject) => {
    const meta = obj.metadata ?? {};
    for (const listener of listeners) listener(kind, meta.namespace ?? 'default', meta.name ?? '');
  };

  function notificationInformer(kind: NotificationKind): Informer {
    const plural = PLURALS[kind];
    const version = NOTIFICATION_VERSIONS[kind];
    const base = `/apis/${NOTIFICATION_GROUP}/${version}`;
    const path = namespace ? `${base}/namespaces/${encodeURIComponent(namespace)}/${plural}` : `${base}/${plural}`;
    const list = (): Promise<KubernetesListObject<KubernetesObject>> =>
      namespace
        ? custom.listNamespacedCustomObject({ group: NOTIFICATION_GROUP, version, namespace, plural })
        : custom.listClusterCustomObject({ group: NOTIFICATION_GROUP, version, plural });
    const referencesSecrets = kind !== 'Alert';
    return startInformer(
      kubeConfig,
      { name: plural, path, apiVersion: `${NOTIFICATION_GROUP}/${version}`, kind, list },
      {
        synced: () => {
          syncSecretWatches();
          maybeLoad();
        },
        // Receivers only: a cluster without their CRD (or without RBAC for them) still loads Providers and Alerts.
        ...(kind === 'Receiver' && { failedBeforeSync: () => maybeLoad() }),
        upsert: (obj) => {
          if (referencesSecrets) syncSecretWatches();
          if (loaded) upsert(obj);
          notify(kind, obj);
        },
        delete: (obj) => {
          if (referencesSecrets) syncSecretWatches();
          if (loaded) remove(obj);
          notify(kind, obj);
        },
      },
      { logger, backoff: opts.backoff },
    );
  }

  function secretInformer(secretNamespace: string, name: string): Informer {
    const path = `/api/v1/namespaces/${encodeURIComponent(secretNamespace)}/secrets`;
    const fieldSelector = `metadata.name=${name}`;
    return startInformer(
      kubeConfig,
      {
        name: `secret ${secretNamespace}/${name}`,
        path,
        apiVersion: 'v1',
        kind: 'Secret',
        fieldSelector,
        list: () => core.listNamespacedSecret({ namespace: secretNamespace, fieldSelector }) as Promise<KubernetesListObject<KubernetesObject>>,
      },
      {
        synced: () => {
          // A Secret referenced after the initial load: its first list goes to the store now.
          if (loaded) for (const obj of secrets.get(objectKey({ namespace: secretNamespace, name }))?.informer.list() ?? []) upsert(obj);
          maybeLoad();
        },
        // A Secret Herald cannot read (RBAC, say) must not keep every other resource from
        // loading: its Providers load as SecretNotFound, and it keeps being retried.
        failedBeforeSync: () => maybeLoad(),
        upsert: (obj) => loaded && upsert(obj),
        delete: (obj) => loaded && remove(obj),
      },
      { logger, backoff: opts.backoff },
    );
  }

  const providers = notificationInformer('Provider');
  const alerts = notificationInformer('Alert');
  const receivers = notificationInformer('Receiver');
  const informers: Record<NotificationKind, Informer> = { Provider: providers, Alert: alerts, Receiver: receivers };

  /** Starts an informer for each newly referenced Secret and stops those no Provider references any more. */
  function syncSecretWatches(): void {
    if (closed || !providers.synced) return;
    const wanted = new Map<string, { namespace: string; name: string }>();
    for (const provider of [...providers.list(), ...receivers.list()]) {
      const meta = provider.metadata ?? {};
      const spec = ((provider as { spec?: Record<string, { name?: unknown } | undefined> }).spec ?? {}) as Record<string, { name?: unknown } | undefined>;
      for (const field of ['secretRef', 'certSecretRef', 'proxySecretRef']) {
        const name = spec[field]?.name;
        if (typeof name !== 'string' || name === '') continue;
        const ref = { namespace: meta.namespace ?? 'default', name };
        wanted.set(objectKey(ref), ref);
      }
    }
    for (const [key, ref] of wanted) {
      if (!secrets.has(key)) secrets.set(key, { ...ref, informer: secretInformer(ref.namespace, ref.name) });
    }
    for (const [key, watch] of secrets) {
      if (wanted.has(key)) continue;
      secrets.delete(key);
      void watch.informer.stop();
      if (loaded) store.remove('Secret', watch.namespace, watch.name, 'v1');
    }
  }

  function maybeLoad(): void {
    if (loaded || closed || !providers.synced || !alerts.synced || !(receivers.synced || receivers.failedBeforeSync)) return;
    if ([...secrets.values()].some((watch) => !watch.informer.synced && !watch.informer.failedBeforeSync)) return;
    const objects: StoredObject[] = [];
    const problems: ManifestProblem[] = [];
    const raw = [...providers.list(), ...alerts.list(), ...receivers.list(), ...[...secrets.values()].flatMap((watch) => watch.informer.list())];
    for (const obj of raw) {
      const result = convert(obj);
      if ('object' in result) objects.push(result.object);
      else if (result.unusable) objects.push(result.unusable);
      if ('error' in result) problems.push({ file: `kubernetes:${obj.kind} ${objectKey({ namespace: obj.metadata?.namespace, name: obj.metadata?.name ?? '' })}`, message: result.error });
    }
    loaded = true;
    store.replaceAll(objects, problems);
    for (const problem of problems) logger.warn({ ...problem }, 'object not loaded');
    logger.info(
      { namespace: namespace ?? '(all)', providers: providers.list().length, alerts: alerts.list().length, receivers: receivers.list().length, secrets: secrets.size },
      'Kubernetes resources loaded',
    );
    for (const obj of [...providers.list(), ...alerts.list(), ...receivers.list()]) notify(obj.kind as NotificationKind, obj);
  }

  function upsert(obj: KubernetesObject): void {
    const result = convert(obj);
    if ('object' in result) {
      store.upsert(result.object);
      return;
    }
    if (result.unusable) {
      // Stored all the same: the Providers naming it then say why it cannot be used.
      logger.warn({ kind: obj.kind, resource: objectKey(result.unusable.metadata), err: result.error }, 'object not usable');
      store.upsert(result.unusable);
      return;
    }
    // The API server's schema normally rejects such objects; if one gets through, it is unusable.
    const meta = obj.metadata ?? {};
    logger.warn({ kind: obj.kind, resource: objectKey({ namespace: meta.namespace, name: meta.name ?? '' }), err: result.error }, 'object not loaded');
    store.remove(obj.kind ?? '', meta.namespace ?? 'default', meta.name ?? '', obj.apiVersion);
  }

  function remove(obj: KubernetesObject): void {
    const meta = obj.metadata ?? {};
    store.remove(obj.kind ?? '', meta.namespace ?? 'default', meta.name ?? '', obj.apiVersion);
  }

  return {
    kubeConfig,
    get loaded() {
      return loaded;
    },
    object(kind, objectNamespace, name) {
      return informers[kind].get(objectNamespace, name);
    },
    objects(kind) {
      return informers[kind].list();
    },
    onObjectChange(listener) {
      listeners.push(listener);
    },
    watchedSecrets() {
      return [...secrets.keys()].sort();
    },
    async close() {
      closed = true;
      await Promise.all([providers.stop(), alerts.stop(), receivers.stop(), ...[...secrets.values()].map((watch) => watch.informer.stop())]);
      secrets.clear();
    },
  };
}

/** The store's form of an API object: `toStoredObject`, minus the `resourceVersion` (see the module comment). */
export function convert(obj: KubernetesObject): ReturnType<typeof toStoredObject> {
  const { metadata, ...rest } = obj as KubernetesObject & Record<string, unknown>;
  const { resourceVersion: _rv, ...meta } = metadata ?? {};
  return toStoredObject({ ...rest, metadata: meta });
}
