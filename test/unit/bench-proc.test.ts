/**
 * The bench's memory watcher (bench/proc.ts): the peak of a load window leaves out what the
 * process held before it, and the peak since the start keeps it.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryWatcher } from '../../bench/proc.js';

const MiB = 1024 * 1024;
const children: Array<ReturnType<typeof spawn>> = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill();
});

describe('bench memory watcher', () => {
  it('starts the peak afresh for the window, and keeps the peak since the start', async () => {
    // Touches 200 MiB, frees it, says so, then idles until killed.
    const script = `let b = Buffer.alloc(200 * 1024 * 1024, 1); b = undefined; globalThis.gc(); setTimeout(() => { process.stdout.write('freed\\n'); setInterval(() => {}, 1000); }, 200);`;
    const child = spawn(process.execPath, ['--expose-gc', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    const watcher = new MemoryWatcher(child.pid as number, 50);
    await once(child.stdout, 'data');
    watcher.startWindow();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const window = watcher.stop() as number;
    expect(watcher.sinceStart).toBeGreaterThan(200 * MiB);
    expect(window).toBeLessThan(150 * MiB);
    expect(window).toBeGreaterThan(10 * MiB);
  });
});
