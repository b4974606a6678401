/** Git helpers that need no repository: masking, lock keys, the keyed lock, command bounds. */
import { describe, expect, it } from 'vitest';
import { GitError, KeyedLock, credentialsFromSecret, maskSecrets, repositoryBranchKey, runCommand } from '../../src/image/update/git.js';

describe('maskSecrets', () => {
  it('masks every credential and URL user-info', () => {
    expect(maskSecrets('fatal: https://user:hunter22@example.com/x.git said hunter22 and aHVudGVyMjI=', ['hunter22', 'aHVudGVyMjI=']))
      .toBe('fatal: https://***@example.com/x.git said *** and ***');
  });
});

describe('repositoryBranchKey', () => {
  it('one key for the spellings of one repository branch', () => {
    const key = repositoryBranchKey('https://Example.com/org/repo.git', 'main');
    expect(repositoryBranchKey('https://example.com/org/repo/', 'main')).toBe(key);
    expect(repositoryBranchKey('https://u:p@example.com/org/repo', 'main')).toBe(key);
    expect(repositoryBranchKey('https://example.com/org/repo', 'dev')).not.toBe(key);
  });
});

describe('credentialsFromSecret', () => {
  it("reads Flux's keys by transport", () => {
    expect(credentialsFromSecret('https://h/r', { username: 'u', password: 'p', bearerToken: 't', 'ca.crt': 'c' })).toEqual({ username: 'u', password: 'p', bearerToken: 't', caCert: 'c' });
    expect(credentialsFromSecret('ssh://git@h/r', { identity: 'k', password: 'pp', known_hosts: 'kh' })).toEqual({ identity: 'k', identityPassphrase: 'pp', knownHosts: 'kh' });
  });
});

describe('KeyedLock', () => {
  it('runs work for one key one at a time, other keys in parallel, and forgets idle keys', async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    const job = (key: string, name: string, ms: number) =>
      lock.run(key, async () => {
        log.push(`start ${name}`);
        await new Promise((r) => setTimeout(r, ms));
        log.push(`end ${name}`);
      });
    await Promise.all([job('a', 'a1', 30), job('a', 'a2', 1), job('b', 'b1', 1)]);
    expect(log.indexOf('end a1')).toBeLessThan(log.indexOf('start a2'));
    expect(log.indexOf('end b1')).toBeLessThan(log.indexOf('end a1'));
    expect(lock.size).toBe(0);
  });

  it('a failing job releases the key', async () => {
    const lock = new KeyedLock();
    await expect(lock.run('a', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(lock.run('a', () => Promise.resolve(1))).resolves.toBe(1);
  });
});

describe('runCommand', () => {
  const env = { PATH: process.env.PATH ?? '' };

  it('a timeout kills the whole process group', async () => {
    const started = Date.now();
    const run = runCommand('sh', ['-c', 'sleep 30 & sleep 30'], { timeoutMs: 300, env, secrets: [] });
    await expect(run).rejects.toMatchObject({ kind: 'timeout' });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('errors quote the end of stderr, masked, without hints', async () => {
    const err = await runCommand('sh', ['-c', 'echo "hint: try again" >&2; echo "fatal: token s3cr3t-value rejected" >&2; exit 3'], { timeoutMs: 5000, env, secrets: ['s3cr3t-value'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitError);
    expect((err as Error).message).toBe('sh failed (exit 3): fatal: token *** rejected');
  });

  it('stdout is bounded', async () => {
    const { stdout } = await runCommand('sh', ['-c', 'head -c 3000000 /dev/zero'], { timeoutMs: 10_000, env, secrets: [] });
    expect(stdout.length).toBe(1024 * 1024);
  });
});
