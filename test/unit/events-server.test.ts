import { afterEach, describe, expect, it } from 'vitest';
import type { EventDispatcher } from '../../src/delivery/dispatcher.js';
import { createLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { MemoryDuplicateFilter, type DuplicateFilter } from '../../src/server/duplicate-filter.js';
import { buildEventsServer } from '../../src/server/events.js';
import { kustomizationEvent } from '../support/events.js';

const filters: DuplicateFilter[] = [];
afterEach(() => filters.splice(0).forEach((f) => f.close()));

function server(dispatch: EventDispatcher['dispatch'], duplicates: DuplicateFilter = new MemoryDuplicateFilter(60_000)) {
  filters.push(duplicates);
  const dispatcher = { dispatch } as unknown as EventDispatcher;
  return buildEventsServer({ dispatcher, duplicates, metrics: new Metrics({ processMetrics: false }), logger: createLogger('silent') });
}

const post = (app: ReturnType<typeof server>) => app.inject({ method: 'POST', url: '/', payload: kustomizationEvent() });

describe('events server and the duplicate window', () => {
  it('answers 503 when the duplicate check fails, and the retry is accepted once the store is back', async () => {
    let down = true;
    const memory = new MemoryDuplicateFilter(60_000);
    const duplicates: DuplicateFilter = {
      windowMs: memory.windowMs,
      windowEnd: async (key) => {
        if (down) throw new Error('checking for a duplicate in redis took longer than 5000ms');
        return memory.windowEnd(key);
      },
      remember: (key) => memory.remember(key),
      close: () => memory.close(),
    };
    const app = server(async () => ({ matched: 1, enqueued: 1 }), duplicates);
    expect((await post(app)).statusCode).toBe(503);
    down = false;
    expect((await post(app)).statusCode).toBe(202);
    expect((await post(app)).statusCode).toBe(429);
    await app.close();
  });

  it("carries Flux's rate-limit headers: on the 202, and on the 429 with Retry-After at the window's end", async () => {
    const now = Date.UTC(2026, 11, 1, 16, 50, 0, 400);
    const duplicates = new MemoryDuplicateFilter(5 * 60_000, () => now);
    const app = server(async () => ({ matched: 1, enqueued: 1 }), duplicates);
    const accepted = await post(app);
    expect(accepted.statusCode).toBe(202);
    expect(accepted.headers['x-ratelimit-limit']).toBe('1');
    expect(accepted.headers['x-ratelimit-remaining']).toBe('0');
    // Go's time.RFC1123 of a UTC time: the zone reads UTC, not GMT.
    expect(accepted.headers['x-ratelimit-reset']).toMatch(/^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} UTC$/);
    // The window is recorded after the answer; the duplicate sees it end five minutes after `now`.
    await new Promise((r) => setImmediate(r));
    const refused = await post(app);
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['x-ratelimit-limit']).toBe('1');
    expect(refused.headers['x-ratelimit-remaining']).toBe('0');
    expect(refused.headers['x-ratelimit-reset']).toBe('Tue, 01 Dec 2026 16:55:00 UTC');
    expect(refused.headers['retry-after']).toBe('Tue, 01 Dec 2026 16:55:00 UTC');
    duplicates.close();
    await app.close();
  });

  it('does not start the window for an event whose jobs could not be stored: the retry is not a 429', async () => {
    let storing = false;
    const app = server(async () => {
      if (!storing) throw new Error('redis is not reachable');
      return { matched: 1, enqueued: 1 };
    });
    expect((await post(app)).statusCode).toBe(503);
    storing = true;
    expect((await post(app)).statusCode).toBe(202);
    expect((await post(app)).statusCode).toBe(429);
    await app.close();
  });

  it('accepts stored work even when its window cannot be recorded', async () => {
    const duplicates: DuplicateFilter = {
      windowMs: 60_000,
      windowEnd: async () => undefined,
      remember: async () => {
        throw new Error('redis went away');
      },
      close: () => undefined,
    };
    const app = server(async () => ({ matched: 1, enqueued: 1 }), duplicates);
    expect((await post(app)).statusCode).toBe(202);
    await app.close();
  });
});
