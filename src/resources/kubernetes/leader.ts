/**
 * Leader election on a `coordination.k8s.io/v1` Lease, the way client-go's leaderelection does
 * it, so that one replica at a time writes status:
 *
 * - a candidate reads the Lease; if there is none it creates it, holding it;
 * - a Lease held by another replica is taken only once it has not been renewed for
 *   `leaseDurationSeconds`, measured on this replica's own clock from when it last saw the
 *   record change (clocks of different machines are never compared); a released Lease (empty
 *   holder) is taken at once;
 * - every write carries the `resourceVersion` read, so of two replicas racing for the Lease the
 *   API server lets one win (the other gets 409 Conflict and stays a candidate);
 * - the leader renews every `renewIntervalMs`; if it cannot renew for `renewDeadlineMs` it
 *   stops leading (before the lease can expire for the others);
 * - on `stop()` the leader releases the Lease (empty holder, 1 s duration) so a successor does
 *   not wait out the lease.
 */
import { EventEmitter } from 'node:events';
import { V1MicroTime, type CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../../api/types.js';
import { describeApiError, statusCodeOf } from './client.js';

export interface LeaderElectorOptions {
  api: CoordinationV1Api;
  namespace: string;
  name: string;
  identity: string;
  logger: Logger;
  leaseDurationMs?: number;
  renewIntervalMs?: number;
  retryIntervalMs?: number;
  renewDeadlineMs?: number;
  now?: () => number;
}

export interface LeaderElector {
  on(event: 'started' | 'stopped', listener: () => void): this;
  emit(event: 'started' | 'stopped'): boolean;
}

export class LeaderElector extends EventEmitter {
  private readonly opts: Required<Omit<LeaderElectorOptions, 'now'>> & { now: () => number };
  private leading = false;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private cycle: Promise<void> | undefined;
  /** The record last seen and when (on this clock) it was first seen in that state. */
  private observed: { key: string; at: number } | undefined;
  private lastRenew = 0;
  /** Set by the last attempt when another replica holds a valid Lease. */
  private heldByOther = false;

  constructor(opts: LeaderElectorOptions) {
    super();
    this.opts = {
      leaseDurationMs: 15_000,
      renewIntervalMs: 5_000,
      retryIntervalMs: 2_000,
      renewDeadlineMs: 10_000,
      now: Date.now,
      ...opts,
    };
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Stops campaigning; a leader releases the Lease first. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.cycle;
    if (this.leading) {
      await this.release();
      this.setLeading(false);
    }
  }

  /** One attempt to acquire or renew; true when this replica holds the Lease afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { api, namespace, name, identity, leaseDurationMs, now } = this.opts;
    this.heldByOther = false;
    let lease: V1Lease;
    try {
      lease = await api.readNamespacedLease({ namespace, name });
    } catch (err) {
      if (statusCodeOf(err) !== 404) throw err;
      const time = new V1MicroTime(now());
      try {
        await api.createNamespacedLease({
          namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name, namespace },
            spec: { holderIdentity: identity, leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000), acquireTime: time, renewTime: time, leaseTransitions: 0 },
          },
        });
        return true;
      } catch (createErr) {
        if (statusCodeOf(createErr) === 409) return false; // another replica created it first
        throw createErr;
      }
    }

    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const key = `${holder}|${String(spec.renewTime ?? '')}|${spec.leaseDurationSeconds ?? ''}`;
    if (this.observed?.key !== key) this.observed = { key, at: now() };
    const durationMs = (spec.leaseDurationSeconds ?? leaseDurationMs / 1000) * 1000;
    if (holder !== '' && holder !== identity && this.observed.at + durationMs > now()) {
      this.heldByOther = true;
      return false;
    }

    const time = new V1MicroTime(now());
    const next: V1Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
        renewTime: time,
        acquireTime: holder === identity ? spec.acquireTime : time,
        leaseTransitions: holder === identity ? spec.leaseTransitions ?? 0 : (spec.leaseTransitions ?? 0) + 1,
      },
    };
    try {
      await api.replaceNamespacedLease({ namespace, name, body: next });
      return true;
    } catch (err) {
      if (statusCodeOf(err) === 409) return false; // someone else wrote it since we read it
      throw err;
    }
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.cycle = this.step().finally(() => (this.cycle = undefined));
    }, delayMs);
    this.timer.unref();
  }

  private async step(): Promise<void> {
    const { logger, name, namespace, now, renewDeadlineMs, renewIntervalMs, retryIntervalMs } = this.opts;
    let held = false;
    try {
      held = await this.tryAcquireOrRenew();
    } catch (err) {
      logger.warn({ lease: `${namespace}/${name}`, err: describeApiError(err) }, 'cannot read or write the leader Lease');
    }
    if (!this.running) return;
    if (held) {
      this.lastRenew = now();
      this.setLeading(true);
    } else if (this.leading && (this.heldByOther || now() - this.lastRenew >= renewDeadlineMs)) {
      this.setLeading(false);
    } else if (this.leading) {
      // Keep leading until the renew deadline; try again soon.
      this.schedule(retryIntervalMs);
      return;
    }
    this.schedule(this.leading ? renewIntervalMs : retryIntervalMs);
  }

  private async release(): Promise<void> {
    const { api, namespace, name, identity, logger, now } = this.opts;
    try {
      const lease = await api.readNamespacedLease({ namespace, name });
      if (lease.spec?.holderIdentity !== identity) return;
      const time = new V1MicroTime(now());
      await api.replaceNamespacedLease({
        namespace,
        name,
        body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: time, acquireTime: time } },
      });
    } catch (err) {
      logger.warn({ lease: `${namespace}/${name}`, err: describeApiError(err) }, 'cannot release the leader Lease');
    }
  }

  private setLeading(leading: boolean): void {
    if (this.leading === leading) return;
    this.leading = leading;
    const { logger, namespace, name, identity } = this.opts;
    logger.info({ lease: `${namespace}/${name}`, identity }, leading ? 'became the leader: writing status' : 'stopped leading');
    this.emit(leading ? 'started' : 'stopped');
  }
}
