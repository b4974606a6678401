/**
 * Receivers' Events in Kubernetes mode: only the Lease holder records them, a follower's wait
 * (the last per Receiver) until it leads, Receivers deleted meanwhile are skipped, and a burst
 * is written a few at a time rather than dropped.
 */
import { describe, expect, it } from 'vitest';
import type { InvolvedObjectRef } from '../../src/resources/kubernetes/event-reasons.js';
import { leaderReceiverEvents } from '../../src/resources/source.js';

function recordingSink() {
  const written: Array<{ name: string; uid?: string; reason: string; message: string }> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const pending: Promise<void>[] = [];
  return {
    written,
    maxInFlight: () => maxInFlight,
    record(object: InvolvedObjectRef, _type: string, reason: string, message: string) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      pending.push(
        new Promise<void>((resolve) =>
          setTimeout(() => {
            inFlight--;
            written.push({ name: object.name, uid: object.uid, reason, message });
            resolve();
          }, 1),
        ),
      );
    },
    async flush() {
      await Promise.all(pending.splice(0));
    },
  };
}

const ref = (name: string): InvolvedObjectRef => ({ kind: 'Receiver', apiVersion: 'notification.toolkit.fluxcd.io/v1', namespace: 'apps', name });

describe('Receivers’ Events (Kubernetes mode)', () => {
  it('a follower records nothing; on becoming leader it records the last outcome of each Receiver that still exists, with its uid', async () => {
    const sink = recordingSink();
    const existing = new Set(['web', 'api']);
    const events = leaderReceiverEvents(sink, (_ns, name) => (existing.has(name) ? { metadata: { uid: `uid-${name}` } } : undefined));
    events.record(ref('web'), 'Warning', 'Failed', 'no token');
    events.record(ref('web'), 'Normal', 'Succeeded', 'ok');
    events.record(ref('gone'), 'Normal', 'Succeeded', 'ok');
    await new Promise((r) => setTimeout(r, 20));
    expect(sink.written).toEqual([]);
    events.setLeading(true);
    await new Promise((r) => setTimeout(r, 20));
    await events.close();
    expect(sink.written).toEqual([{ name: 'web', uid: 'uid-web', reason: 'Succeeded', message: 'ok' }]);
  });

  it('writes a burst of Receivers a few at a time, none dropped', async () => {
    const sink = recordingSink();
    const events = leaderReceiverEvents(sink, () => ({ metadata: {} }));
    events.setLeading(true);
    for (let i = 0; i < 30; i++) events.record(ref(`r${i}`), 'Normal', 'Succeeded', 'ok');
    await new Promise((r) => setTimeout(r, 50));
    await events.close();
    expect(sink.written.map((w) => w.name).sort()).toEqual(Array.from({ length: 30 }, (_, i) => `r${i}`).sort());
    expect(sink.maxInFlight()).toBeLessThanOrEqual(8);
  });

  it('stops recording when the Lease is lost, and keeps what comes meanwhile for the next time it leads', async () => {
    const sink = recordingSink();
    const events = leaderReceiverEvents(sink, () => ({ metadata: {} }));
    events.setLeading(true);
    events.record(ref('a'), 'Normal', 'Succeeded', 'first');
    await new Promise((r) => setTimeout(r, 20));
    events.setLeading(false);
    events.record(ref('a'), 'Warning', 'Failed', 'second');
    await new Promise((r) => setTimeout(r, 20));
    expect(sink.written.map((w) => w.message)).toEqual(['first']);
    events.setLeading(true);
    await new Promise((r) => setTimeout(r, 20));
    await events.close();
    expect(sink.written.map((w) => w.message)).toEqual(['first', 'second']);
  });
});
