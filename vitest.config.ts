import { defineConfig } from 'vitest/config';
import SummaryReporter from './test/support/summary-reporter.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // End-to-end and fault tests start Herald and Redis processes and load the 2-core machine;
    // running files one at a time keeps their timing bounds meaningful.
    fileParallelism: false,
    reporters: ['default', new SummaryReporter()],
  },
});
