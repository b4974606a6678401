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
      isDuplicate: async (key) => {
        if (down) throw new Error('checking for a duplicate in redis took longer than 5000ms');
        return memory.isDuplicate(key);
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
      isDuplicate: async () => false,
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
