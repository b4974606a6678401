import { defineConfig } from 'vitest/config';
import SummaryReporter from './test/support/summary-reporter.js';

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two files at a time where a project allows it (vitest's default on a 2-core machine is one).
    maxWorkers: 2,
    reporters: ['default', new SummaryReporter()],
    projects: [
      {
        // Unit and integration files: in-process code, or a Redis, registry or Git server of
        // the file's own (or a key prefix of its own on the shared Redis), with generous time
        // bounds. Two at a time, before the others: most of each file's time is vitest
        // starting a worker and importing its modules, which the second core halves.
        extends: true,
        test: {
          name: 'unit-integration',
          include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        // End-to-end and fault files start Herald and Redis processes and load the 2-core
        // machine: one at a time (in one worker process), alone, after the others, so that
        // their timing bounds stay meaningful.
        extends: true,
        test: {
          name: 'e2e-faults',
          include: ['test/e2e/**/*.test.ts', 'test/faults/**/*.test.ts'],
          poolOptions: { forks: { singleFork: true } },
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
