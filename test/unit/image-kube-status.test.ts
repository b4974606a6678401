/**
 * What image automation writes to the status subresource in Kubernetes mode: the status a
 * controller entry maps to (desiredStatus), and the merge patch from the object's current status
 * (imageStatusPatch) — nothing when they agree, whole-second times, `null` for what goes.
 */
import { describe, expect, it } from 'vitest';
import type { ImageResourceStatus } from '../../src/image/controller.js';
import { desiredStatus, imageStatusPatch } from '../../src/image/kubernetes/status.js';
import { controllerView } from '../../src/image/kubernetes/source.js';

const ready = { type: 'Ready' as const, status: 'True' as const, reason: 'Succeeded', message: 'repository up-to-date', lastTransitionTime: '2026-12-01T18:00:00.123Z' };

function resource(kind: ImageResourceStatus['kind'], status: unknown, extra: Partial<ImageResourceStatus> = {}): ImageResourceStatus {
  return { kind, namespace: 'flux-system', name: 'app', ready, status, ...extra };
}

const object = (status?: unknown) => ({ apiVersion: 'image.toolkit.fluxcd.io/v1', kind: 'ImagePolicy', metadata: { name: 'app', namespace: 'flux-system', generation: 3 }, ...(status ? { status } : {}) });

describe('desiredStatus', () => {
  it('an automation: its fields, the Ready condition beside them with the generation, times in whole seconds', () => {
    const status = desiredStatus(
      resource('ImageUpdateAutomation', {
        lastAutomationRunTime: '2026-12-01T18:00:01.999Z',
        lastPushCommit: 'abc',
        lastPushTime: '2026-12-01T18:00:02.5Z',
        observedPolicies: { app: { name: 'img', tag: '1.0.0' } },
      }),
      3,
    );
    expect(status).toEqual({
      lastAutomationRunTime: '2026-12-01T18:00:01Z',
      lastPushCommit: 'abc',
      lastPushTime: '2026-12-01T18:00:02Z',
      observedPolicies: { app: { name: 'img', tag: '1.0.0' } },
      observedGeneration: 3,
      conditions: [{ ...ready, observedGeneration: 3, lastTransitionTime: '2026-12-01T18:00:00Z' }],
    });
  });

  it('a repository or policy keeps its own conditions (Reconciling, Stalled) and observedGeneration', () => {
    const conditions = [
      { ...ready, status: 'False', reason: 'ReadOperationFailed', message: 'scan failed: 401', observedGeneration: 2 },
      { type: 'Reconciling', status: 'True', reason: 'ProgressingWithRetry', message: 'retrying', lastTransitionTime: '2026-12-01T18:00:00Z' },
    ];
    const status = desiredStatus(resource('ImageRepository', { observedGeneration: 1, conditions }, { ready: { ...ready, status: 'False' } }), 2);
    expect(status?.observedGeneration).toBe(1);
    expect((status?.conditions as Array<{ type: string; lastTransitionTime: string }>).map((c) => [c.type, c.lastTransitionTime])).toEqual([
      ['Ready', '2026-12-01T18:00:00Z'],
      ['Reconciling', '2026-12-01T18:00:00Z'],
    ]);
  });

  it('an invalid object reports its problems as the Ready condition; nothing before the first reconcile; never a GitRepository', () => {
    const invalid = { ...ready, status: 'False' as const, reason: 'InvalidSpec', message: 'spec.image: required' };
    expect(desiredStatus(resource('ImagePolicy', undefined, { ready: invalid, problems: ['spec.image: required'] }), 1)).toEqual({
      conditions: [{ ...invalid, lastTransitionTime: '2026-12-01T18:00:00Z' }],
    });
    expect(desiredStatus(resource('ImagePolicy', undefined), 1)).toBeUndefined();
    expect(desiredStatus(resource('GitRepository', {}, { problems: ['spec.url: required'] }), 1)).toBeUndefined();
  });
});

describe('imageStatusPatch', () => {
  const desired = { observedGeneration: 3, conditions: [{ ...ready, lastTransitionTime: '2026-12-01T18:00:00Z' }], latestRef: { name: 'img', tag: '1.1.0' } };

  it('nothing when the API holds the same (in any key order)', () => {
    const current = object({ latestRef: { tag: '1.1.0', name: 'img' }, conditions: [{ ...ready, lastTransitionTime: '2026-12-01T18:00:00Z' }], observedGeneration: 3 });
    expect(imageStatusPatch(current, desired)).toBeUndefined();
  });

  it('only the fields that differ; a field that goes (a digest no longer reflected) is set to null; fields Herald does not own stay', () => {
    const current = object({ latestRef: { name: 'img', tag: '1.0.0', digest: 'sha256:1' }, conditions: desired.conditions, observedGeneration: 3, somethingElse: 'kept' });
    expect(imageStatusPatch(current, desired)).toEqual({ status: { latestRef: { tag: '1.1.0', digest: null } } });
  });

  it('writes everything to an object without status; removes an owned field Herald no longer sets', () => {
    expect(imageStatusPatch(object(), desired)).toEqual({ status: desired });
    const stale = object({ ...desired, observedPreviousRef: { name: 'img', tag: '0.9.0' } });
    expect(imageStatusPatch(stale, desired)).toEqual({ status: { observedPreviousRef: null } });
  });
});

describe('controllerView', () => {
  it('drops what the server moves on every write, keeps what the controller reads', () => {
    const view = controllerView({
      apiVersion: 'image.toolkit.fluxcd.io/v1',
      kind: 'ImagePolicy',
      metadata: {
        name: 'app',
        namespace: 'flux-system',
        uid: 'u1',
        generation: 2,
        resourceVersion: '123',
        managedFields: [{ manager: 'kubectl' }],
        labels: { team: 'a' },
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}', 'reconcile.fluxcd.io/requestedAt': 'now' },
      },
      spec: { policy: {} },
      status: { latestRef: { name: 'img', tag: '1' } },
    } as never);
    expect(view).toEqual({
      apiVersion: 'image.toolkit.fluxcd.io/v1',
      kind: 'ImagePolicy',
      metadata: { name: 'app', namespace: 'flux-system', uid: 'u1', generation: 2, labels: { team: 'a' }, annotations: { 'reconcile.fluxcd.io/requestedAt': 'now' } },
      spec: { policy: {} },
      status: { latestRef: { name: 'img', tag: '1' } },
    });
  });
});
