/**
 * Which objects one `spec.resources` entry names, by Flux's rules: the Receiver's namespace
 * unless the entry sets one (refused under `--no-cross-namespace-refs` when it differs), a
 * default `apiVersion` for Flux's source kinds only, and `*` only with `matchLabels`.
 */
import { DEFAULT_API_VERSIONS, type ReceiverResource, type TargetObject } from './types.js';

export interface TargetRef {
  apiVersion: string;
  kind: string;
  namespace: string;
}

/**
 * Where a Receiver finds its targets: the Kubernetes API (a get, and a list with a label
 * selector) or the resource store in manifests mode.
 */
export interface TargetResolver {
  /** The named object's metadata, or undefined when it does not exist. */
  get(ref: TargetRef & { name: string }): Promise<TargetObject | undefined>;
  /** The objects of that kind in that namespace whose labels include every `matchLabels` pair. */
  list(ref: TargetRef & { matchLabels: Readonly<Record<string, string>> }): Promise<TargetObject[]>;
}

export type ResolvedTargets = { ok: true; targets: TargetObject[] } | { ok: false; error: string };

export async function resolveTargets(
  resource: ReceiverResource,
  receiverNamespace: string,
  noCrossNamespaceRefs: boolean,
  resolver: TargetResolver,
): Promise<ResolvedTargets> {
  const namespace = resource.namespace ?? receiverNamespace;
  if (noCrossNamespaceRefs && namespace !== receiverNamespace) return { ok: false, error: 'cross-namespace references are not allowed' };
  const apiVersion = resource.apiVersion ?? DEFAULT_API_VERSIONS[resource.kind];
  if (!apiVersion) return { ok: false, error: `apiVersion must be specified for kind "${resource.kind}"` };
  const ref = { apiVersion, kind: resource.kind, namespace };
  if (resource.name === '*') {
    if (!resource.matchLabels) return { ok: false, error: "matchLabels field not set when using wildcard '*' as name" };
    return { ok: true, targets: await resolver.list({ ...ref, matchLabels: resource.matchLabels }) };
  }
  const target = await resolver.get({ ...ref, name: resource.name });
  if (!target) return { ok: false, error: `unable to read ${resource.kind} "${namespace}/${resource.name}": not found` };
  return { ok: true, targets: [target] };
}

function labelsMatch(labels: Readonly<Record<string, string>> | undefined, wanted: Readonly<Record<string, string>>): boolean {
  return Object.entries(wanted).every(([key, value]) => labels?.[key] === value);
}

/**
 * A resolver over objects held in memory (the manifests directory): the API group must match
 * (any version of it), as the API server serves every version of a kind.
 */
export function memoryTargetResolver(objects: () => Iterable<TargetObject>): TargetResolver {
  const group = (apiVersion: string) => (apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.lastIndexOf('/')) : '');
  const sameKind = (obj: TargetObject, ref: TargetRef) =>
    obj.kind === ref.kind && obj.metadata.namespace === ref.namespace && group(obj.apiVersion) === group(ref.apiVersion);
  return {
    get: async (ref) => [...objects()].find((obj) => sameKind(obj, ref) && obj.metadata.name === ref.name),
    list: async (ref) => [...objects()].filter((obj) => sameKind(obj, ref) && labelsMatch(obj.metadata.labels, ref.matchLabels)),
  };
}
