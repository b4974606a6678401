/**
 * Temporary directories for tests: under the directory vitest's global setup made for this
 * run (`HERALD_TEST_TMP`, removed when the run ends, so no run leaves files behind even when a
 * test stops early), or the system's temporary directory outside vitest (the benchmark).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A new empty directory named `<prefix>…`. */
export function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(process.env.HERALD_TEST_TMP ?? tmpdir(), prefix));
}
