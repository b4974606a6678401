/** vitest global setup: one temporary directory for the whole run, removed at its end. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'herald-tests-'));
  // Test processes start after this and inherit it.
  process.env.HERALD_TEST_TMP = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
