/**
 * The Node.js versions Herald states it runs on (package.json `engines`, enforced by `npm ci`
 * through `.npmrc`'s engine-strict) must be ones every installed dependency supports: a
 * dependency that moves to a newer Node (as cookie@2 did, to Node 22) fails here, not on a
 * user's machine.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { engines?: Record<string, string> | string[] }>;
};

describe('supported Node.js versions', () => {
  const minimum = semver.minVersion(pkg.engines.node);

  it('npm refuses an unsupported Node.js instead of warning', () => {
    expect(readFileSync(join(ROOT, '.npmrc'), 'utf8')).toMatch(/^engine-strict=true$/m);
    expect(minimum).not.toBeNull();
    expect(semver.satisfies(process.version, pkg.engines.node)).toBe(true);
  });

  it('every installed dependency supports the oldest Node.js Herald states', () => {
    const unsupported = Object.entries(lock.packages)
      // Optional platform packages npm skips when their engines do not match are not on disk.
      .filter(([path, entry]) => path !== '' && existsSync(join(ROOT, path)) && !Array.isArray(entry.engines) && entry.engines?.node)
      .filter(([, entry]) => !semver.satisfies(minimum!.version, (entry.engines as Record<string, string>).node!))
      .map(([path, entry]) => `${path} needs node ${(entry.engines as Record<string, string>).node}`);
    expect(unsupported).toEqual([]);
  });
});
