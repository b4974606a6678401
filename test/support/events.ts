/** Flux events as controllers send them, for tests and benchmarks. */
import type { FluxEvent } from '../../src/events/event.js';

export function kustomizationEvent(overrides: Partial<FluxEvent> = {}): FluxEvent {
  return {
    involvedObject: {
      kind: 'Kustomization',
      namespace: 'flux-system',
      name: 'apps',
      uid: 'cc4d0095-e4b8-4f1b-9a5e-1b2c3d4e5f60',
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      resourceVersion: '56921',
    },
    severity: 'info',
    timestamp: '2026-11-24T09:00:00Z',
    message: 'Reconciliation finished in 1.2s, next run in 10m0s',
    reason: 'ReconciliationSucceeded',
    metadata: {
      'kustomize.toolkit.fluxcd.io/revision': 'main@sha1:6f1d5e3c8a2b4f7e9d0c1b2a3f4e5d6c7b8a9f0e',
    },
    reportingController: 'kustomize-controller',
    reportingInstance: 'kustomize-controller-7f5d9c8b6-x2x4z',
    ...overrides,
  };
}

/** helm-controller's event about the HelmRelease `name` in flux-system. */
export function helmReleaseEvent(name: string, message: string): FluxEvent {
  return kustomizationEvent({
    message,
    reportingController: 'helm-controller',
    involvedObject: { kind: 'HelmRelease', namespace: 'flux-system', name, apiVersion: 'helm.toolkit.fluxcd.io/v2' },
  });
}
