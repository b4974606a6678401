import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // End-to-end tests start Herald processes on fixed loopback ports; keep files serial
    // so two suites never fight over a port or a Redis key prefix.
    fileParallelism: false,
  },
});
