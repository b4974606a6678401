/**
 * The image controller's scheduling, with stand-in reconcilers: what runs when, in what
 * order, how many at once, and that nothing runs after close.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { StoredObject } from '../../src/api/types.js';
import type { FluxEvent } from '../../src/events/event.js';
import { createClientPool } from '../../src/image/client-pool.js';
import { ImageController, type Reconcilers } from '../../src/image/controller.js';
import { MemoryRefStore } from '../../src/image/ref-store.js';
import { MemoryTagStore } from '../../src/image/tag-store.js';
import type { Condition } from '../../src/image/types.js';
import { sleep, until } from '../support/wait.js';

const IMAGE = 'image.toolkit.fluxcd.io/v1';
const ready = (message: string): Condition[] => [{ type: 'Ready', status: 'True', reason: 'Succeeded', message, lastTransitionTime: new Date().toISOString() }];

function repository(name: string, extra: Record<string, unknown> = {}): StoredObject {
  return { apiVersion: IMAGE, kind: 'ImageRepository', metadata: { name, namespace: 'apps' }, spec: { image: `registry.example/${name}`, interval: '1m', ...extra } };
}
function policy(name: string, repositoryName: string): StoredObject {
  return { apiVersion: IMAGE, kind: 'ImagePolicy', metadata: { name, namespace: 'apps' }, spec: { imageRepositoryRef: { name: repositoryName }, policy: { semver: { range: '>=1.0.0' } } } };
}
function automation(name: string): StoredObject {
  return {
    apiVersion: IMAGE,
    kind: 'ImageUpdateAutomation',
    metadata: { name, namespace: 'apps' },
    spec: {
      interval: '1h',
      sourceRef: { kind: 'GitRepository', name: 'fleet' },
      git: { commit: { author: { name: 'bot', email: 'bot@example.com' } }, push: { branch: 'main' } },
      update: { path: './', strategy: 'Setters' },
    },
  };
}

class FakeSource {
  objects: StoredObject[] = [];
  objectsOf(group: string, kind: string): StoredObject[] {
    return this.objects.filter((o) => o.kind === kind && o.apiVersion.startsWith(`${group}/`));
  }
  secretData(): undefined {
    return undefined;
  }
}

interface Harness {
  controller: ImageController;
  source: FakeSource;
  calls: string[];
  events: FluxEvent[];
}

const controllers: ImageController[] = [];
afterEach(async () => {
  for (const c of controllers.splice(0)) await c.close();
});

function harness(reconcilers: Partial<Reconcilers>, objects: StoredObject[], concurrency = 4): Harness {
  const source = new FakeSource();
  source.objects = objects;
  const events: FluxEvent[] = [];
  const controller = new ImageController({
    source,
    tags: new MemoryTagStore(),
    refs: new MemoryRefStore(),
    clients: createClientPool(),
    dispatch: (event) => events.push(event),
    concurrency,
    baseBackoffMs: 10,
    reconcilers,
  });
  controllers.push(controller);
  return { controller, source, calls: [], events };
}

const event = (kind: string, name: string): FluxEvent => ({
  involvedObject: { kind, name, namespace: 'apps' },
  severity: 'info',
  timestamp: new Date().toISOString(),
  message: `${kind} ${name} done`,
  reason: 'Succeeded',
  reportingController: 'test',
});

describe('ImageController scheduling', () => {
  it('is wanted only when an image automation object is stored', () => {
    const source = new FakeSource();
    expect(ImageController.wanted(source)).toBe(false);
    source.objects = [{ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'g', namespace: 'apps' }, spec: {} }];
    expect(ImageController.wanted(source)).toBe(false);
    source.objects.push(repository('app'));
    expect(ImageController.wanted(source)).toBe(true);
  });

  it('scans on appearance and again after the requeue; a spec change scans at once; a removed object stops', async () => {
    let scans = 0;
    const images: string[] = [];
    const h = harness(
      {
        repository: async (valid) => {
          scans++;
          images.push(valid.resource.spec.image);
          return { status: { conditions: ready('ok'), lastScanResult: { revision: 'r1', tagCount: 1, scanTime: '' } }, requeue: { afterMs: 40 } };
        },
      },
      [repository('app')],
    );
    h.controller.sync();
    await until(() => scans >= 3, { what: 'three scans on the interval' });
    h.source.objects = [repository('app', { image: 'registry.example/other' })];
    h.controller.sync();
    await until(() => images.includes('registry.example/other'), { what: 'a scan of the changed spec' });
    h.source.objects = [];
    h.controller.sync();
    const after = scans;
    await sleep(150);
    expect(scans).toBe(after);
    expect(h.controller.statuses()).toEqual([]);
  });

  it('evaluates a policy after its repository\'s first scan and when the revision changes, not when it stays; the automation follows latestRef', async () => {
    const revisions = ['r1', 'r1', 'r2'];
    let scan = 0;
    const order: string[] = [];
    const h = harness(
      {
        repository: async () => {
          const revision = revisions[Math.min(scan++, revisions.length - 1)] as string;
          order.push(`scan ${revision}`);
          await sleep(20);
          return { status: { conditions: ready(revision), lastScanResult: { revision, tagCount: 1, scanTime: '' } }, requeue: scan < 3 ? { afterMs: 30 } : undefined, event: event('ImageRepository', 'app') };
        },
        policy: async (valid) => {
          const tag = scan >= 3 ? '1.1.0' : '1.0.0';
          order.push(`policy ${tag}`);
          return { status: { conditions: ready(tag), latestRef: { name: 'registry.example/app', tag } }, event: event('ImagePolicy', valid.resource.metadata.name) };
        },
        automation: async (a, _git, policies) => {
          order.push(`automation ${policies.map((p) => p.latestRef?.tag).join(',')}`);
          return { result: { kind: 'unchanged', skipped: false }, status: {}, explain: { markers: [], skippedFiles: [], truncated: false }, events: [event('ImageUpdateAutomation', a.metadata.name)] };
        },
      },
      [repository('app'), policy('app', 'app'), automation('fleet')],
    );
    h.controller.sync();
    await until(() => order.includes('automation 1.1.0'), { what: 'the automation with the new tag' });
    await sleep(100);
    // The policy waits for the first scan, the automation for the policy: no run on missing data.
    expect(order).toEqual(['scan r1', 'policy 1.0.0', 'automation 1.0.0', 'scan r1', 'scan r2', 'policy 1.1.0', 'automation 1.1.0']);
    expect(h.events.map((e) => e.involvedObject.kind)).toEqual([
      'ImageRepository', 'ImagePolicy', 'ImageUpdateAutomation', 'ImageRepository', 'ImageRepository', 'ImagePolicy', 'ImageUpdateAutomation',
    ]);
  });

  it('runs at most `concurrency` reconciles at once, and each object once at a time', async () => {
    let active = 0;
    let peak = 0;
    let done = 0;
    const h = harness(
      {
        repository: async () => {
          active++;
          peak = Math.max(peak, active);
          await sleep(30);
          active--;
          done++;
          return { status: { conditions: ready('ok') } };
        },
      },
      Array.from({ length: 7 }, (_, i) => repository(`app${i}`)),
      2,
    );
    h.controller.sync();
    h.controller.sync();
    await until(() => done >= 7, { what: 'seven scans' });
    await sleep(80);
    expect(peak).toBe(2);
    expect(done).toBe(7);
  });

  it('reports an invalid object in its status and never reconciles it', async () => {
    let scans = 0;
    const h = harness({ repository: async () => (scans++, { status: {} }) }, [repository('bad', { image: '', interval: 'soon' })]);
    h.controller.sync();
    await sleep(50);
    expect(scans).toBe(0);
    const [status] = h.controller.statuses();
    expect(status).toMatchObject({ kind: 'ImageRepository', name: 'bad', ready: { status: 'False', reason: 'InvalidSpec' } });
    expect(status?.problems?.join('\n')).toMatch(/spec\.image/);
  });

  it('lists a GitRepository that is not valid, with its problems', () => {
    const h = harness({}, [{ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'fleet', namespace: 'apps' }, spec: { url: 'ftp://example.com/fleet.git' } }]);
    h.controller.sync();
    expect(h.controller.statuses()).toEqual([
      expect.objectContaining({ kind: 'GitRepository', name: 'fleet', ready: expect.objectContaining({ status: 'False', reason: 'InvalidSpec' }), problems: [expect.stringMatching(/^spec\.url/)] }),
    ]);
  });

  it('retries a reconcile that throws with backoff, and schedules nothing after close', async () => {
    let calls = 0;
    const h = harness({ repository: async () => (calls++, Promise.reject(new Error('boom'))) }, [repository('app')]);
    h.controller.sync();
    await until(() => calls >= 3, { what: 'retries with backoff' });
    expect(h.controller.statuses()[0]?.ready).toMatchObject({ status: 'False', reason: 'ReconciliationFailed', message: 'boom' });
    await h.controller.close();
    const after = calls;
    h.controller.sync();
    await sleep(150);
    expect(calls).toBe(after);
  });
});
