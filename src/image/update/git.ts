/**
 * Git through the `git` command line: clone the checkout ref shallowly, commit, push, and on a
 * rejected push fetch the new tip so the caller can re-apply its change. Every command runs
 * through `execFile`-style spawning (no shell), with a timeout that kills its whole process
 * group, bounded output, and errors with every credential masked.
 *
 * Credentials never reach argv or a URL: HTTPS ones travel as an `http.<url>.extraHeader`
 * set through `GIT_CONFIG_*` environment variables, SSH keys as files (0600) in a private
 * temporary directory named by `GIT_SSH_COMMAND`.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GitRef } from './types.js';

/** Bytes kept of a command's stdout and of its stderr. */
export const MAX_GIT_OUTPUT = 1024 * 1024;
/** Characters of stderr quoted in an error. */
const ERROR_TAIL = 600;

export type GitErrorKind = 'auth' | 'not-found' | 'rejected' | 'timeout' | 'failed';

export class GitError extends Error {
  override readonly name = 'GitError';
  constructor(message: string, readonly kind: GitErrorKind) {
    super(message);
  }
}

/** The keys Flux reads from a GitRepository's Secret. */
export interface GitCredentials {
  username?: string;
  password?: string;
  bearerToken?: string;
  /** SSH private key (OpenSSH or PEM). */
  identity?: string;
  /** The key's passphrase (`password` in an SSH Secret). */
  identityPassphrase?: string;
  knownHosts?: string;
  caCert?: string;
}

export function credentialsFromSecret(url: string, data: Readonly<Record<string, string>> | undefined): GitCredentials {
  if (!data) return {};
  if (url.startsWith('ssh://')) {
    return { identity: data.identity, identityPassphrase: data.password, knownHosts: data.known_hosts };
  }
  return { username: data.username, password: data.password, bearerToken: data.bearerToken, caCert: data['ca.crt'] };
}

/** Replaces every credential (and its encodings) and any URL user-info in `text`. */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi, '$1***@');
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    if (s.length >= 3) out = out.split(s).join('***');
  }
  return out;
}

export interface RunOptions {
  cwd?: string;
  timeoutMs: number;
  env: Readonly<Record<string, string>>;
  secrets: readonly string[];
  /** Written to the process's stdin. */
  input?: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

function classify(stderr: string): GitErrorKind {
  if (/\[(remote )?rejected\]|updates were rejected|non-fast-forward|fetch first|failed to update ref|cannot lock ref|stale info/i.test(stderr)) return 'rejected';
  if (/authentication failed|could not read username|401|403|permission denied|host key verification failed/i.test(stderr)) return 'auth';
  if (/couldn't find remote ref|not found|does not appear to be a git repository|unknown revision|no such ref|not our ref|did not match any/i.test(stderr)) return 'not-found';
  return 'failed';
}

/** The subcommand of a git command line (`commit` in `git -c a=b commit …`), for messages. */
function subcommand(args: readonly string[]): string {
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '-c' || a === '-C') i++;
    else if (!a.startsWith('-')) return a;
  }
  return '';
}

/** Runs one command in its own process group; the timeout kills the group (ssh, remote helpers). */
export function runCommand(command: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: { ...opts.env }, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let timedOut = false;
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, opts.timeoutMs);
    child.stdout.on('data', (b: Buffer) => {
      if (outBytes < MAX_GIT_OUTPUT) out.push(b.subarray(0, MAX_GIT_OUTPUT - outBytes));
      outBytes += b.length;
    });
    child.stderr.on('data', (b: Buffer) => {
      // Keep the end: git's decisive line is its last.
      err.push(b);
      errBytes += b.length;
      while (errBytes > MAX_GIT_OUTPUT && err.length > 1) errBytes -= (err.shift() as Buffer).length;
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new GitError(`${command} could not start: ${maskSecrets(e.message, opts.secrets)}`, 'failed'));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (timedOut) {
        reject(new GitError(`${[command, subcommand(args)].filter(Boolean).join(' ')} timed out after ${opts.timeoutMs}ms`, 'timeout'));
      } else if (code !== 0) {
        // git's advice lines say nothing an operator of an automation can act on.
        const useful = stderr.split('\n').filter((l) => !l.startsWith('hint:')).join('\n').trim();
        const tail = maskSecrets(useful.slice(-ERROR_TAIL), opts.secrets).replace(/\s*\n\s*/g, '; ');
        reject(new GitError(`${[command, subcommand(args)].filter(Boolean).join(' ')} failed (${signal ?? `exit ${code}`}): ${tail}`, classify(stderr)));
      } else resolve({ stdout, stderr });
    });
  });
}

export interface SessionOptions {
  url: string;
  credentials: GitCredentials;
  /** Per command. */
  timeoutMs: number;
  /** Parent of the session's temporary directory. */
  tmpRoot?: string;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * One working directory and the environment for one automation run: a private HOME (so no
 * user or system configuration leaks in), the auth material, and the clone itself.
 */
export class GitSession {
  readonly repoDir: string;
  private readonly env: Record<string, string>;
  private readonly secrets: string[];

  private constructor(readonly root: string, readonly url: string, env: Record<string, string>, secrets: string[], private readonly timeoutMs: number) {
    this.repoDir = join(root, 'repo');
    this.env = env;
    this.secrets = secrets;
  }

  static async open(opts: SessionOptions): Promise<GitSession> {
    const root = await mkdtemp(join(opts.tmpRoot ?? tmpdir(), 'herald-git-'));
    await chmod(root, 0o700);
    const home = join(root, 'home');
    await mkdir(home, { mode: 0o700 });
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      XDG_CONFIG_HOME: home,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_TERMINAL_PROMPT: '0',
      GIT_ASKPASS: '',
      SSH_ASKPASS: '',
      // No ext::, fd:: or other transports a crafted URL or submodule could reach for.
      GIT_ALLOW_PROTOCOL: 'http:https:ssh:file',
      LC_ALL: 'C',
    };
    const config: Array<[string, string]> = [['credential.helper', '']];
    const secrets: string[] = [];
    const c = opts.credentials;
    if (c.bearerToken || c.password || c.username) {
      let header: string;
      if (c.bearerToken) {
        header = `Authorization: Bearer ${c.bearerToken}`;
        secrets.push(c.bearerToken);
      } else {
        const basic = Buffer.from(`${c.username ?? ''}:${c.password ?? ''}`).toString('base64');
        header = `Authorization: Basic ${basic}`;
        secrets.push(basic);
        if (c.password) secrets.push(c.password);
      }
      // Scoped to the repository URL, so a redirect to another host never receives it.
      config.push([`http.${opts.url}.extraHeader`, header]);
    }
    if (c.caCert) {
      const caFile = join(root, 'ca.crt');
      await writeFile(caFile, c.caCert, { mode: 0o600 });
      config.push(['http.sslCAInfo', caFile]);
    }
    if (opts.url.startsWith('ssh://')) {
      const sshDir = join(root, 'ssh');
      await mkdir(sshDir, { mode: 0o700 });
      const knownHosts = join(sshDir, 'known_hosts');
      await writeFile(knownHosts, c.knownHosts ?? '', { mode: 0o600 });
      const parts = ['ssh', '-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${shellQuote(knownHosts)}`];
      if (c.identity) {
        const key = join(sshDir, 'identity');
        await writeFile(key, c.identity.endsWith('\n') ? c.identity : `${c.identity}\n`, { mode: 0o600 });
        parts.push('-o', 'IdentitiesOnly=yes', '-i', shellQuote(key));
      }
      if (c.identityPassphrase) {
        // ssh reads a key passphrase only from a terminal or SSH_ASKPASS; the script prints it from the environment.
        const askpass = join(sshDir, 'askpass');
        await writeFile(askpass, '#!/bin/sh\nprintf "%s\\n" "$HERALD_SSH_PASSPHRASE"\n', { mode: 0o700 });
        env.SSH_ASKPASS = askpass;
        env.SSH_ASKPASS_REQUIRE = 'force';
        env.HERALD_SSH_PASSPHRASE = c.identityPassphrase;
        parts.splice(parts.indexOf('BatchMode=yes'), 1, 'BatchMode=no');
        secrets.push(c.identityPassphrase);
      }
      env.GIT_SSH_COMMAND = parts.join(' ');
    }
    env.GIT_CONFIG_COUNT = String(config.length);
    config.forEach(([k, v], i) => {
      env[`GIT_CONFIG_KEY_${i}`] = k;
      env[`GIT_CONFIG_VALUE_${i}`] = v;
    });
    return new GitSession(root, opts.url, env, secrets, opts.timeoutMs);
  }

  /** Masks this session's credentials in any text (for errors raised outside `git`). */
  mask(text: string): string {
    return maskSecrets(text, this.secrets);
  }

  async git(args: readonly string[], input?: string): Promise<string> {
    return this.run('git', args, input);
  }

  /** Any other tool (gpg) in the session's environment; in the clone once it exists. */
  async run(command: string, args: readonly string[], input?: string): Promise<string> {
    const cwd = existsSync(this.repoDir) ? this.repoDir : this.root;
    const { stdout } = await runCommand(command, args, { cwd, env: this.env, timeoutMs: this.timeoutMs, secrets: this.secrets, input });
    return stdout;
  }

  /** Registers a value that must be masked from every later error of this session. */
  addSecret(value: string): void {
    this.secrets.push(value);
  }

  /** Runs before the directory is removed (e.g. stopping a gpg-agent started for signing). */
  readonly cleanups: Array<() => Promise<void>> = [];

  async close(): Promise<void> {
    for (const cleanup of this.cleanups.splice(0)) await cleanup().catch(() => undefined);
    await rm(this.root, { recursive: true, force: true });
  }

  /** `git ls-remote` of one pattern: ref name → SHA. */
  async lsRemote(pattern: string): Promise<Map<string, string>> {
    const out = await this.git(['ls-remote', '--', this.url, pattern]);
    const refs = new Map<string, string>();
    for (const line of out.split('\n')) {
      const [sha, ref] = line.split('\t');
      if (sha && ref) refs.set(ref, sha);
    }
    return refs;
  }

  /**
   * Clones `ref` (depth 1 where git allows) into `repoDir` and leaves a local branch named
   * `localBranch` at it. Returns the checked-out commit.
   */
  async checkout(ref: CheckoutRef, localBranch: string): Promise<string> {
    await mkdir(this.repoDir, { mode: 0o700 });
    await this.git(['init', '--quiet', '--initial-branch', localBranch]);
    await this.git(['remote', 'add', 'origin', '--', this.url]);
    if (ref.kind === 'commit') {
      await this.git(['fetch', '--quiet', '--no-tags', '--depth', '1', 'origin', ref.commit]);
    } else {
      await this.git(['fetch', '--quiet', '--no-tags', '--depth', '1', 'origin', `+${ref.refName}:refs/remotes/origin/checkout`]);
    }
    await this.git(['checkout', '--quiet', '-B', localBranch, ref.kind === 'commit' ? 'FETCH_HEAD' : 'refs/remotes/origin/checkout']);
    return (await this.git(['rev-parse', 'HEAD'])).trim();
  }

  /** Moves the local branch to the remote branch's current tip (after a rejected push). */
  async resetToRemote(branch: string, localBranch: string): Promise<string> {
    await this.git(['fetch', '--quiet', '--no-tags', '--depth', '1', 'origin', `+refs/heads/${branch}:refs/remotes/origin/${branch}`]);
    await this.git(['checkout', '--quiet', '-B', localBranch, `refs/remotes/origin/${branch}`]);
    await this.git(['reset', '--quiet', '--hard']);
    return (await this.git(['rev-parse', 'HEAD'])).trim();
  }

  /** Stages everything and commits; undefined when there is nothing to commit. */
  async commitAll(commit: CommitSpec): Promise<string | undefined> {
    await this.git(['add', '--all']);
    const staged = await this.git(['diff', '--cached', '--name-only']);
    if (staged.trim() === '') return undefined;
    const args = [
      '-c', `user.name=${commit.authorName}`,
      '-c', `user.email=${commit.authorEmail}`,
      ...(commit.signing?.config ?? []).flatMap((c) => ['-c', c]),
      'commit', '--quiet', '--no-verify', '--cleanup=verbatim', '--allow-empty-message', '--file=-',
      ...(commit.signing ? ['--gpg-sign'] : ['--no-gpg-sign']),
    ];
    await this.git(args, commit.message);
    return (await this.git(['rev-parse', 'HEAD'])).trim();
  }

  async push(refspec: string, options: Readonly<Record<string, string>> = {}, force = false): Promise<void> {
    const args = ['push', '--quiet', '--porcelain'];
    if (force) args.push('--force');
    for (const [k, v] of Object.entries(options).sort(([a], [b]) => (a < b ? -1 : 1))) args.push('--push-option', v === '' ? k : `${k}=${v}`);
    args.push('origin', refspec);
    await this.git(args);
  }
}

export type CheckoutRef = { kind: 'ref'; refName: string; branch?: string } | { kind: 'commit'; commit: string };

export interface CommitSpec {
  authorName: string;
  authorEmail: string;
  message: string;
  /** `-c` settings that make `git commit --gpg-sign` sign (gpg or ssh format). */
  signing?: { config: string[] };
}

/** A semver tag selector (Masterminds semantics), provided by the ImagePolicy side. */
export type SemverSelector = (range: string, tags: readonly string[]) => string | undefined;

/**
 * Resolves a GitRepository ref to what to fetch, with Flux's precedence
 * (commit > name > semver > tag > branch; none → `master`).
 */
export async function resolveCheckoutRef(session: GitSession, ref: GitRef | undefined, selectSemver?: SemverSelector): Promise<CheckoutRef> {
  if (ref?.commit) return { kind: 'commit', commit: ref.commit };
  if (ref?.name) return { kind: 'ref', refName: ref.name, ...(ref.name.startsWith('refs/heads/') ? { branch: ref.name.slice(11) } : {}) };
  if (ref?.semver) {
    if (!selectSemver) throw new GitError('checkout by semver needs a semver selector', 'failed');
    const tags = [...(await session.lsRemote('refs/tags/*')).keys()].filter((t) => !t.endsWith('^{}')).map((t) => t.slice('refs/tags/'.length));
    const tag = selectSemver(ref.semver, tags);
    if (!tag) throw new GitError(`no tag matches semver range '${ref.semver}'`, 'not-found');
    return { kind: 'ref', refName: `refs/tags/${tag}` };
  }
  if (ref?.tag) return { kind: 'ref', refName: `refs/tags/${ref.tag}` };
  const branch = ref?.branch || 'master';
  return { kind: 'ref', refName: `refs/heads/${branch}`, branch };
}

/** Serialises work per key in this process (automations pushing to one repository branch). */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const current = new Promise<void>((r) => (release = r));
    const tail = previous.then(() => current);
    this.tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  get size(): number {
    return this.tails.size;
  }
}

/** The lock key of a repository branch: the URL without credentials, case-folded host, no `.git`. */
export function repositoryBranchKey(url: string, branch: string): string {
  let normal = url.trim().replace(/\/+$/, '').replace(/\.git$/, '');
  try {
    const u = new URL(normal);
    u.username = '';
    u.password = '';
    normal = `${u.protocol}//${u.host.toLowerCase()}${u.pathname.replace(/\/+$/, '').replace(/\.git$/, '')}`;
  } catch {
    // scp-like or unusual: the trimmed text is the key
  }
  return `${normal}#${branch}`;
}
