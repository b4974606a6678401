/**
 * Prints one plain closing line, `tests: N passed, N failed, N skipped`, after vitest's own
 * report, so CI logs state the outcome in a form any tool can read.
 */
import { writeSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') counts.passed += 1;
        else if (state === 'failed') counts.failed += 1;
        else counts.skipped += 1;
      }
    }
    const line = `\ntests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`;
    // Written as the process exits, so it is the last line, after vitest's own summary.
    process.once('exit', () => writeSync(1, line));
  }
}
