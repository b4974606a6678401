import { defineConfig } from 'vitest/config';
import SummaryReporter from './test/support/summary-reporter.js';

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default', new SummaryReporter()],
    poolOptions: {
      // Unit and integration files: two at a time (vitest's default on a 2-core machine is one).
      threads: { maxThreads: 2 },
      // End-to-end and fault files: one at a time, each in a process of its own, as before.
      forks: { maxForks: 1 },
    },
    projects: [
      {
        // In-process code, or a Redis, registry or Git server of the file's own (or a key prefix
        // of its own on the shared Redis), with generous time bounds. Most of such a file's time
        // is vitest starting a worker and importing its modules: worker threads start faster
        // than processes, and the second core takes half the files. They run first.
        extends: true,
        test: {
          name: 'unit-integration',
          include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
          pool: 'threads',
          sequence: { groupOrder: 0 },
        },
      },
      {
        // These start Herald and Redis processes and load the 2-core machine: one file at a
        // time, alone, after the others, so that their timing bounds stay meaningful.
        extends: true,
        test: {
          name: 'e2e-faults',
          include: ['test/e2e/**/*.test.ts', 'test/faults/**/*.test.ts'],
          pool: 'forks',
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
