/**
 * Image automation's Lease in-process (src/image/kubernetes/automation.ts) against the fake API
 * server and a stand-in registry, with short lease timings: the holder scans; when another
 * replica takes the Lease it stops (no more scans, no statuses, no status writes) and resumes
 * once the Lease is free again; closing releases the Lease.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createClientPool } from '../../src/image/client-pool.js';
import { ImageController } from '../../src/image/controller.js';
import { startKubernetesImageAutomation, IMAGE_LEADER_LEASE_NAME, type KubernetesImageAutomation } from '../../src/image/kubernetes/automation.js';
import { MemoryRefStore } from '../../src/image/ref-store.js';
import { MemoryTagStore } from '../../src/image/tag-store.js';
import type { FluxEvent } from '../../src/events/event.js';
import { FakeApiServer, eventually, kubeConfigFor, type KubeObject } from '../support/fake-apiserver.js';
import { startStandin, type Standin } from '../support/registry-standin.js';
import { sleep } from '../support/wait.js';

const NS = 'flux-system';
const quiet = { info: () => {}, warn: () => {}, error: () => {} };
const cleanups: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const microNow = () => new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
function lease(holderIdentity: string): KubeObject {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: IMAGE_LEADER_LEASE_NAME, namespace: NS },
    spec: { holderIdentity, leaseDurationSeconds: 3600, acquireTime: microNow(), renewTime: microNow() },
  };
}

async function setUp(): Promise<{ api: FakeApiServer; registry: Standin; automation: KubernetesImageAutomation; events: FluxEvent[] }> {
  const api = await FakeApiServer.start();
  cleanups.push(() => api.close());
  const registry = await startStandin({ repositories: { 'team/app': ['1.0.0'] } });
  cleanups.push(() => registry.close());
  api.apply({ apiVersion: 'image.toolkit.fluxcd.io/v1', kind: 'ImageRepository', metadata: { name: 'app', namespace: NS }, spec: { image: `${registry.host}/team/app`, interval: '1s' } });
  const events: FluxEvent[] = [];
  const clients = createClientPool();
  cleanups.push(() => clients.close());
  const automation = startKubernetesImageAutomation({
    kubeConfig: kubeConfigFor(api),
    leaseNamespace: NS,
    identity: 'me',
    logger: quiet,
    lease: { leaseDurationMs: 2_000, renewIntervalMs: 200, retryIntervalMs: 200, renewDeadlineMs: 1_000 },
    createController: (source, hooks) =>
      new ImageController({
        source,
        tags: new MemoryTagStore(),
        refs: new MemoryRefStore(),
        clients,
        logger: quiet,
        onStatusChange: hooks.onStatusChange,
        dispatch: (event) => {
          events.push(event);
          hooks.onEvent(event);
        },
      }),
  });
  cleanups.push(() => automation.close());
  return { api, registry, automation, events };
}

const holderOf = (api: FakeApiServer) => (api.get('coordination.k8s.io/v1', 'Lease', NS, IMAGE_LEADER_LEASE_NAME)?.spec as { holderIdentity?: string } | undefined)?.holderIdentity;
const statusPatches = (api: FakeApiServer) => api.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith('/status')).length;

describe('image automation Lease', () => {
  it('the holder works; losing the Lease stops every scan and status write; regaining it resumes; close releases it', async () => {
    const { api, registry, automation, events } = await setUp();
    await eventually(() => automation.leading, 5_000, 'leading');
    expect(holderOf(api)).toBe('me');
    await eventually(() => registry.requests.filter((r) => r.url.includes('/tags/list')).length >= 2, 10_000, 'two scans (1s interval)');
    await eventually(() => (api.get('image.toolkit.fluxcd.io/v1', 'ImageRepository', NS, 'app')?.status as { lastScanResult?: unknown } | undefined)?.lastScanResult, 5_000, 'status written');
    expect(events.map((e) => e.involvedObject.kind)).toEqual(['ImageRepository']);
    expect(automation.statuses().map((s) => s.kind)).toEqual(['ImageRepository']);

    // Another replica takes the Lease (as after a partition): this one stands down.
    api.apply(lease('thief'));
    await eventually(() => !automation.leading, 5_000, 'no longer leading');
    await sleep(300); // a scan already under way may finish
    const scans = registry.requests.length;
    const patches = statusPatches(api);
    await sleep(2_500); // more than two scan intervals
    expect(registry.requests.length).toBe(scans);
    expect(statusPatches(api)).toBe(patches);
    expect(automation.statuses()).toEqual([]);
    expect(holderOf(api)).toBe('thief');

    // Released: taken again, and the work resumes.
    api.apply(lease(''));
    await eventually(() => automation.leading, 5_000, 'leading again');
    await eventually(() => registry.requests.length > scans, 5_000, 'scanning again');

    await automation.close();
    expect(holderOf(api)).toBe('');
  }, 40_000);
});
