import { describe, expect, it } from 'vitest';
import type { Dispatcher } from '../../src/delivery/dispatcher.js';
import { createLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import type { DuplicateFilter } from '../../src/server/duplicate-filter.js';
import { buildEventsServer } from '../../src/server/events.js';
import { kustomizationEvent } from '../support/events.js';

describe('events server', () => {
  it('forgets the key when the duplicate check fails (it may have been stored late), so the retry after the 503 is not a 429', async () => {
    const forgotten: string[] = [];
    const duplicates: DuplicateFilter = {
      firstSighting: async () => {
        throw new Error('checking for a duplicate in redis took longer than 5000ms');
      },
      forget: async (key) => void forgotten.push(key),
      close: () => undefined,
    };
    const dispatcher = { dispatch: async () => ({ matched: 0, enqueued: 0 }) } as unknown as Dispatcher;
    const app = buildEventsServer({ dispatcher, duplicates, metrics: new Metrics(), logger: createLogger('silent') });
    const res = await app.inject({ method: 'POST', url: '/', payload: kustomizationEvent() });
    expect(res.statusCode).toBe(503);
    expect(forgotten).toHaveLength(1);
    await app.close();
  });
});
