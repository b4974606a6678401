/**
 * Connecting to the Kubernetes API: which configuration to use, and the small helpers the
 * Kubernetes source's parts share (error codes, the pod's namespace, this replica's identity).
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import { ApiException, KubeConfig } from '@kubernetes/client-node';

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * The configuration kubectl and controller-runtime would pick: the files named by `KUBECONFIG`
 * when set; otherwise the in-cluster configuration when running in a pod (service account token
 * and `KUBERNETES_SERVICE_HOST`); otherwise `~/.kube/config`. Unlike the client library's
 * `loadFromDefault`, it never falls back to `http://localhost:8080`: no configuration is an error.
 */
export function loadKubeConfig(): KubeConfig {
  const env = process.env;
  const kc = new KubeConfig();
  if (env.KUBECONFIG) {
    kc.loadFromDefault();
  } else if (env.KUBERNETES_SERVICE_HOST && existsSync(join(SERVICE_ACCOUNT_DIR, 'token'))) {
    kc.loadFromCluster();
  } else if (existsSync(join(homedir(), '.kube', 'config'))) {
    kc.loadFromDefault();
  } else {
    throw new Error('no Kubernetes configuration: not running in a pod, KUBECONFIG is not set and ~/.kube/config does not exist');
  }
  if (!kc.getCurrentCluster()) throw new Error(`the Kubernetes configuration has no current cluster (context "${kc.getCurrentContext()}")`);
  return kc;
}

/** The namespace Herald runs in: `HERALD_POD_NAMESPACE`, else the service account's, else `flux-system`. */
export function podNamespace(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HERALD_POD_NAMESPACE) return env.HERALD_POD_NAMESPACE;
  try {
    const namespace = readFileSync(join(SERVICE_ACCOUNT_DIR, 'namespace'), 'utf8').trim();
    if (namespace) return namespace;
  } catch {
    // not in a pod
  }
  return 'flux-system';
}

/** This replica, as a Lease holder and an Event's reporting instance: the pod name (hostname) and PID. */
export function replicaIdentity(): string {
  return `${hostname()}_${process.pid}`;
}

/** The HTTP status of a failed API call (`ApiException`, or a watch error), if there is one. */
export function statusCodeOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  if (typeof err === 'object' && err !== null) {
    const { statusCode, code } = err as { statusCode?: unknown; code?: unknown };
    if (typeof statusCode === 'number') return statusCode;
    if (typeof code === 'number') return code;
  }
  return undefined;
}

/** A short, secret-free description of a failed API call for logs. */
export function describeApiError(err: unknown): string {
  if (err instanceof ApiException) {
    const body = err.body as { message?: unknown } | string | undefined;
    const message = typeof body === 'object' && body && typeof body.message === 'string' ? body.message : undefined;
    return `HTTP ${err.code}${message ? `: ${message}` : ''}`;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}
