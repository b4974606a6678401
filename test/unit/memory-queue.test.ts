import { describe, expect, it } from 'vitest';
import type { DeliveryJob } from '../../src/delivery/job.js';
import { MemoryQueue } from '../../src/delivery/memory-queue.js';
import { DeferError, PermanentError, ProviderPausedError, QueueFullError, RetryableError, type AttemptInfo } from '../../src/delivery/queue.js';
import { kustomizationEvent } from '../support/events.js';
import { until } from '../support/wait.js';

const policy = { attempts: 3, baseDelayMs: 10, maxDelayMs: 40, maxRetryAfterMs: 1000 };
const job = (n: number): DeliveryJob => ({
  alert: 'ns/a',
  provider: 'ns/p',
  providerType: 'generic',
  event: kustomizationEvent({ message: `m${n}` }),
  acceptedAt: Date.now(),
});

describe('MemoryQueue', () => {
  it('processes each job id once, even when added twice', async () => {
    const q = new MemoryQueue({ policy, concurrency: 4 });
    const seen: string[] = [];
    q.start(async (j) => void seen.push(j.event.message));
    await q.add([{ id: 'a', data: job(1) }, { id: 'b', data: job(2) }]);
    await q.add([{ id: 'a', data: job(1) }]);
    await until(async () => (await q.counts()).completed === 2);
    expect(seen.sort()).toEqual(['m1', 'm2']);
    await q.close();
  });

  it('retries a retryable failure and then succeeds', async () => {
    const q = new MemoryQueue({ policy, concurrency: 1 });
    const attempts: AttemptInfo[] = [];
    q.start(async (_j, info) => {
      attempts.push(info);
      if (info.attempt < 3) throw new RetryableError('503');
    });
    await q.add([{ id: 'x', data: job(1) }]);
    await until(async () => (await q.counts()).completed === 1);
    expect(attempts.map((a) => [a.attempt, a.finalAttempt])).toEqual([
      [1, false],
      [2, false],
      [3, true],
    ]);
    await q.close();
  });

  it('keeps a job that used up its attempts as a dead letter with its last error', async () => {
    const q = new MemoryQueue({ policy, concurrency: 1 });
    q.start(async (_j, info) => {
      throw new RetryableError(`attempt ${info.attempt} failed`);
    });
    await q.add([{ id: 'x', data: job(1) }]);
    await until(async () => (await q.counts()).failed === 1);
    expect((await q.list({ state: 'failed', cursor: 0, limit: 10 })).deliveries).toEqual([
      expect.objectContaining({ id: 'x', state: 'failed', attemptsMade: 3, lastError: 'attempt 3 failed' }),
    ]);
    await q.close();
  });

  it('pages dead letters with a cursor, of one Provider too, and counts a bulk replay by provider type', async () => {
    const q = new MemoryQueue({ policy, concurrency: 8 });
    q.start(async () => {
      throw new PermanentError('400');
    });
    await q.add(Array.from({ length: 25 }, (_, i) => ({ id: `d${i}`, data: { ...job(i), provider: i % 5 === 0 ? 'ns/rare' : 'ns/p' } })));
    await until(async () => (await q.counts()).failed === 25);
    const ids: string[] = [];
    let cursor: number | undefined = 0;
    for (let pages = 0; cursor !== undefined && pages < 10; pages++) {
      const page = await q.list({ state: 'failed', cursor, limit: 10 });
      ids.push(...page.deliveries.map((d) => d.id));
      cursor = page.nextCursor;
    }
    expect(new Set(ids).size).toBe(25);
    const rare = await q.list({ state: 'failed', provider: 'ns/rare', cursor: 0, limit: 3 });
    expect(rare.deliveries.map((d) => d.id)).toEqual(['d0', 'd5', 'd10']);
    const rest = await q.list({ state: 'failed', provider: 'ns/rare', cursor: rare.nextCursor as number, limit: 3 });
    expect(rest.deliveries.map((d) => d.id)).toEqual(['d15', 'd20']);
    expect(rest.nextCursor).toBeUndefined();
    expect(await q.replayDeadLetters('ns/rare')).toEqual({ replayed: 5, skipped: 0, byProviderType: { generic: 5 } });
    await q.close();
  });

  it('stops a page at about 16 MiB of deliveries, with a cursor to the rest', async () => {
    const q = new MemoryQueue({ policy, concurrency: 8 });
    q.start(async () => {
      throw new PermanentError('400');
    });
    const big = 'b'.repeat(2 * 1024 * 1024);
    await q.add(Array.from({ length: 12 }, (_, i) => ({ id: `big${i}`, data: job(i) })).map((j) => ({ ...j, data: { ...j.data, event: { ...j.data.event, message: big } } })));
    await until(async () => (await q.counts()).failed === 12);
    const first = await q.list({ state: 'failed', cursor: 0, limit: 500 });
    expect(first.deliveries.length).toBe(8);
    const rest = await q.list({ state: 'failed', cursor: first.nextCursor as number, limit: 500 });
    expect(rest.deliveries.map((d) => d.id)).toEqual(['big8', 'big9', 'big10', 'big11']);
    await q.close();
  });

  it('does not retry a permanent failure', async () => {
    const q = new MemoryQueue({ policy, concurrency: 1 });
    let calls = 0;
    q.start(async () => {
      calls += 1;
      throw new PermanentError('400 bad request');
    });
    await q.add([{ id: 'x', data: job(1) }]);
    await until(async () => (await q.counts()).failed === 1);
    expect(calls).toBe(1);
    await q.close();
  });

  it('honours Retry-After', async () => {
    const q = new MemoryQueue({ policy, concurrency: 1 });
    const times: number[] = [];
    q.start(async () => {
      times.push(Date.now());
      if (times.length === 1) throw new RetryableError('429', 300);
    });
    await q.add([{ id: 'x', data: job(1) }]);
    await until(async () => (await q.counts()).completed === 1);
    expect((times[1] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(290);
    await q.close();
  });

  it('a deferred job keeps its attempt count', async () => {
    const q = new MemoryQueue({ policy, concurrency: 1 });
    const attempts: number[] = [];
    q.start(async (_j, info) => {
      attempts.push(info.attempt);
      if (attempts.length < 3) throw new DeferError(5);
    });
    await q.add([{ id: 'x', data: job(1) }]);
    await until(async () => (await q.counts()).completed === 1);
    expect(attempts).toEqual([1, 1, 1]);
    await q.close();
  });

  it('runs at most `concurrency` jobs at once, and close waits for them', async () => {
    const q = new MemoryQueue({ policy, concurrency: 2 });
    let running = 0;
    let peak = 0;
    let finished = 0;
    q.start(async () => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 30));
      running -= 1;
      finished += 1;
    });
    await q.add([1, 2, 3, 4, 5].map((n) => ({ id: String(n), data: job(n) })));
    await until(() => running === 2);
    await q.close();
    expect(running).toBe(0);
    expect(peak).toBe(2);
    expect(finished).toBeGreaterThanOrEqual(2);
    await expect(q.add([{ id: 'late', data: job(9) }])).rejects.toThrow(/shutting down/);
  });

  it('parks the jobs of a provider whose slots are busy, without running them, while other providers take turns', async () => {
    const q = new MemoryQueue({ policy, concurrency: 4, perProviderConcurrency: 1 });
    const runs: string[] = [];
    let releaseHung!: () => void;
    let hang = true;
    q.start(async (j) => {
      runs.push(j.event.message);
      if (j.provider === 'ns/hung' && hang) await new Promise<void>((r) => (releaseHung = r));
    });
    const hung = (n: number) => ({ id: `h${n}`, data: { ...job(n), provider: 'ns/hung', event: kustomizationEvent({ message: `h${n}` }) } });
    await q.add([1, 2, 3, 4, 5].map(hung));
    await q.add([{ id: 'ok', data: job(9) }]);
    await until(async () => (await q.counts()).completed === 1);
    expect(runs).toEqual(['h1', 'm9']); // h2..h5 never ran: they wait for h1's slot
    expect((await q.counts()).waiting).toBe(4);
    releaseHung();
    await until(() => runs.length === 3);
    expect(runs[2]).toBe('h2');
    hang = false;
    releaseHung();
    await until(async () => (await q.counts()).completed === 6);
    expect(runs).toEqual(['h1', 'm9', 'h2', 'h3', 'h4', 'h5']);
    await q.close();
  });

  it('parks a paused provider on one timer without re-running its jobs, keeps their order and attempts; a success unparks it', async () => {
    const q = new MemoryQueue({ policy, concurrency: 4, perProviderConcurrency: 2 });
    const runs: string[] = [];
    let phase: 'open' | 'probing' | 'closed' = 'open';
    let endProbe = () => undefined as void;
    const probe = new Promise<void>((resolve) => (endProbe = resolve));
    q.start(async (j, info) => {
      runs.push(`${j.event.message}/${info.attempt}`);
      if (j.provider === 'ns/other' || phase === 'closed') return;
      if (phase === 'open') throw new ProviderPausedError(150);
      if (runs.filter((r) => r !== 'm9/1').length === 3) return probe; // the first run after the park probes…
      throw new ProviderPausedError(60_000); // …and the others wait a long cooldown for its answer
    });
    await q.add([1, 2, 3].map((n) => ({ id: `p${n}`, data: job(n) })));
    await q.add([{ id: 'o', data: { ...job(9), provider: 'ns/other' } }]);
    await until(() => runs.includes('m9/1') && runs.length === 3);
    phase = 'probing';
    await new Promise((r) => setTimeout(r, 60));
    // Parked: the other Provider ran; this one's two running jobs ran once each, nothing since.
    expect([...runs].sort()).toEqual(['m1/1', 'm2/1', 'm9/1']);
    expect((await q.counts()).waiting).toBe(3);
    // After the park, in order: m1 probes, m2 parks the line for a minute.
    await until(() => runs.length === 5);
    expect(runs.slice(3)).toEqual(['m1/1', 'm2/1']);
    await new Promise((r) => setTimeout(r, 50));
    expect(runs).toHaveLength(5);
    // The probe succeeds: the line is unparked at once, and goes on in order.
    phase = 'closed';
    endProbe();
    await until(async () => (await q.counts()).completed === 4, { timeoutMs: 2_000 });
    expect(runs.slice(5)).toEqual(['m2/1', 'm3/1']);
    await q.close();
  });

  it('refuses, storing nothing, the jobs beyond its cap (count or bytes), and takes a copy of a stored one', async () => {
    const q = new MemoryQueue({ policy, concurrency: 1, maxHeldJobs: 3, maxHeldBytes: 1_000_000 });
    q.start(() => new Promise(() => undefined)); // nothing finishes
    await q.add([1, 2].map((n) => ({ id: String(n), data: job(n) })));
    await expect(q.add([3, 4].map((n) => ({ id: String(n), data: job(n) })))).rejects.toBeInstanceOf(QueueFullError);
    expect(await q.get('3')).toBeUndefined();
    await q.add([{ id: '1', data: job(1) }]); // already stored: nothing new to hold
    await q.add([{ id: '3', data: job(3) }]);
    await expect(q.add([{ id: '4', data: job(4) }])).rejects.toThrow(/full/);

    const bytes = new MemoryQueue({ policy, concurrency: 1, maxHeldBytes: 100_000 });
    bytes.start(() => new Promise(() => undefined));
    const big = (n: number) => ({ ...job(n), event: kustomizationEvent({ message: 'x'.repeat(60_000) + n }) });
    await bytes.add([{ id: 'a', data: big(1) }]); // alone it is taken, even over the bound
    await expect(bytes.add([{ id: 'b', data: big(2) }])).rejects.toBeInstanceOf(QueueFullError);
  });

  it('keeps a completed job without its payload, and frees its room in the cap', async () => {
    const q = new MemoryQueue({ policy, concurrency: 1, maxHeldJobs: 1 });
    q.start(async () => undefined);
    const data = { ...job(1), event: kustomizationEvent({ message: `big ${'y'.repeat(100_000)}` }) };
    await q.add([{ id: 'a', data }]);
    await until(async () => (await q.counts()).completed === 1);
    const done = await q.get('a');
    expect(done?.data.delivered).toBe(true);
    expect(done?.data.event.metadata).toBeUndefined();
    expect(done?.data.event.involvedObject).toEqual(data.event.involvedObject);
    expect(JSON.stringify(done).length).toBeLessThan(1024);
    await q.add([{ id: 'b', data: job(2) }]);
    await q.close();
  });
});
