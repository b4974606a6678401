/**
 * The command line as a user meets it, against the built process: help and version exit 0,
 * a usage error is one line plus a hint and exits 2, a failure while starting exits 1.
 */
import { spawn, spawnSync } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, heraldMain } from '../support/herald.js';
import { makeTempDir } from '../support/tmp.js';
import { until } from '../support/wait.js';

function herald(...args: string[]) {
  const run = spawnSync(process.execPath, [heraldMain, ...args], { encoding: 'utf8', timeout: 20_000, env: { PATH: process.env.PATH ?? '' } });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('herald command line (process)', () => {
  it('--help and -h print the flags with value placeholders and exit 0', () => {
    for (const flag of ['--help', '-h']) {
      const run = herald(flag);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/--events-addr ADDR/);
      expect(run.stderr).toBe('');
    }
  });

  it('--version prints package.json\'s version and exits 0', () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(herald('--version')).toEqual({ code: 0, stdout: `herald ${version}\n`, stderr: '' });
  });

  it('an unknown flag: one line and a short usage hint on stderr, exit 2', () => {
    const run = herald('--config-dir', 'x', '--nope');
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe('herald: unknown flag --nope');
    expect(lines[1]).toMatch(/^Usage: herald .*--help/);
  });

  it('a bad value is a usage error too (exit 2), even one found only when used (a missing --config-dir)', () => {
    expect(herald('--config-dir', 'x', '--events-addr', 'nowhere')).toMatchObject({ code: 2 });
    const missing = herald('--config-dir', '/nonexistent/herald-cli-test', '--log-level', 'error');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/manifests directory .* does not exist/);
  });

  it('with stdout a file, SIGTERM exits 0 and the last log line ("herald stopped") is written', async () => {
    const dir = await makeTempDir('herald-cli-');
    const logPath = join(dir, 'herald.log');
    const out = openSync(logPath, 'w');
    const addr = async () => `127.0.0.1:${await freePort()}`;
    const args = ['--config-dir', 'examples/manifests'];
    for (const flag of ['--events-addr', '--metrics-addr', '--health-addr', '--admin-addr', '--receiver-addr']) args.push(flag, await addr());
    const child = spawn(process.execPath, [heraldMain, ...args], { stdio: ['ignore', out, out], env: { PATH: process.env.PATH ?? '' } });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await until(() => readFileSync(logPath, 'utf8').includes('Server listening'), { timeoutMs: 20_000, what: 'herald listening' });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    // Before: pino's flush answered at once with its last write still under way, and the exit lost it.
    expect(readFileSync(logPath, 'utf8')).toContain('"msg":"herald stopped"');
  });
});
