/** Leader election on a Lease, against the fake API server (which enforces resourceVersions and MicroTime). */
import { CoordinationV1Api } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LeaderElector } from '../../src/resources/kubernetes/leader.js';
import type { Logger } from '../../src/api/types.js';
import { FakeApiServer, eventually, kubeConfigFor } from '../support/fake-apiserver.js';

const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
let api: FakeApiServer;
const electors: LeaderElector[] = [];

beforeEach(async () => {
  api = await FakeApiServer.start();
});

afterEach(async () => {
  await Promise.all(electors.splice(0).map((e) => e.stop()));
  await api.close();
});

function elector(identity: string, overrides: Partial<ConstructorParameters<typeof LeaderElector>[0]> = {}): LeaderElector {
  const e = new LeaderElector({
    api: kubeConfigFor(api).makeApiClient(CoordinationV1Api),
    namespace: 'flux-system',
    name: 'herald-leader',
    identity,
    logger: quiet,
    leaseDurationMs: 1_000,
    renewIntervalMs: 100,
    retryIntervalMs: 50,
    renewDeadlineMs: 600,
    ...overrides,
  });
  electors.push(e);
  return e;
}

const lease = () => api.get('coordination.k8s.io/v1', 'Lease', 'flux-system', 'herald-leader');
const spec = () => lease()?.spec as { holderIdentity?: string; leaseTransitions?: number; renewTime?: string; leaseDurationSeconds?: number } | undefined;

describe('LeaderElector', () => {
  it('creates the Lease and leads, renewing it with MicroTime timestamps', async () => {
    const a = elector('a');
    const events: string[] = [];
    a.on('started', () => events.push('started'));
    a.start();
    await eventually(() => a.isLeader, 3000, 'leading');
    expect(events).toEqual(['started']);
    expect(spec()).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 1, leaseTransitions: 0 });
    expect(spec()?.renewTime).toMatch(/\.\d{6}Z$/);
    const first = spec()?.renewTime;
    await eventually(() => spec()?.renewTime !== first, 3000, 'renewed');
  });

  it('lets exactly one of two candidates lead, and hands over on release', async () => {
    const a = elector('a');
    const b = elector('b');
    a.start();
    b.start();
    await eventually(() => a.isLeader || b.isLeader, 3000, 'a leader');
    await new Promise((r) => setTimeout(r, 300));
    expect([a.isLeader, b.isLeader].filter(Boolean)).toHaveLength(1);
    const [leader, follower] = a.isLeader ? [a, b] : [b, a];

    const stoppedAt = Date.now();
    await leader.stop();
    expect(spec()?.holderIdentity).toBe('');
    await eventually(() => follower.isLeader, 3000, 'follower takes over');
    expect(Date.now() - stoppedAt).toBeLessThan(900); // a released Lease is not waited out
    expect(spec()?.leaseTransitions).toBe(1);
  });

  it('takes a Lease whose holder stopped renewing only after the lease duration, on its own clock', async () => {
    api.apply({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'herald-leader', namespace: 'flux-system' },
      // A renewTime far in the future must not matter: clocks of other machines are not trusted.
      spec: { holderIdentity: 'crashed', leaseDurationSeconds: 1, renewTime: '2999-01-01T00:00:00.000000Z', leaseTransitions: 4 },
    });
    const b = elector('b');
    const started = Date.now();
    b.start();
    await eventually(() => b.isLeader, 5000, 'takeover');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(spec()).toMatchObject({ holderIdentity: 'b', leaseTransitions: 5 });
  });

  it('stops leading at once when another replica holds the Lease', async () => {
    const a = elector('a');
    a.start();
    await eventually(() => a.isLeader);
    const current = lease();
    if (!current) throw new Error('no lease');
    api.apply({ ...current, spec: { ...(current.spec as object), holderIdentity: 'usurper', renewTime: '2026-01-01T00:00:00.000000Z' } });
    await eventually(() => !a.isLeader, 3000, 'stepped down');
  });

  it('stops leading when it cannot renew within the renew deadline', async () => {
    const a = elector('a');
    const stopped: number[] = [];
    a.on('stopped', () => stopped.push(Date.now()));
    a.start();
    await eventually(() => a.isLeader);
    api.failNext(/leases\/herald-leader$/, 503, 1000);
    const failingSince = Date.now();
    await eventually(() => !a.isLeader, 3000, 'stepped down');
    expect((stopped[0] ?? 0) - failingSince).toBeGreaterThanOrEqual(400);
  });
});
