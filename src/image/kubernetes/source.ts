/**
 * Image automation's objects read from Kubernetes: informers (the machinery Providers and
 * Alerts use, src/resources/kubernetes/informer.ts) for ImageRepository, ImagePolicy and
 * ImageUpdateAutomation (`image.toolkit.fluxcd.io/v1`; a CRD that also serves `v1beta2` lets
 * the API server hand those objects over as v1), for GitRepository
 * (`source.toolkit.fluxcd.io/v1`, read only: its status belongs to Flux's source-controller),
 * and for the Secrets they reference, one informer per Secret with a `metadata.name` field
 * selector, as for Providers: no other Secret is ever read.
 *
 * The controller sees each object without `resourceVersion` and other server-side metadata,
 * so a status write (which moves them) is not a change to reconcile; `status` is passed along
 * so that a new entry starts from what the API holds. A kind the cluster does not serve (no
 * CRD, no RBAC) keeps being retried with backoff up to five minutes, and counts as empty.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { objectKey, type Logger, type StoredObject } from '../../api/types.js';
import { startInformer, type BackoffOptions, type Informer } from '../../resources/kubernetes/informer.js';
import { IMAGE_GROUP } from '../types.js';
import { SOURCE_GROUP } from '../update/types.js';

export const IMAGE_VERSION = 'v1';
export const SOURCE_VERSION = 'v1';

export type WatchedKind = 'ImageRepository' | 'ImagePolicy' | 'ImageUpdateAutomation' | 'GitRepository';

const RESOURCES: Record<WatchedKind, { group: string; version: string; plural: string }> = {
  ImageRepository: { group: IMAGE_GROUP, version: IMAGE_VERSION, plural: 'imagerepositories' },
  ImagePolicy: { group: IMAGE_GROUP, version: IMAGE_VERSION, plural: 'imagepolicies' },
  ImageUpdateAutomation: { group: IMAGE_GROUP, version: IMAGE_VERSION, plural: 'imageupdateautomations' },
  GitRepository: { group: SOURCE_GROUP, version: SOURCE_VERSION, plural: 'gitrepositories' },
};

export const IMAGE_PLURALS = {
  ImageRepository: RESOURCES.ImageRepository.plural,
  ImagePolicy: RESOURCES.ImagePolicy.plural,
  ImageUpdateAutomation: RESOURCES.ImageUpdateAutomation.plural,
} as const;

const KINDS = Object.keys(RESOURCES) as WatchedKind[];

/** A kind the cluster lacks is asked for again at most every five minutes. */
const IMAGE_BACKOFF: BackoffOptions = { initialMs: 1_000, maxMs: 300_000 };

export interface ImageKubeSourceOptions {
  kubeConfig: KubeConfig;
  /** Watch only this namespace; every namespace when unset. */
  namespace?: string;
  logger: Logger;
  backoff?: BackoffOptions;
}

export interface ImageKubeSource {
  /** True once every kind was listed (or failed once) and every referenced Secret too. */
  readonly loaded: boolean;
  /** What the controller reads: every object of a kind, as the controller expects it. */
  objectsOf(group: string, kind: string): StoredObject[];
  /** A referenced Secret's data, decoded; undefined when not (yet) readable. */
  secretData(namespace: string, name: string): Readonly<Record<string, string>> | undefined;
  /** The object as last seen from the API (status and resourceVersion included). */
  object(kind: WatchedKind, namespace: string, name: string): KubernetesObject | undefined;
  /** Called on every change once loaded, and once when loaded. */
  onChange(listener: () => void): void;
  watchedSecrets(): string[];
  close(): Promise<void>;
}

/** Where each kind names a Secret in its own namespace. */
function secretNamesOf(kind: WatchedKind, obj: KubernetesObject): string[] {
  const spec = ((obj as { spec?: unknown }).spec ?? {}) as Record<string, unknown>;
  const nameAt = (value: unknown): string | undefined => {
    const name = (value as { name?: unknown } | undefined)?.name;
    return typeof name === 'string' && name !== '' ? name : undefined;
  };
  const names: Array<string | undefined> = [];
  if (kind === 'ImageRepository') names.push(nameAt(spec.secretRef), nameAt(spec.certSecretRef), nameAt(spec.proxySecretRef));
  if (kind === 'GitRepository') names.push(nameAt(spec.secretRef), nameAt(spec.proxySecretRef));
  if (kind === 'ImageUpdateAutomation') {
    const signingKey = ((spec.git as { commit?: { signingKey?: { secretRef?: unknown } } } | undefined)?.commit?.signingKey ?? {}).secretRef;
    names.push(nameAt(signingKey));
  }
  return names.filter((n): n is string => n !== undefined);
}

/** The controller's view of an API object: no server-side metadata, status kept aside. */
export function controllerView(obj: KubernetesObject): StoredObject {
  const meta = obj.metadata ?? {};
  const metadata: Record<string, unknown> = { name: meta.name ?? '', namespace: meta.namespace ?? 'default' };
  if (meta.uid) metadata.uid = meta.uid;
  if (typeof meta.generation === 'number') metadata.generation = meta.generation;
  if (meta.labels) metadata.labels = { ...meta.labels };
  if (meta.annotations) {
    // kubectl's copy of the last applied object changes with the spec; it adds nothing to it.
    const { 'kubectl.kubernetes.io/last-applied-configuration': _applied, ...annotations } = meta.annotations;
    if (Object.keys(annotations).length > 0) metadata.annotations = annotations;
  }
  const { spec, status } = obj as { spec?: unknown; status?: unknown };
  return { apiVersion: obj.apiVersion, kind: obj.kind, metadata, spec, ...(status !== undefined ? { status } : {}) } as unknown as StoredObject;
}

function decodeSecret(obj: KubernetesObject): Record<string, string> {
  const { data, stringData } = obj as { data?: Record<string, string>; stringData?: Record<string, string> };
  const decoded: Record<string, string> = {};
  for (const [key, value] of Object.entries(data ?? {})) decoded[key] = Buffer.from(value, 'base64').toString('utf8');
  return Object.assign(decoded, stringData ?? {});
}

export function startImageKubeSource(opts: ImageKubeSourceOptions): ImageKubeSource {
  const { kubeConfig, namespace, logger } = opts;
  const backoff = opts.backoff ?? IMAGE_BACKOFF;
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const listeners: Array<() => void> = [];
  const secrets = new Map<string, Informer>();
  let loaded = false;
  let closed = false;

  const changed = () => {
    if (!loaded || closed) return;
    for (const listener of listeners) listener();
  };

  function kindInformer(kind: WatchedKind): Informer {
    const { group, version, plural } = RESOURCES[kind];
    const base = `/apis/${group}/${version}`;
    const path = namespace ? `${base}/namespaces/${encodeURIComponent(namespace)}/${plural}` : `${base}/${plural}`;
    const list = (): Promise<KubernetesListObject<KubernetesObject>> =>
      namespace ? custom.listNamespacedCustomObject({ group, version, namespace, plural }) : custom.listClusterCustomObject({ group, version, plural });
    const onChange = () => {
      syncSecretWatches();
      changed();
    };
    return startInformer(
      kubeConfig,
      { name: plural, path, apiVersion: `${group}/${version}`, kind, list },
      {
        synced: () => {
          syncSecretWatches();
          maybeLoad();
        },
        failedBeforeSync: () => maybeLoad(),
        upsert: onChange,
        delete: onChange,
      },
      { logger, backoff },
    );
  }

  function secretInformer(secretNamespace: string, name: string): Informer {
    const fieldSelector = `metadata.name=${name}`;
    return startInformer(
      kubeConfig,
      {
        name: `secret ${secretNamespace}/${name}`,
        path: `/api/v1/namespaces/${encodeURIComponent(secretNamespace)}/secrets`,
        apiVersion: 'v1',
        kind: 'Secret',
        fieldSelector,
        list: () => core.listNamespacedSecret({ namespace: secretNamespace, fieldSelector }) as Promise<KubernetesListObject<KubernetesObject>>,
      },
      {
        synced: () => {
          maybeLoad();
          changed();
        },
        // An unreadable Secret must not hold the rest up: its users fail with a clear reason.
        failedBeforeSync: () => maybeLoad(),
        upsert: changed,
        delete: changed,
      },
      { logger, backoff: opts.backoff },
    );
  }

  const informers = Object.fromEntries(KINDS.map((kind) => [kind, kindInformer(kind)])) as Record<WatchedKind, Informer>;
  const settled = (informer: Informer) => informer.synced || informer.failedBeforeSync;

  function syncSecretWatches(): void {
    if (closed) return;
    const wanted = new Map<string, { namespace: string; name: string }>();
    for (const kind of KINDS) {
      for (const obj of informers[kind]?.list() ?? []) {
        for (const name of secretNamesOf(kind, obj)) {
          const ref = { namespace: obj.metadata?.namespace ?? 'default', name };
          wanted.set(objectKey(ref), ref);
        }
      }
    }
    for (const [key, ref] of wanted) if (!secrets.has(key)) secrets.set(key, secretInformer(ref.namespace, ref.name));
    for (const [key, informer] of secrets) {
      if (wanted.has(key)) continue;
      secrets.delete(key);
      void informer.stop();
    }
  }

  function maybeLoad(): void {
    if (loaded || closed) return;
    if (!KINDS.every((kind) => informers[kind] && settled(informers[kind]))) return;
    if (![...secrets.values()].every(settled)) return;
    loaded = true;
    logger.info(
      {
        namespace: namespace ?? '(all)',
        ...Object.fromEntries(KINDS.map((kind) => [RESOURCES[kind].plural, informers[kind].synced ? informers[kind].list().length : 'not served'])),
        secrets: secrets.size,
      },
      'image automation objects loaded from Kubernetes',
    );
    changed();
  }

  return {
    get loaded() {
      return loaded;
    },
    objectsOf(group, kind) {
      const watched = KINDS.find((k) => k === kind && RESOURCES[k].group === group);
      if (!loaded || !watched) return [];
      return informers[watched].list().map(controllerView);
    },
    secretData(secretNamespace, name) {
      const informer = secrets.get(objectKey({ namespace: secretNamespace, name }));
      const secret = informer?.get(secretNamespace, name);
      return secret && decodeSecret(secret);
    },
    object(kind, objectNamespace, name) {
      return informers[kind].get(objectNamespace, name);
    },
    onChange(listener) {
      listeners.push(listener);
    },
    watchedSecrets() {
      return [...secrets.keys()].sort();
    },
    async close() {
      closed = true;
      await Promise.all([...KINDS.map((kind) => informers[kind].stop()), ...[...secrets.values()].map((informer) => informer.stop())]);
      secrets.clear();
    },
  };
}
