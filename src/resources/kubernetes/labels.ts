/**
 * `matchLabels` in Kubernetes mode: the labels of an event's involved object, read from the API
 * as Flux does (a metadata-only GET of the object the event names), with a short-lived cache so
 * a burst of events about one object costs one request.
 *
 * No discovery: the path is built from the event's apiVersion and a plural taken from a table of
 * the kinds Flux's controllers report (and common core kinds), falling back to English plural
 * rules. A look-up that fails — not found, forbidden, unreachable, or an event without the
 * information — means "no labels": the source does not match, and a warning says why.
 */
import { KubernetesObjectApi, ServerConfiguration, createConfiguration, setHeaderMiddleware, type KubeConfig, type V1APIResource } from '@kubernetes/client-node';
import type { LabelLookup } from '../../alerts/matcher.js';
import type { ObjectReference } from '../../events/event.js';
import type { Logger } from '../../api/types.js';
import { describeApiError, statusCodeOf } from './client.js';

/** Kind → plural resource name and default apiVersion (used when an event has none). */
const KNOWN_KINDS: Record<string, { plural: string; apiVersion?: string }> = {
  GitRepository: { plural: 'gitrepositories', apiVersion: 'source.toolkit.fluxcd.io/v1' },
  HelmRepository: { plural: 'helmrepositories', apiVersion: 'source.toolkit.fluxcd.io/v1' },
  HelmChart: { plural: 'helmcharts', apiVersion: 'source.toolkit.fluxcd.io/v1' },
  Bucket: { plural: 'buckets', apiVersion: 'source.toolkit.fluxcd.io/v1' },
  OCIRepository: { plural: 'ocirepositories', apiVersion: 'source.toolkit.fluxcd.io/v1' },
  ExternalArtifact: { plural: 'externalartifacts', apiVersion: 'source.toolkit.fluxcd.io/v1' },
  ArtifactGenerator: { plural: 'artifactgenerators', apiVersion: 'source.extensions.fluxcd.io/v1beta1' },
  Kustomization: { plural: 'kustomizations', apiVersion: 'kustomize.toolkit.fluxcd.io/v1' },
  HelmRelease: { plural: 'helmreleases', apiVersion: 'helm.toolkit.fluxcd.io/v2' },
  ImageRepository: { plural: 'imagerepositories', apiVersion: 'image.toolkit.fluxcd.io/v1' },
  ImagePolicy: { plural: 'imagepolicies', apiVersion: 'image.toolkit.fluxcd.io/v1' },
  ImageUpdateAutomation: { plural: 'imageupdateautomations', apiVersion: 'image.toolkit.fluxcd.io/v1' },
  FluxInstance: { plural: 'fluxinstances', apiVersion: 'fluxcd.controlplane.io/v1' },
  ResourceSet: { plural: 'resourcesets', apiVersion: 'fluxcd.controlplane.io/v1' },
  ResourceSetInputProvider: { plural: 'resourcesetinputproviders', apiVersion: 'fluxcd.controlplane.io/v1' },
  Provider: { plural: 'providers' },
  Alert: { plural: 'alerts' },
  Receiver: { plural: 'receivers' },
  Endpoints: { plural: 'endpoints' },
  Ingress: { plural: 'ingresses' },
  NetworkPolicy: { plural: 'networkpolicies' },
  PodDisruptionBudget: { plural: 'poddisruptionbudgets' },
};

/** The resource name of a kind: from the table, else lower case with English plural rules. */
export function pluralOf(kind: string): string {
  const known = KNOWN_KINDS[kind]?.plural;
  if (known) return known;
  const lower = kind.toLowerCase();
  if (/[^aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  if (/(s|x|z|ch|sh)$/.test(lower)) return `${lower}es`;
  return `${lower}s`;
}

/** The API path of the object an event names, or why there is none. */
export function objectPath(ref: ObjectReference): { path: string; apiVersion: string } | { error: string } {
  const apiVersion = ref.apiVersion || KNOWN_KINDS[ref.kind]?.apiVersion;
  if (!apiVersion) return { error: `the event has no involvedObject.apiVersion and ${ref.kind} is not a known kind` };
  if (!ref.namespace) return { error: 'the event has no involvedObject.namespace' };
  const root = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const path = `${root}/namespaces/${encodeURIComponent(ref.namespace)}/${pluralOf(ref.kind)}/${encodeURIComponent(ref.name)}`;
  return { path, apiVersion };
}

/** Fetches one object's labels; undefined when it does not exist. */
export type LabelFetcher = (ref: ObjectReference, apiVersion: string) => Promise<Record<string, string> | undefined>;

/**
 * `KubernetesObjectApi` without discovery: its `resource()` look-up (one `GET /apis/<gv>` per
 * group version, needing list rights on discovery) is replaced by the plural table.
 */
class DiscoveryFreeObjectApi extends KubernetesObjectApi {
  protected override async resource(_apiVersion: string, kind: string): Promise<V1APIResource> {
    return { kind, name: pluralOf(kind), namespaced: true, singularName: kind.toLowerCase(), verbs: ['get'] };
  }
}

/** Reads labels through the Kubernetes API with a metadata-only GET (`PartialObjectMetadata`). */
export function apiLabelFetcher(kubeConfig: KubeConfig): LabelFetcher {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('the Kubernetes configuration has no current cluster');
  const api = new DiscoveryFreeObjectApi(
    createConfiguration({
      baseServer: new ServerConfiguration(cluster.server, {}),
      authMethods: { default: kubeConfig },
      middleware: [setHeaderMiddleware('Accept', 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json')],
    }),
  );
  return async (ref, apiVersion) => {
    try {
      const obj = await api.read({ apiVersion, kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } });
      return { ...(obj.metadata?.labels ?? {}) };
    } catch (err) {
      if (statusCodeOf(err) === 404) return undefined;
      throw err;
    }
  };
}

export interface CachedLabelLookupOptions {
  fetch: LabelFetcher;
  logger: Logger;
  /** How long an answer (labels or not-found) is reused; default 30 s. */
  ttlMs?: number;
  /** Entries kept at most (oldest dropped first); default 10 000. */
  maxEntries?: number;
  now?: () => number;
}

interface CacheEntry {
  expires: number;
  labels: Record<string, string> | undefined;
}

/**
 * A `LabelLookup` over `fetch` with a TTL cache. Concurrent look-ups of one object share one
 * request. Errors are not cached (the next event tries again) and resolve to undefined.
 */
export function cachedLabelLookup(opts: CachedLabelLookupOptions): LabelLookup {
  const { fetch, logger, ttlMs = 30_000, maxEntries = 10_000, now = Date.now } = opts;
  const cache = new Map<string, CacheEntry>();
  const inFlight = new Map<string, Promise<Record<string, string> | undefined>>();

  return (ref) => {
    const target = objectPath(ref);
    const what = `${ref.kind}/${ref.namespace ?? ''}/${ref.name}`;
    if ('error' in target) {
      logger.warn({ object: what, err: target.error }, 'cannot look up the labels of the involved object; matchLabels does not match');
      return undefined;
    }
    const key = target.path;
    const hit = cache.get(key);
    if (hit && hit.expires > now()) return hit.labels;
    const pending = inFlight.get(key);
    if (pending) return pending;

    const request = fetch(ref, target.apiVersion).then(
      (labels) => {
        cache.delete(key);
        cache.set(key, { expires: now() + ttlMs, labels });
        while (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
        if (!labels) logger.warn({ object: what }, 'involved object not found; matchLabels does not match');
        return labels;
      },
      (err: unknown) => {
        logger.warn({ object: what, err: describeApiError(err) }, 'cannot look up the labels of the involved object; matchLabels does not match');
        return undefined;
      },
    );
    inFlight.set(key, request);
    void request.finally(() => inFlight.delete(key));
    return request;
  };
}
