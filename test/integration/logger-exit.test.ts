/**
 * Log lines are written to stdout in batches (GATHER_MS): the lines gathered when the
 * process exits, a crash included, are still written, because the last lines before a crash
 * are the ones an operator needs. Runs the built logger in a child process whose stdout is a
 * pipe, as Herald's is in a container.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { heraldMain } from '../support/herald.js';

const loggerUrl = pathToFileURL(join(heraldMain, '..', 'observability', 'logger.js')).href;

function run(script: string): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout })));
}

describe('log lines at exit', () => {
  it('writes the lines gathered before an uncaught error ends the process', async () => {
    const { code, stdout } = await run(`
      const { createLogger, stdoutDestination } = await import(${JSON.stringify(loggerUrl)});
      const logger = createLogger('info', stdoutDestination());
      logger.info({ step: 1 }, 'first');
      logger.warn({ step: 2 }, 'just before the crash');
      setImmediate(() => { throw new Error('boom'); });
    `);
    expect(code).toBe(1);
    const lines = stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toMatchObject([{ msg: 'first', step: 1 }, { msg: 'just before the crash', step: 2 }]);
  });

  it('writes them on a plain exit too, without waiting for the gathering interval', async () => {
    const { code, stdout } = await run(`
      const { createLogger, stdoutDestination } = await import(${JSON.stringify(loggerUrl)});
      createLogger('info', stdoutDestination()).info('bye');
      process.exit(3);
    `);
    expect(code).toBe(3);
    expect(JSON.parse(stdout.trim())).toMatchObject({ msg: 'bye' });
  });
});
