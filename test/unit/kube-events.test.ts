/** Kubernetes Events on Alerts: their shape, de-duplication and rate limits. */
import { CoreV1Api } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeEventRecorder, TokenBuckets, involvedObjectString } from '../../src/resources/kubernetes/event-recorder.js';
import type { Logger } from '../../src/api/types.js';
import { FakeApiServer, kubeConfigFor } from '../support/fake-apiserver.js';

describe('TokenBuckets', () => {
  it('allows a burst per key, then one per refill interval', () => {
    const buckets = new TokenBuckets(3, 1000);
    expect([0, 0, 0, 0].map(() => buckets.take('a', 0))).toEqual([true, true, true, false]);
    expect(buckets.take('b', 0)).toBe(true);
    expect(buckets.take('a', 999)).toBe(false);
    expect(buckets.take('a', 1000)).toBe(true);
    expect(buckets.take('a', 1000)).toBe(false);
    expect([1, 2, 3, 4].map(() => buckets.take('a', 10_000))).toEqual([true, true, true, false]);
  });
});

describe('involvedObjectString', () => {
  it("names an object as Flux's messages do", () => {
    expect(involvedObjectString({ kind: 'Kustomization', namespace: 'flux-system', name: 'apps' })).toBe('Kustomization/flux-system/apps');
  });
});

describe('KubeEventRecorder', () => {
  let api: FakeApiServer;
  const warnings: string[] = [];
  const logger: Logger = { info: () => undefined, error: () => undefined, warn: (_o, msg) => warnings.push(msg) };
  const alert = { namespace: 'flux-system', name: 'slack', uid: 'a1b2', apiVersion: 'notification.toolkit.fluxcd.io/v1beta3' };

  beforeEach(async () => {
    api = await FakeApiServer.start();
    warnings.length = 0;
  });
  afterEach(() => api.close());

  function recorder(opts: Partial<ConstructorParameters<typeof KubeEventRecorder>[0]> = {}): KubeEventRecorder {
    return new KubeEventRecorder({ api: kubeConfigFor(api).makeApiClient(CoreV1Api), logger, instance: 'herald-0_1', ...opts });
  }

  it('creates a Warning Event on the Alert like Flux', async () => {
    const events = recorder();
    events.warning(alert, 'NotificationDispatchFailed', 'failed to dispatch notification for Kustomization/flux-system/apps: boom');
    await events.flush();
    const [event] = api.events('flux-system');
    expect(event).toMatchObject({
      type: 'Warning',
      reason: 'NotificationDispatchFailed',
      message: 'failed to dispatch notification for Kustomization/flux-system/apps: boom',
      involvedObject: { kind: 'Alert', name: 'slack', namespace: 'flux-system', uid: 'a1b2', apiVersion: 'notification.toolkit.fluxcd.io/v1beta3' },
      source: { component: 'herald' },
      reportingComponent: 'herald',
      reportingInstance: 'herald-0_1',
      count: 1,
    });
    expect(event?.metadata.name).toMatch(/^slack\.[0-9a-f]+$/);
    expect(event?.firstTimestamp).toBe(event?.lastTimestamp);
  });

  it("writes an Event's annotations (MetadataAppendFailed names the conflicting keys and their sources)", async () => {
    const events = recorder();
    const annotations = { summary: 'Alert object .spec.eventMetadata, Alert object .spec.summary' };
    events.warning(alert, 'MetadataAppendFailed', 'metadata key conflicts detected', annotations);
    await events.flush();
    const [event] = api.events('flux-system');
    expect(event).toMatchObject({ type: 'Warning', reason: 'MetadataAppendFailed', metadata: { annotations } });
  });

  it('counts an identical Event on the earlier one with a merge patch', async () => {
    let now = Date.parse('2026-11-24T09:00:00Z');
    const events = recorder({ now: () => now });
    events.warning(alert, 'NotificationDispatchFailed', 'same');
    await events.flush();
    now += 60_000;
    events.warning(alert, 'NotificationDispatchFailed', 'same');
    events.warning(alert, 'NotificationDispatchFailed', 'different');
    await events.flush();
    const all = api.events('flux-system').sort((a, b) => String(b.message).localeCompare(String(a.message)));
    expect(all.map((e) => [e.message, e.count])).toEqual([
      ['same', 2],
      ['different', 1],
    ]);
    expect(all[0]?.lastTimestamp).toBe('2026-11-24T09:01:00.000Z');
    expect(api.requests.find((r) => r.method === 'PATCH')?.contentType).toBe('application/merge-patch+json');
  });

  it('creates a new Event when the earlier one has expired', async () => {
    const events = recorder();
    events.warning(alert, 'NotificationDispatchFailed', 'same');
    await events.flush();
    const [first] = api.events('flux-system');
    api.remove('v1', 'Event', 'flux-system', first?.metadata.name ?? '');
    events.warning(alert, 'NotificationDispatchFailed', 'same');
    await events.flush();
    expect(api.events('flux-system').map((e) => e.count)).toEqual([1]);
  });

  it('drops what exceeds the per-Alert burst, with one warning, and recovers over time', async () => {
    let now = 0;
    const events = recorder({ burst: 3, refillIntervalMs: 1000, now: () => now });
    for (let i = 0; i < 10; i++) events.warning(alert, 'NotificationDispatchFailed', `failure ${i}`);
    events.warning({ ...alert, name: 'other' }, 'NotificationDispatchFailed', 'elsewhere');
    await events.flush();
    expect(api.events('flux-system')).toHaveLength(4);
    expect(warnings).toEqual(['Kubernetes Events rate-limited; some are not recorded']);
    now += 1000;
    events.warning(alert, 'NotificationDispatchFailed', 'later');
    await events.flush();
    expect(api.events('flux-system')).toHaveLength(5);
  });

  it('never has more than maxInFlight requests under way', async () => {
    const events = recorder({ maxInFlight: 2 });
    for (let i = 0; i < 5; i++) events.warning({ ...alert, name: `a${i}` }, 'NotificationDispatchFailed', 'x');
    await events.flush();
    expect(api.events('flux-system')).toHaveLength(2);
  });

  it('logs, never throws, when the API refuses', async () => {
    api.failNext(/\/events$/, 403);
    const events = recorder();
    events.warning(alert, 'NotificationDispatchFailed', 'x');
    await events.flush();
    expect(warnings).toEqual(['cannot record a Kubernetes Event']);
  });
});
