import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DeliveryError } from '../../providers/http.js';
import { CircuitBreaker, ProviderCircuits, cooldownsFor, verdictOf, type Verdict } from '../../src/delivery/circuit-breaker.js';
import { ProviderPausedError, RetryableError } from '../../src/delivery/queue.js';
import { createLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';

const DOWN: Verdict = { kind: 'unavailable' };
const UP: Verdict = { kind: 'reachable' };

/** A breaker on a clock the test moves, without jitter (random 0: the probe comes a whole cooldown later). */
function breaker(opts: { threshold?: number; random?: () => number } = {}) {
  const clock = { now: 1_000_000 };
  const events: string[] = [];
  const b = new CircuitBreaker({
    threshold: opts.threshold ?? 3,
    initialCooldownMs: 1_000,
    maxCooldownMs: 8_000,
    now: () => clock.now,
    random: opts.random ?? (() => 0),
    onOpen: (p, d) => events.push(`open ${p} ${d.type} ${d.cooldownMs}`),
    onClose: (p, d) => events.push(`close ${p} ${d.type} ${d.openMs}`),
  });
  return { b, clock, events };
}

/** Admits one delivery and settles it with `verdict`; returns the admission. */
function attempt(b: CircuitBreaker, verdict: Verdict, provider = 'ns/p') {
  const admission = b.admit(provider);
  if (admission.admitted) b.settle(provider, 'generic', admission.probe, verdict);
  return admission;
}

describe('CircuitBreaker', () => {
  it('opens after the threshold of consecutive unavailable attempts, not before', () => {
    const { b, events } = breaker();
    attempt(b, DOWN);
    attempt(b, DOWN);
    expect(b.admit('ns/p')).toEqual({ admitted: true, probe: false });
    attempt(b, DOWN);
    expect(events).toEqual(['open ns/p generic 1000']);
    expect(b.admit('ns/p')).toEqual({ admitted: false, waitMs: 1_000 });
    expect(b.openCircuits()).toEqual([{ provider: 'ns/p', type: 'generic' }]);
  });

  it("probeNow (an operator's retry-now) lets the next attempt through as the probe despite a long Retry-After", () => {
    const { b, events } = breaker();
    attempt(b, { kind: 'unavailable', retryAfterMs: 3_600_000 });
    expect(b.admit('ns/p')).toEqual({ admitted: false, waitMs: 3_600_000 });
    b.probeNow('ns/other'); // no circuit: nothing changes
    b.probeNow('ns/p');
    expect(b.admit('ns/p')).toEqual({ admitted: true, probe: true });
    // One probe at a time: a second operator's retry does not admit another while it runs.
    b.probeNow('ns/p');
    expect(b.admit('ns/p').admitted).toBe(false);
    b.settle('ns/p', 'generic', true, UP);
    expect(events).toEqual(['open ns/p generic 3600000', 'close ns/p generic 0']);
    expect(b.admit('ns/p')).toEqual({ admitted: true, probe: false });
  });

  it('a reachable answer in between resets the count; other Providers are not affected', () => {
    const { b, events } = breaker();
    attempt(b, DOWN);
    attempt(b, DOWN);
    attempt(b, UP);
    attempt(b, DOWN);
    attempt(b, DOWN);
    attempt(b, DOWN, 'ns/other');
    expect(events).toEqual([]);
    expect(b.admit('ns/p').admitted).toBe(true);
  });

  it('unknown verdicts (not attempted, configuration errors) neither count nor reset', () => {
    const { b, events } = breaker();
    attempt(b, DOWN);
    attempt(b, DOWN);
    attempt(b, { kind: 'unknown' });
    attempt(b, DOWN);
    expect(events).toEqual(['open ns/p generic 1000']);
  });

  it('lets one probe through once the cooldown is over; the others wait for its answer', () => {
    const { b, clock } = breaker();
    for (let i = 0; i < 3; i++) attempt(b, DOWN);
    clock.now += 999;
    expect(b.admit('ns/p')).toEqual({ admitted: false, waitMs: 1 });
    clock.now += 1;
    expect(b.admit('ns/p')).toEqual({ admitted: true, probe: true });
    expect(b.admit('ns/p')).toEqual({ admitted: false, waitMs: 1_000 });
    expect(b.admit('ns/p')).toEqual({ admitted: false, waitMs: 1_000 });
  });

  it('a failed probe doubles the cooldown up to its ceiling; a successful one closes the circuit', () => {
    const { b, clock, events } = breaker();
    for (let i = 0; i < 3; i++) attempt(b, DOWN);
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const wait = b.admit('ns/p');
      if (wait.admitted) throw new Error('admitted while cooling down');
      waits.push(wait.waitMs);
      clock.now += wait.waitMs;
      expect(attempt(b, DOWN)).toEqual({ admitted: true, probe: true });
    }
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 8_000]);
    clock.now += 8_000;
    expect(attempt(b, UP)).toEqual({ admitted: true, probe: true });
    expect(events).toEqual(['open ns/p generic 1000', `close ns/p generic ${1_000 + 2_000 + 4_000 + 8_000 + 8_000 + 8_000}`]);
    expect(b.admit('ns/p')).toEqual({ admitted: true, probe: false });
    expect(b.openCircuits()).toEqual([]);
    // Closed means closed: it takes the threshold again to reopen, starting from the first cooldown.
    attempt(b, DOWN);
    attempt(b, DOWN);
    expect(b.admit('ns/p').admitted).toBe(true);
    attempt(b, DOWN);
    expect(b.admit('ns/p')).toEqual({ admitted: false, waitMs: 1_000 });
  });

  it('an abandoned probe (not attempted after all) lets the next delivery probe', () => {
    const { b, clock } = breaker();
    for (let i = 0; i < 3; i++) attempt(b, DOWN);
    clock.now += 1_000;
    expect(b.admit('ns/p')).toEqual({ admitted: true, probe: true });
    b.settle('ns/p', 'generic', true, { kind: 'unknown' });
    expect(b.admit('ns/p')).toEqual({ admitted: true, probe: true });
  });

  it('failures of deliveries admitted before it opened do not push the probe back', () => {
    const { b, clock } = breaker();
    const inFlight = [b.admit('ns/p'), b.admit('ns/p'), b.admit('ns/p'), b.admit('ns/p')];
    for (const a of inFlight.slice(0, 3)) b.settle('ns/p', 'generic', a.admitted && a.probe, DOWN);
    clock.now += 500;
    b.settle('ns/p', 'generic', false, DOWN);
    expect(b.admit('ns/p')).toEqual({ admitted: false, waitMs: 500 });
  });

  it('a success of a delivery admitted before it opened closes it too', () => {
    const { b, events } = breaker();
    for (let i = 0; i < 3; i++) attempt(b, DOWN);
    b.settle('ns/p', 'generic', false, UP);
    expect(events).toEqual(['open ns/p generic 1000', 'close ns/p generic 0']);
    expect(b.admit('ns/p').admitted).toBe(true);
  });

  it('a Retry-After opens the circuit at once until then; a probe answered with one waits that long', () => {
    const { b, clock, events } = breaker();
    attempt(b, { kind: 'unavailable', retryAfterMs: 30_000 });
    expect(events).toEqual(['open ns/p generic 30000']);
    expect(b.admit('ns/p')).toEqual({ admitted: false, waitMs: 30_000 });
    clock.now += 30_000;
    expect(attempt(b, { kind: 'unavailable', retryAfterMs: 20_000 })).toEqual({ admitted: true, probe: true });
    expect(b.admit('ns/p')).toEqual({ admitted: false, waitMs: 20_000 });
    // A hostile Retry-After is cut to an hour.
    clock.now += 20_000;
    attempt(b, { kind: 'unavailable', retryAfterMs: 10 * 24 * 3_600_000 });
    expect(b.admit('ns/p')).toEqual({ admitted: false, waitMs: 3_600_000 });
  });

  it('spreads probe times over the last fifth of the cooldown', () => {
    const { b } = breaker({ random: () => 1 });
    for (let i = 0; i < 3; i++) attempt(b, DOWN);
    expect(b.admit('ns/p')).toEqual({ admitted: false, waitMs: 800 });
  });

  it('tracks a bounded number of Providers, forgetting closed ones first and never an open one', () => {
    const b = new CircuitBreaker({ threshold: 2, maxTracked: 3, now: () => 0, random: () => 0 });
    b.settle('ns/open', 'generic', false, DOWN);
    b.settle('ns/open', 'generic', false, DOWN);
    for (let i = 0; i < 10; i++) b.settle(`ns/p${i}`, 'generic', false, DOWN);
    expect(b.openCircuits()).toEqual([{ provider: 'ns/open', type: 'generic' }]);
    // p0 was forgotten long ago: its next failure is its first again; p9 is still tracked.
    b.settle('ns/p0', 'generic', false, DOWN);
    b.settle('ns/p9', 'generic', false, DOWN);
    expect(b.openCircuits().map((c) => c.provider)).toEqual(['ns/open', 'ns/p9']);
  });
});

describe('cooldownsFor', () => {
  it('follows the retry schedule: from the base delay, doubling up to the max delay or 60 s, whichever is less', () => {
    expect(cooldownsFor(1_000, 300_000)).toEqual({ initialCooldownMs: 1_000, maxCooldownMs: 60_000 });
    expect(cooldownsFor(100, 1_000)).toEqual({ initialCooldownMs: 100, maxCooldownMs: 1_000 });
    expect(cooldownsFor(0, 0)).toEqual({ initialCooldownMs: 10, maxCooldownMs: 10 });
  });
});

describe('verdictOf', () => {
  it('counts connection errors, timeouts, 5xx and 429 as unavailable; a 4xx as reachable; Herald’s own errors as unknown', () => {
    expect(verdictOf(new DeliveryError('POST http://x: connect ECONNREFUSED', true))).toEqual({ kind: 'unavailable', retryAfterMs: undefined });
    expect(verdictOf(new DeliveryError('answered 503', true, 503))).toEqual({ kind: 'unavailable', retryAfterMs: undefined });
    expect(verdictOf(new DeliveryError('answered 429', true, 429, 5_000))).toEqual({ kind: 'unavailable', retryAfterMs: 5_000 });
    expect(verdictOf(new DeliveryError('answered 400', false, 400))).toEqual({ kind: 'reachable' });
    expect(verdictOf(new DeliveryError('invalid provider', false))).toEqual({ kind: 'unknown' });
    expect(verdictOf(new RetryableError('provider ns/p is not ready'))).toEqual({ kind: 'unknown' });
    expect(verdictOf(new TypeError('adapter bug'))).toEqual({ kind: 'unknown' });
  });
});

describe('ProviderCircuits', () => {
  it('throws ProviderPausedError while open, counts the deferral, and keeps the gauge of open circuits by type', async () => {
    const metrics = new Metrics({ processMetrics: false });
    const circuits = new ProviderCircuits(metrics, createLogger('silent'), { threshold: 2, random: () => 0 });
    for (let i = 0; i < 2; i++) circuits.enter('ns/p', 'slack').settle(new DeliveryError('connect ECONNREFUSED', true));
    let paused: unknown;
    try {
      circuits.enter('ns/p', 'slack');
    } catch (err) {
      paused = err;
    }
    expect(paused).toBeInstanceOf(ProviderPausedError);
    expect((paused as ProviderPausedError).delayMs).toBeGreaterThan(0);
    expect((paused as ProviderPausedError).delayMs).toBeLessThanOrEqual(1_000);
    const text = await metrics.render();
    expect(text).toContain('herald_provider_circuits_open{provider_type="slack"} 1');
    expect(text).toContain('herald_deliveries_deferred_total{provider_type="slack"} 1');
    // A pass settles once: a second settle is ignored.
    const pass = circuits.enter('ns/q', 'slack');
    pass.settle(new DeliveryError('503', true, 503));
    pass.settle(new DeliveryError('503', true, 503));
    expect(circuits.enter('ns/q', 'slack')).toBeTruthy();
  });

  it('logs one line when a circuit opens and one when it closes, naming the Provider and never its address', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (chunk: Buffer) => (text += chunk.toString()));
    const clock = { now: 0 };
    const circuits = new ProviderCircuits(new Metrics({ processMetrics: false }), createLogger('info', out), { threshold: 2, now: () => clock.now, random: () => 0 });
    const refused = new DeliveryError('POST https://hooks.example: connect ECONNREFUSED', true);
    // Four admitted at once, all refused: one line when the second failure opens it, none for the others.
    const passes = Array.from({ length: 4 }, () => circuits.enter('team-a/slack', 'slack'));
    for (const pass of passes) pass.settle(refused);
    clock.now += 1_000;
    circuits.enter('team-a/slack', 'slack').settle();
    await new Promise((r) => setImmediate(r));
    const lines = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => [l.level, l.msg, l.provider, l.type])).toEqual([
      ['warn', 'provider unavailable; circuit opened, its deliveries wait for a probe', 'team-a/slack', 'slack'],
      ['info', 'provider reachable again; circuit closed', 'team-a/slack', 'slack'],
    ]);
    expect(text).not.toContain('hooks.example');
  });
});
