/**
 * Starts and stops redis-server processes of a test's own (plain, AOF, password, ACL, TLS,
 * Sentinel, Cluster node) on free loopback ports, each in its own temporary directory. Only
 * ever signals the processes it started, by PID.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { freePort } from './herald.js';
import { makeTempDir } from './tmp.js';

export interface RedisServer {
  port: number;
  /** The current process's PID (changes with `restart`). */
  pid: number;
  /** The working directory (AOF, nodes.conf, sentinel.conf live here). */
  dir: string;
  /** Every line the current and past processes wrote. */
  output: string[];
  /** Sends a signal to the process this helper started and resolves once it exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts redis-server again with the same arguments, port and directory. */
  restart(): Promise<void>;
  running(): boolean;
  /** Stops it (SIGKILL) if running and removes its directory. */
  cleanup(): Promise<void>;
}

export interface RedisServerOptions {
  /** Extra `--name value` arguments (or a config file path first, for Sentinel). */
  args?: string[];
  /** Arguments placed before everything else, e.g. a config file path. */
  leadingArgs?: string[];
  port?: number;
  /** TLS: serve TLS only on `port` (the plain port is disabled). Paths to PEM files. */
  tls?: { cert: string; key: string; ca: string };
  dir?: string;
  /** A line that says the server is ready (default: "Ready to accept connections"). */
  readyLine?: RegExp;
  startTimeoutMs?: number;
}

const everyServer = new Set<RedisServer>();

/** Stops every server still running (for afterAll hooks). */
export async function stopAllRedisServers(): Promise<void> {
  for (const s of [...everyServer]) await s.cleanup();
}

/** `redis-server --version`, or undefined when the binary is missing. */
export function redisServerVersion(): string | undefined {
  const run = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return run.status === 0 ? run.stdout.trim() : undefined;
}

export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServer> {
  const port = opts.port ?? (await freePort());
  const ownDir = !opts.dir;
  const dir = opts.dir ?? (await makeTempDir('herald-redis-'));
  const portArgs = opts.tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', opts.tls.cert, '--tls-key-file', opts.tls.key, '--tls-ca-cert-file', opts.tls.ca, '--tls-auth-clients', 'no']
    : ['--port', String(port)];
  const args = [
    ...(opts.leadingArgs ?? []),
    '--bind',
    '127.0.0.1',
    ...portArgs,
    '--dir',
    dir,
    '--save',
    '',
    '--logfile',
    '',
    '--daemonize',
    'no',
    ...(opts.args ?? []),
  ];
  const output: string[] = [];
  const readyLine = opts.readyLine ?? /Ready to accept connections/;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const launch = async () => {
    const c = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    exited = new Promise<void>((resolveExit) => c.once('exit', () => resolveExit()));
    let ready = false;
    const seen = new Promise<void>((resolveReady, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`redis-server on port ${port} not ready within ${opts.startTimeoutMs ?? 10_000}ms:\n${output.slice(-30).join('\n')}`)),
        opts.startTimeoutMs ?? 10_000,
      );
      c.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (!ready) reject(new Error(`redis-server exited (${code ?? signal}):\n${output.slice(-30).join('\n')}`));
      });
      for (const stream of [c.stdout, c.stderr]) {
        let partial = '';
        stream?.on('data', (chunk: Buffer) => {
          const lines = (partial + chunk.toString('utf8')).split('\n');
          partial = lines.pop() ?? '';
          output.push(...lines);
          if (!ready && lines.some((l) => readyLine.test(l))) {
            ready = true;
            clearTimeout(timer);
            resolveReady();
          }
        });
      }
    });
    await seen;
  };

  const running = () => !!child && child.exitCode === null && child.signalCode === null;
  const server: RedisServer = {
    port,
    get pid() {
      return child?.pid ?? -1;
    },
    dir,
    output,
    async stop(signal = 'SIGTERM') {
      if (running()) child?.kill(signal);
      const timer = setTimeout(() => running() && child?.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
    async restart() {
      if (running()) throw new Error('redis-server is still running');
      await launch();
    },
    running,
    async cleanup() {
      everyServer.delete(server);
      await server.stop('SIGKILL');
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
  everyServer.add(server);
  try {
    await launch();
  } catch (err) {
    await server.cleanup();
    throw err;
  }
  return server;
}
