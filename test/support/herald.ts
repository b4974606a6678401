/**
 * Starts Herald as a real process (the built `dist/src/main.js`) on free loopback ports with a
 * temporary config directory, for end-to-end tests and benchmarks. Only ever stops the process
 * it started, by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir } from './tmp.js';

/** The repository root, found from this file whether it runs from test/ (vitest) or dist/test/ (bench). */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

export const heraldMain = join(repoRoot(), 'dist', 'src', 'main.js');

/** Output lines kept per process: enough for any test to scan, bounded for long benchmark runs. */
const MAX_OUTPUT_LINES = 50_000;

/** Ports this test process handed out lately: the kernel may offer a port again right after it is closed. */
const handedOut = new Set<number>();

function listenOnAnyPort(): Promise<Server> {
  return new Promise((resolveServer, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolveServer(server));
  });
}

/**
 * `count` distinct free loopback ports: every one is held open until all are picked (a port
 * closed and picked again at once was given twice, and a Herald then found one of its own
 * listeners' addresses in use), and none handed out lately by this process is given again.
 */
export async function freePorts(count: number): Promise<number[]> {
  const held: Server[] = [];
  const ports: number[] = [];
  try {
    while (ports.length < count) {
      const server = await listenOnAnyPort();
      held.push(server);
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      if (handedOut.has(port)) continue;
      ports.push(port);
    }
  } finally {
    await Promise.all(held.map((server) => new Promise((closed) => server.close(closed))));
  }
  for (const port of ports) handedOut.add(port);
  if (handedOut.size > 4096) for (const port of [...handedOut].slice(0, handedOut.size - 4096)) handedOut.delete(port);
  return ports;
}

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port as number;
}

export interface HeraldProcess {
  child: ChildProcess;
  pid: number;
  eventsUrl: string;
  metricsUrl: string;
  healthUrl: string;
  adminUrl: string;
  /** The receiver listener (`--receiver-addr`): Receivers' `/hook/...` paths. */
  receiverUrl: string;
  configDir: string;
  /** Every line the process wrote to stdout and stderr so far. */
  output: string[];
  postEvent(event: unknown, init?: { body?: string; headers?: Record<string, string> }): Promise<Response>;
  metrics(): Promise<string>;
  /** Writes (or replaces) a manifest file in the config directory. */
  writeManifest(name: string, yaml: string): Promise<void>;
  removeManifest(name: string): Promise<void>;
  /** Sends a signal (SIGKILL after `graceMs` if still running) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
  /** Removes the config directory when this module created it. */
  cleanup(): Promise<void>;
}

export interface StartOptions {
  manifests?: Record<string, string>;
  redisUrl?: string;
  /** Reuse a config directory (e.g. to restart on the same manifests). */
  configDir?: string;
  /** Read resources from Kubernetes (`--kubernetes`, e.g. with `KUBECONFIG` in `env`) instead of a config directory. */
  kubernetes?: boolean;
  extraArgs?: string[];
  env?: Record<string, string>;
  /** Wait for /readyz (default) or only for /healthz (a replica that cannot be ready, e.g. Redis down). */
  waitFor?: 'ready' | 'live';
  /** Flags for node itself, before main.js (e.g. --cpu-prof). */
  nodeArgs?: string[];
}

export async function startHerald(opts: StartOptions = {}): Promise<HeraldProcess> {
  const configDir = opts.configDir ?? (await makeTempDir('herald-e2e-'));
  for (const [name, yaml] of Object.entries(opts.manifests ?? {})) await writeFile(join(configDir, name), yaml);
  const [events, metrics, health, admin, receiver] = (await freePorts(5)) as [number, number, number, number, number];
  const args = [
    ...(opts.nodeArgs ?? []),
    heraldMain,
    ...(opts.kubernetes ? ['--kubernetes'] : ['--config-dir', configDir]),
    '--events-addr',
    `127.0.0.1:${events}`,
    '--metrics-addr',
    `127.0.0.1:${metrics}`,
    '--health-addr',
    `127.0.0.1:${health}`,
    '--admin-addr',
    `127.0.0.1:${admin}`,
    // Never the default :9292: tests run side by side.
    '--receiver-addr',
    `127.0.0.1:${receiver}`,
    ...(opts.redisUrl ? ['--redis-url', opts.redisUrl] : []),
    ...(opts.extraArgs ?? []),
  ];
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  delete env.REDIS_URL;
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      output.push(...lines);
      if (output.length > MAX_OUTPUT_LINES) output.splice(0, output.length - MAX_OUTPUT_LINES);
    });
  }
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  const running = () => child.exitCode === null && child.signalCode === null;

  const heraldProcess: HeraldProcess = {
    child,
    pid: child.pid as number,
    eventsUrl: `http://127.0.0.1:${events}`,
    metricsUrl: `http://127.0.0.1:${metrics}`,
    healthUrl: `http://127.0.0.1:${health}`,
    adminUrl: `http://127.0.0.1:${admin}`,
    receiverUrl: `http://127.0.0.1:${receiver}`,
    configDir,
    output,
    postEvent(event, init = {}) {
      return fetch(`${this.eventsUrl}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...init.headers },
        body: init.body ?? JSON.stringify(event),
      });
    },
    async metrics() {
      return (await fetch(`${this.metricsUrl}/metrics`)).text();
    },
    writeManifest: (name, yaml) => writeFile(join(configDir, name), yaml),
    removeManifest: (name) => rm(join(configDir, name), { force: true }),
    async stop(signal = 'SIGTERM', graceMs = 30_000) {
      if (running()) child.kill(signal);
      const timer = setTimeout(() => running() && child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    cleanup: () => (opts.configDir ? Promise.resolve() : rm(configDir, { recursive: true, force: true })),
  };

  const deadline = Date.now() + 20_000;
  for (;;) {
    if (!running()) throw new Error(`herald exited with ${child.exitCode ?? child.signalCode}:\n${output.join('\n')}`);
    try {
      const res = await fetch(`${heraldProcess.healthUrl}/${opts.waitFor === 'live' ? 'healthz' : 'readyz'}`);
      if (res.status === 200) return heraldProcess;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await heraldProcess.stop('SIGKILL');
      await heraldProcess.cleanup();
      throw new Error(`herald did not become ready within 20s:\n${output.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Reads one sample's value from Prometheus text exposition. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.split(' ').pop());
  }
  return total;
}
