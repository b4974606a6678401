/**
 * The Kubernetes side of a Receiver, as Flux does it: a GET of each named object, a list with
 * a label selector for `*`, and a JSON merge patch of `reconcile.fluxcd.io/requestedAt` on each
 * target (Flux's controllers reconcile when that value changes).
 */
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type KubernetesListObject } from '@kubernetes/client-node';
import type { RequestReconcile } from './routes.js';
import type { TargetResolver } from './targets.js';
import type { TargetObject } from './types.js';

export const RECONCILE_REQUEST_ANNOTATION = 'reconcile.fluxcd.io/requestedAt';

/** The resource names of the kinds Flux's Receiver CRD accepts; anything else is refused by the CRD. */
const PLURALS: Readonly<Record<string, string>> = {
  Bucket: 'buckets',
  GitRepository: 'gitrepositories',
  Kustomization: 'kustomizations',
  HelmRelease: 'helmreleases',
  HelmChart: 'helmcharts',
  HelmRepository: 'helmrepositories',
  ImageRepository: 'imagerepositories',
  ImagePolicy: 'imagepolicies',
  ImageUpdateAutomation: 'imageupdateautomations',
  OCIRepository: 'ocirepositories',
  ArtifactGenerator: 'artifactgenerators',
  ExternalArtifact: 'externalartifacts',
};

function coordinates(apiVersion: string, kind: string) {
  const slash = apiVersion.lastIndexOf('/');
  const plural = PLURALS[kind];
  if (slash < 0 || !plural) throw new Error(`${kind} of ${apiVersion} is not a kind a Receiver can reconcile`);
  return { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1), plural };
}

function statusCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Only what a filter's `res` reads (Flux hands it a PartialObjectMetadata). */
function toTarget(obj: { apiVersion?: string; kind?: string; metadata?: Record<string, unknown> }, apiVersion: string, kind: string): TargetObject {
  const metadata = { ...(obj.metadata ?? {}) } as TargetObject['metadata'];
  delete (metadata as Record<string, unknown>).managedFields;
  return { apiVersion: obj.apiVersion ?? apiVersion, kind: obj.kind ?? kind, metadata };
}

/**
 * Go's `time.Time.String()` of now, which is what Flux writes (`metav1.Now().String()`), without
 * the monotonic clock part: any new value triggers a reconcile; the form is only for humans.
 */
export function reconcileRequestValue(now: Date): string {
  const iso = now.toISOString(); // 2026-11-30T12:00:00.123Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000000 +0000 UTC`;
}

export function kubernetesReceiverTargets(kubeConfig: KubeConfig, now: () => Date = () => new Date()): { targets: TargetResolver; requestReconcile: RequestReconcile } {
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const targets: TargetResolver = {
    async get({ apiVersion, kind, namespace, name }) {
      try {
        const obj = (await api.getNamespacedCustomObject({ ...coordinates(apiVersion, kind), namespace, name })) as Record<string, unknown>;
        return toTarget(obj, apiVersion, kind);
      } catch (error) {
        if (statusCode(error) === 404) return undefined;
        throw error;
      }
    },
    async list({ apiVersion, kind, namespace, matchLabels }) {
      const labelSelector = Object.entries(matchLabels).map(([key, value]) => `${key}=${value}`).join(',');
      const list = (await api.listNamespacedCustomObject({ ...coordinates(apiVersion, kind), namespace, labelSelector })) as KubernetesListObject<{
        metadata?: Record<string, unknown>;
      }>;
      return list.items.map((item) => toTarget(item, apiVersion, kind));
    },
  };
  const requestReconcile: RequestReconcile = async (_receiver, objects) => {
    for (const target of objects) {
      const { name, namespace } = target.metadata;
      await api.patchNamespacedCustomObject(
        { ...coordinates(target.apiVersion, target.kind), namespace, name, body: { metadata: { annotations: { [RECONCILE_REQUEST_ANNOTATION]: reconcileRequestValue(now()) } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    }
  };
  return { targets, requestReconcile };
}
