/**
 * Herald's node flags (V8's young generation, README "Performance") can only be given when node
 * starts: every way this repository starts Herald for real gives the same ones.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

describe('node flags', () => {
  it('npm start, the image and the benchmark run Herald with the same ones', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    const flags = /^node ((?:--\S+ )+)dist\/src\/main\.js/.exec(scripts.start ?? '')?.[1]?.trim();
    expect(flags).toContain('--max-semi-space-size=');
    expect(scripts['start:image-automation']).toContain(`node ${flags} dist/src/main.js`);

    const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(read('Dockerfile'))?.[1];
    expect(JSON.parse(entrypoint ?? '[]')).toEqual(['node', ...(flags ?? '').split(' '), 'dist/src/main.js']);

    expect(read('bench/run.ts')).toContain(`const HERALD_NODE_FLAGS = '${flags}';`);
  });

  it('the benchmark runs Herald with the environment the image sets for it', () => {
    const env = [...read('Dockerfile').matchAll(/^ENV (MALLOC_\S+)$/gm)].map((m) => m[1]);
    expect(env).toEqual(['MALLOC_ARENA_MAX=2']);
    expect(read('bench/run.ts')).toContain(`const HERALD_ENV = '${env.join(' ')}';`);
  });
});
