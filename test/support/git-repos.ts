/**
 * Real git repositories for tests: bare repositories with a first commit, clones to inspect
 * them, and a git environment that keeps the machine's configuration out (no system config,
 * a temporary HOME, a fixed identity).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export function testTmp(prefix: string): string {
  return mkdtempSync(join(process.env.HERALD_TEST_TMP ?? tmpdir(), prefix));
}

const home = testTmp('git-home-');

export const GIT_ENV: Record<string, string> = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: home,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_TERMINAL_PROMPT: '0',
  GIT_AUTHOR_NAME: 'Test Writer',
  GIT_AUTHOR_EMAIL: 'writer@example.com',
  GIT_COMMITTER_NAME: 'Test Writer',
  GIT_COMMITTER_EMAIL: 'writer@example.com',
  LC_ALL: 'C',
};

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface BareRepo {
  /** The bare repository's directory. */
  dir: string;
  url: string;
}

/** A bare repository whose `branch` holds `files` in one commit. */
export function bareRepo(files: Record<string, string>, branch = 'main'): BareRepo {
  const root = testTmp('git-repo-');
  const dir = join(root, 'remote.git');
  git(root, 'init', '--quiet', '--bare', '--initial-branch', branch, dir);
  const work = join(root, 'seed');
  git(root, 'clone', '--quiet', dir, work);
  git(work, 'checkout', '--quiet', '-B', branch);
  writeFiles(work, files);
  git(work, 'add', '--all');
  git(work, 'commit', '--quiet', '-m', 'seed');
  git(work, 'push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`);
  return { dir, url: `file://${dir}` };
}

export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}

/** A fresh full clone of `branch`, to look at what was pushed. */
export function cloneOf(repo: BareRepo, branch = 'main'): string {
  const dir = join(testTmp('git-clone-'), 'c');
  git(dirname(dir), 'clone', '--quiet', '--branch', branch, repo.dir, dir);
  return dir;
}

/** Installs an executable hook script in the bare repository. */
export function installHook(repo: BareRepo, name: string, script: string): void {
  const path = join(repo.dir, 'hooks', name);
  writeFileSync(path, script);
  chmodSync(path, 0o755);
}
