/** Status write-back: the patch computed, and the writer against the fake API server. */
import { CustomObjectsApi } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { startKubernetesSource, type KubernetesSource } from '../../src/resources/kubernetes/source.js';
import { StatusWriter, statusPatch } from '../../src/resources/kubernetes/status.js';
import { ResourceStore } from '../../src/resources/store.js';
import type { Logger, ReadyCondition } from '../../src/api/types.js';
import { FakeApiServer, NOTIFICATION_V1BETA3, alertObject, eventually, kubeConfigFor, providerObject, readyConditionOf } from '../support/fake-apiserver.js';

const ready: ReadyCondition = {
  type: 'Ready',
  status: 'True',
  reason: 'Succeeded',
  message: 'Provider is ready',
  observedGeneration: 2,
  lastTransitionTime: '2026-11-24T09:00:00.123Z',
};

const obj = (status?: unknown) => ({ apiVersion: NOTIFICATION_V1BETA3, kind: 'Provider', metadata: { name: 'p', namespace: 'ns', generation: 2 }, status });

describe('statusPatch', () => {
  it('sets the Ready condition and observedGeneration on an object without status', () => {
    expect(statusPatch(obj(), ready)).toEqual({
      status: {
        observedGeneration: 2,
        conditions: [
          { type: 'Ready', status: 'True', reason: 'Succeeded', message: 'Provider is ready', observedGeneration: 2, lastTransitionTime: '2026-11-24T09:00:00Z' },
        ],
      },
    });
  });

  it('is undefined when the object already says the same', () => {
    const current = { observedGeneration: 2, conditions: [{ ...ready, lastTransitionTime: '2020-01-01T00:00:00Z' }] };
    expect(statusPatch(obj(current), ready)).toBeUndefined();
  });

  it('keeps lastTransitionTime while the status stays, and other condition types', () => {
    const other = { type: 'Reconciling', status: 'False', reason: 'X', message: '', lastTransitionTime: '2020-01-01T00:00:00Z' };
    const current = { observedGeneration: 1, conditions: [other, { ...ready, observedGeneration: 1, lastTransitionTime: '2020-01-01T00:00:00Z' }] };
    const patch = statusPatch(obj(current), ready);
    expect(patch?.status.conditions).toEqual([other, expect.objectContaining({ observedGeneration: 2, lastTransitionTime: '2020-01-01T00:00:00Z' })]);
  });

  it('moves lastTransitionTime when the status flips', () => {
    const current = { observedGeneration: 2, conditions: [{ ...ready, status: 'False', lastTransitionTime: '2020-01-01T00:00:00Z' }] };
    expect(statusPatch(obj(current), ready)?.status.conditions[0]?.lastTransitionTime).toBe('2026-11-24T09:00:00Z');
  });

  it('writes when only the message or reason changed', () => {
    const current = { observedGeneration: 2, conditions: [{ ...ready, message: 'older words' }] };
    expect(statusPatch(obj(current), ready)).toBeDefined();
  });

  it("Receivers: Stalled (Ready's reason and message) on a configuration error, as Flux's controller marks it; gone, with Reconciling, once Ready", () => {
    const failed: ReadyCondition = { ...ready, status: 'False', reason: 'InvalidCELExpression', message: 'Reconciliation failed terminally due to configuration error: x' };
    const stalledPatch = statusPatch(obj(), failed, '', { stalled: true });
    expect(stalledPatch?.status.conditions.map((c) => [c.type, c.status, c.reason, c.message])).toEqual([
      ['Ready', 'False', 'InvalidCELExpression', failed.message],
      ['Stalled', 'True', 'InvalidCELExpression', failed.message],
    ]);
    // Written already: nothing to do.
    expect(statusPatch(obj({ ...stalledPatch?.status, webhookPath: '' }), failed, '', { stalled: true })).toBeUndefined();
    // Fixed: Ready, and neither Stalled nor a Reconciling left by Flux; other types stay.
    const custom = { type: 'Custom', status: 'True', reason: 'Mine', message: '', lastTransitionTime: '2020-01-01T00:00:00Z' };
    const reconciling = { type: 'Reconciling', status: 'True', reason: 'Progressing', message: '', lastTransitionTime: '2020-01-01T00:00:00Z' };
    const current = { ...stalledPatch?.status, conditions: [custom, reconciling, ...(stalledPatch?.status.conditions ?? [])] };
    const fixed = statusPatch(obj(current), ready, '/hook/x', { stalled: false });
    expect(fixed?.status.conditions.map((c) => c.type)).toEqual(['Custom', 'Ready']);
    // A missing token is retried, not stalled.
    expect(statusPatch(obj(), { ...failed, reason: 'TokenNotFound' }, '', { stalled: false })?.status.conditions.map((c) => c.type)).toEqual(['Ready']);
  });

  it('Receivers: lastHandledReconcileAt follows the reconcile request handled', () => {
    const handled = { stalled: false, lastHandledReconcileAt: '2026-12-01T19:30:00Z' };
    const patch = statusPatch(obj(), ready, '/hook/x', handled);
    expect(patch?.status).toMatchObject({ webhookPath: '/hook/x', lastHandledReconcileAt: '2026-12-01T19:30:00Z' });
    expect(statusPatch(obj(patch?.status), ready, '/hook/x', handled)).toBeUndefined();
    expect(statusPatch(obj(patch?.status), ready, '/hook/x', { ...handled, lastHandledReconcileAt: 'later' })?.status.lastHandledReconcileAt).toBe('later');
  });

  it('cuts messages to the CRD limit', () => {
    const patch = statusPatch(obj(), { ...ready, message: 'x'.repeat(40_000) });
    expect(patch?.status.conditions[0]?.message).toHaveLength(32_768);
  });
});

describe('StatusWriter', () => {
  let api: FakeApiServer;
  let store: ResourceStore;
  let source: KubernetesSource;
  let writer: StatusWriter;
  const warnings: string[] = [];
  const logger: Logger = { info: () => undefined, error: () => undefined, warn: (_o, msg) => warnings.push(msg) };

  async function setUp(): Promise<void> {
    api = await FakeApiServer.start();
    api.apply(providerObject('hook', { type: 'generic', address: 'https://hooks.example.com/x' }));
    api.apply(alertObject('a', { providerRef: { name: 'hook' } }));
    api.apply(alertObject('b', { providerRef: { name: 'nope' } }));
    store = new ResourceStore();
    const kubeConfig = kubeConfigFor(api);
    source = startKubernetesSource(store, { logger, kubeConfig, backoff: { initialMs: 20, maxMs: 100 } });
    writer = new StatusWriter({ store, source, api: kubeConfig.makeApiClient(CustomObjectsApi), logger, debounceMs: 5, retryMs: 50 });
    await eventually(() => store.loaded);
  }

  afterEach(async () => {
    await writer.close();
    await source.close();
    await api.close();
    warnings.length = 0;
  });

  const statusPatches = () => api.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith('/status'));

  it('writes nothing until active, then every status once', async () => {
    await setUp();
    await new Promise((r) => setTimeout(r, 50));
    expect(statusPatches()).toHaveLength(0);

    writer.setActive(true);
    await eventually(() => statusPatches().length === 3, 5000, 'three status writes');
    expect(readyConditionOf(api.get(NOTIFICATION_V1BETA3, 'Alert', 'flux-system', 'b'))).toMatchObject({ status: 'False', reason: 'ProviderNotFound' });

    // The writes' own MODIFIED events, and marking everything again, change nothing.
    await new Promise((r) => setTimeout(r, 100));
    writer.markAll();
    await writer.flush();
    await new Promise((r) => setTimeout(r, 50));
    expect(statusPatches()).toHaveLength(3);
  });

  it('follows store changes, and puts back a status someone else overwrote', async () => {
    await setUp();
    writer.setActive(true);
    await eventually(() => statusPatches().length === 3);

    api.apply(providerObject('nope', { type: 'generic', address: 'https://hooks.example.com/y' }));
    await eventually(() => readyConditionOf(api.get(NOTIFICATION_V1BETA3, 'Alert', 'flux-system', 'b'))?.status === 'True', 5000, 'alert b ready');

    await fetch(`${api.url}/apis/notification.toolkit.fluxcd.io/v1beta3/namespaces/flux-system/alerts/a/status`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ status: { conditions: [] } }),
    });
    await eventually(() => readyConditionOf(api.get(NOTIFICATION_V1BETA3, 'Alert', 'flux-system', 'a'))?.status === 'True', 5000, 'restored');
  });

  it('stops writing a kind whose CRD has no status subresource, with one warning', async () => {
    await setUp();
    api.setStatusSubresource('alerts', false);
    writer.setActive(true);
    await eventually(() => readyConditionOf(api.get(NOTIFICATION_V1BETA3, 'Provider', 'flux-system', 'hook')), 5000, 'provider written');
    await new Promise((r) => setTimeout(r, 100));
    const alertPatches = statusPatches().filter((r) => r.path.includes('/alerts/'));
    expect(alertPatches).toHaveLength(1);
    expect(warnings.filter((w) => w.includes('no status subresource'))).toHaveLength(1);
  });

  it('retries a failed write', async () => {
    await setUp();
    api.failNext(/\/providers\/hook\/status$/, 500, 1, 'PATCH');
    writer.setActive(true);
    await eventually(() => readyConditionOf(api.get(NOTIFICATION_V1BETA3, 'Provider', 'flux-system', 'hook')), 5000, 'written after retry');
    expect(warnings).toContain('cannot write status; will retry');
  });
});
