/**
 * Command-line flags, each also readable from an environment variable (`HERALD_<FLAG>`, and
 * `REDIS_URL` as is). Names follow Flux's notification-controller where one exists.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { HostPort, RedisConnectionConfig } from './delivery/redis-connection.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface Config {
  eventsAddr: ListenAddress;
  metricsAddr: ListenAddress;
  healthAddr: ListenAddress;
  adminAddr: ListenAddress;
  /** Where Receivers' webhooks are served (`/hook/<digest>`). */
  receiverAddr: ListenAddress;
  adminToken?: string;
  /** Host names (besides loopback forms and the admin address itself) the admin API answers to. */
  adminAllowedHosts: string[];
  /** Every listener: the whole request (headers and body) must arrive within this. */
  requestTimeoutMs: number;
  /** Every listener: an idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** Open connections the events listener takes at once. */
  eventsMaxConnections: number;
  /** Bytes of event bodies being received at once, at most. */
  eventsBodyMemoryBytes: number;
  configDir?: string;
  /** Read Providers, Alerts and Secrets from the Kubernetes API instead of a directory. */
  kubernetes: boolean;
  /** With `kubernetes`: only this namespace (all when unset). */
  watchNamespace?: string;
  noCrossNamespaceRefs: boolean;
  /** Where `gcr` Receivers' ID-token signing keys (a JWKS) are fetched: Google's, unless a mirror or a test issuer. */
  gcrJwksUrl: string;
  /** Run no ImageRepository, ImagePolicy or ImageUpdateAutomation even when manifests define them. */
  noImageAutomation: boolean;
  rateLimitIntervalMs: number;
  redisUrl?: string;
  /** Where Redis is (URL, Sentinel or Cluster, credentials, TLS); unset: the in-process queue. */
  redis?: RedisConnectionConfig;
  redisPrefix: string;
  logLevel: string;
  maxAttempts: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  workerConcurrency: number;
  providerConcurrency: number;
  shutdownTimeoutMs: number;
  stalledIntervalMs: number;
  /** With Redis: deliver on a worker thread of the process, beside the intake (see delivery-runtime.ts). */
  deliveryThread: boolean;
  /** In-process queue: jobs holding an event (pending and dead letters) beyond which `POST /` answers 503. */
  maxQueuedJobs: number;
  /** In-process queue: approximate bytes of those jobs' events beyond which `POST /` answers 503. */
  maxQueuedBytes: number;
}

export class ConfigError extends Error {}

const flags = {
  'events-addr': { type: 'string', arg: 'ADDR', default: ':9090', help: 'address the event receiver listens on' },
  'metrics-addr': { type: 'string', arg: 'ADDR', default: ':8080', help: 'address /metrics is served on' },
  'health-addr': { type: 'string', arg: 'ADDR', default: ':9440', help: 'address /healthz, /readyz and /resources are served on' },
  'admin-addr': { type: 'string', arg: 'ADDR', default: '127.0.0.1:9400', help: 'address of the admin API (deliveries, dead letters, replay)' },
  'receiver-addr': { type: 'string', arg: 'ADDR', default: ':9292', help: "address Receivers' webhooks (/hook/...) are served on" },
  // Flux's spelling, so a Flux Deployment's arguments work unchanged.
  receiverAddr: { type: 'string', arg: 'ADDR', help: 'same as --receiver-addr (Flux spelling)' },
  'admin-token': { type: 'string', arg: 'TOKEN', help: 'bearer token the admin API requires (prefer HERALD_ADMIN_TOKEN); required off loopback' },
  'admin-token-file': { type: 'string', arg: 'FILE', help: 'file holding the admin bearer token (e.g. a mounted Secret); instead of --admin-token' },
  'admin-allowed-hosts': {
    type: 'string',
    arg: 'HOSTS',
    help: 'host names the admin API also answers to (comma-separated, e.g. a Service name); loopback forms and the admin address always work',
  },
  'request-timeout': { type: 'string', arg: 'DURATION', default: '30s', help: 'every listener: a request (headers and body) must arrive within this' },
  'keep-alive-timeout': { type: 'string', arg: 'DURATION', default: '30s', help: 'every listener: an idle keep-alive connection is closed after this' },
  'events-max-connections': {
    type: 'string',
    arg: 'N',
    default: '1024',
    help: 'open connections the events listener takes at once (lowered to fit the open-file limit)',
  },
  'events-body-memory-mib': {
    type: 'string',
    arg: 'MIB',
    default: '256',
    help: 'MiB of event bodies being received at once (each counted at its declared length); more requests get 503 with Retry-After',
  },
  'config-dir': { type: 'string', arg: 'DIR', help: 'directory of Provider, Alert and Secret manifests (YAML), watched for changes' },
  kubernetes: {
    type: 'boolean',
    default: false,
    help: 'read Providers, Alerts and Secrets from Kubernetes (in-cluster config in a pod, else KUBECONFIG or ~/.kube/config) instead of --config-dir',
  },
  'watch-namespace': { type: 'string', arg: 'NAMESPACE', help: 'with --kubernetes: watch this namespace only (default: all namespaces)' },
  'no-cross-namespace-refs': { type: 'boolean', default: false, help: 'an Alert only takes events, and a Receiver only reconciles objects, from its own namespace' },
  'gcr-jwks-url': {
    type: 'string',
    arg: 'URL',
    default: 'https://www.googleapis.com/oauth2/v3/certs',
    help: "JWKS that gcr Receivers' Pub/Sub ID tokens are checked against (Google's keys; a mirror where googleapis.com is not reachable)",
  },
  'no-image-automation': { type: 'boolean', default: false, help: 'do not run ImageRepositories, ImagePolicies and ImageUpdateAutomations found in the manifests' },
  'rate-limit-interval': { type: 'string', arg: 'DURATION', default: '5m', help: 'window in which a duplicate event is refused with 429' },
  'redis-url': { type: 'string', arg: 'URL', help: 'Redis URL for the durable queue (also REDIS_URL); in-process queue when unset' },
  'redis-prefix': { type: 'string', arg: 'PREFIX', help: 'key prefix in Redis (default herald; {herald} with --redis-cluster-nodes, where it must be hash-tagged)' },
  'redis-username': { type: 'string', arg: 'USER', help: 'Redis ACL user (overrides the URL\'s)' },
  'redis-password': { type: 'string', arg: 'PASSWORD', help: 'Redis password (prefer HERALD_REDIS_PASSWORD; overrides the URL\'s)' },
  'redis-tls': { type: 'boolean', default: false, help: 'connect to Redis with TLS (implied by rediss:// and --redis-ca-file)' },
  'redis-ca-file': { type: 'string', arg: 'FILE', help: 'PEM CA bundle that the Redis server certificate must chain to' },
  'redis-sentinels': { type: 'string', arg: 'ADDRS', help: 'Redis Sentinel addresses host:port,host:port (instead of --redis-url)' },
  'redis-sentinel-master': { type: 'string', arg: 'NAME', help: 'with --redis-sentinels: name of the monitored master' },
  'redis-sentinel-password': { type: 'string', arg: 'PASSWORD', help: 'with --redis-sentinels: the sentinels\' password (prefer HERALD_REDIS_SENTINEL_PASSWORD)' },
  'redis-cluster-nodes': { type: 'string', arg: 'ADDRS', help: 'Redis Cluster nodes host:port,host:port (instead of --redis-url)' },
  'log-level': { type: 'string', arg: 'LEVEL', default: 'info', help: 'trace, debug, info, warn or error' },
  'max-attempts': { type: 'string', arg: 'N', default: '8', help: 'delivery attempts before a job becomes a dead letter' },
  'retry-base-delay': { type: 'string', arg: 'DURATION', default: '1s', help: 'delay before the second attempt; doubles each time, with jitter' },
  'retry-max-delay': { type: 'string', arg: 'DURATION', default: '5m', help: 'ceiling of the delay between attempts' },
  'worker-concurrency': { type: 'string', arg: 'N', default: '64', help: 'deliveries in flight at once in this process' },
  'provider-concurrency': { type: 'string', arg: 'N', default: '8', help: 'deliveries in flight at once to one Provider in this process' },
  'no-delivery-thread': {
    type: 'boolean',
    default: false,
    help: 'with Redis: deliver on the main thread, beside the intake, instead of on a worker thread of its own',
  },
  'shutdown-timeout': { type: 'string', arg: 'DURATION', default: '25s', help: 'how long SIGTERM waits for in-flight deliveries; the exit never takes longer' },
  'stalled-interval': {
    type: 'string',
    arg: 'DURATION',
    default: '30s',
    help: 'Redis job lock and stalled-job check period: a delivery held by a replica that died is taken up again within about twice this',
  },
  'max-queued-jobs': {
    type: 'string',
    arg: 'N',
    default: '50000',
    help: 'in-process queue: deliveries held (pending and dead letters) beyond which POST / answers 503 with Retry-After',
  },
  'max-queued-bytes': {
    type: 'string',
    arg: 'SIZE',
    default: '256Mi',
    help: 'in-process queue: approximate size of the events those deliveries hold beyond which POST / answers 503 (e.g. 512Mi, 1Gi)',
  },
  help: { type: 'boolean', short: 'h', default: false, help: 'print this help and exit' },
  version: { type: 'boolean', default: false, help: 'print Herald\'s version and exit' },
} as const;

type FlagName = keyof typeof flags;

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** The one line that follows a usage error, instead of the whole flag list. */
export const USAGE_HINT = 'Usage: herald --config-dir DIR | --kubernetes [flags]; run herald --help for every flag.';

export function usage(): string {
  const lines = Object.entries(flags).map(([name, f]) => {
    const short = 'short' in f ? `-${f.short}, ` : '    ';
    const spelled = `${short}--${name}${'arg' in f ? ` ${f.arg}` : ''}`;
    const def = 'default' in f && f.type === 'string' ? ` (default ${f.default})` : '';
    return `  ${spelled.padEnd(38)} ${f.help}${def}`;
  });
  return [
    'Usage: herald --config-dir DIR | --kubernetes [flags]',
    '',
    ...lines,
    '',
    'Every flag can also be set as HERALD_<FLAG> (e.g. HERALD_EVENTS_ADDR); REDIS_URL is read too.',
    'DURATION: 500ms, 15s, 5m, 1h30m. ADDR: :9090, 127.0.0.1:9090, [::1]:9090. SIZE: 268435456, 512Ki, 256Mi, 1Gi.',
    'Exit codes: 0 after --help, --version or a clean shutdown; 2 for a usage error (a flag or its value); 1 when starting or running fails.',
    '',
  ].join('\n');
}

/** Herald's version, from the package.json Herald was built from (two levels up in dist/, one in src/). */
export function version(): string {
  for (const relative of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'herald' && pkg.version) return pkg.version;
    } catch {
      // not at this level: try the next one
    }
  }
  return 'unknown';
}

/** node:util's parse errors as one line in Herald's own words. */
function parseError(err: unknown): ConfigError {
  const { code, message } = err as NodeJS.ErrnoException;
  const quoted = /'([^']+)'/.exec(message)?.[1] ?? '';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return new ConfigError(`unknown flag ${quoted}`);
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return new ConfigError(`unexpected argument "${quoted}": every setting is a --flag`);
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const flag = /--[a-z-]+/.exec(message)?.[0] ?? quoted;
    return new ConfigError(/does not take/.test(message) ? `${flag} takes no value` : `${flag} needs a value`);
  }
  return new ConfigError(message.split('\n')[0] ?? message);
}

/** Go-style durations as Flux takes them: `5m`, `1h30m`, `500ms`, `1.5s`. */
export function parseDuration(text: string, flag: string): number {
  const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let match = part.exec(text); match; match = part.exec(text)) {
    total += Number(match[1]) * (units[match[2] as string] as number);
    consumed = part.lastIndex;
  }
  if (text === '' || consumed !== text.length) {
    throw new ConfigError(`--${flag}: "${text}" is not a duration (examples: 500ms, 15s, 5m, 1h30m)`);
  }
  return total;
}

/** `:9090` (all interfaces), `127.0.0.1:9090`, `[::1]:9090`. */
export function parseAddress(text: string, flag: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new ConfigError(`--${flag}: "${text}" is not an address (examples: :9090, 127.0.0.1:9090)`);
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function positiveDuration(text: string, flag: string): number {
  const ms = parseDuration(text, flag);
  if (ms < 1) throw new ConfigError(`--${flag}: "${text}" must be longer than 0`);
  return ms;
}

function parseCount(text: string, flag: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`--${flag}: "${text}" must be a whole number of at least ${min}`);
  return n;
}

/** The admin token, from the flag or a file (whose content is never quoted in an error). */
function readAdminToken(token: string | undefined, file: string | undefined): string | undefined {
  if (token && file) throw new ConfigError('--admin-token and --admin-token-file are alternatives: give one');
  if (!file) return token;
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`--admin-token-file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const fromFile = content.trim();
  if (!fromFile || /\s/.test(fromFile)) throw new ConfigError(`--admin-token-file: ${file} must hold one token (no spaces), not ${fromFile ? 'several words' : 'nothing'}`);
  return fromFile;
}

/** A size in bytes: `1048576`, `512Ki`, `256Mi`, `1Gi`. */
export function parseSize(text: string, flag: string): number {
  const match = /^(\d+)(Ki|Mi|Gi)?$/.exec(text);
  if (!match) throw new ConfigError(`--${flag}: "${text}" is not a size (examples: 268435456, 512Ki, 256Mi, 1Gi)`);
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }[match[2] as 'Ki' | 'Mi' | 'Gi'] ?? 1;
  return Number(match[1]) * unit;
}

function envName(flag: string): string {
  return `HERALD_${flag.toUpperCase().replaceAll('-', '_')}`;
}

/**
 * The configuration the flags and environment give, or what to print instead of running.
 * Throws ConfigError (a usage error: main exits 2) for an unknown flag or a bad value.
 */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): Config | 'help' | 'version' {
  const options = Object.fromEntries(Object.entries(flags).map(([k, f]) => [k, { type: f.type, ...('short' in f ? { short: f.short } : {}) }]));
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as typeof values;
  } catch (err) {
    throw parseError(err);
  }
  if (values.help) return 'help';
  if (values.version) return 'version';

  const read = (flag: FlagName): string | undefined => {
    const given = values[flag] ?? env[envName(flag)];
    if (given !== undefined) return String(given);
    const f = flags[flag];
    return 'default' in f ? String(f.default) : undefined;
  };
  const bool = (flag: FlagName) => ['true', '1', 'yes'].includes((read(flag) ?? '').toLowerCase());
  const str = (flag: FlagName) => read(flag) as string;

  const configDir = read('config-dir');
  const kubernetes = bool('kubernetes');
  const watchNamespace = read('watch-namespace') || undefined;
  if (configDir && kubernetes) {
    throw new ConfigError('--config-dir and --kubernetes are two resource sources: give one (manifests from a directory, or Kubernetes)');
  }
  if (!configDir && !kubernetes) {
    throw new ConfigError('no resource source: give --config-dir DIR (a directory of Provider and Alert manifests) or --kubernetes');
  }
  if (watchNamespace && !kubernetes) throw new ConfigError('--watch-namespace only applies with --kubernetes');

  const redis = redisFromFlags({
    url: read('redis-url') || undefined,
    envUrl: env.REDIS_URL || undefined,
    prefix: read('redis-prefix') || undefined,
    username: read('redis-username') || undefined,
    password: read('redis-password') || undefined,
    tls: bool('redis-tls'),
    caFile: read('redis-ca-file') || undefined,
    sentinels: read('redis-sentinels') || undefined,
    sentinelMaster: read('redis-sentinel-master') || undefined,
    sentinelPassword: read('redis-sentinel-password') || undefined,
    clusterNodes: read('redis-cluster-nodes') || undefined,
  });

  const logLevel = str('log-level');
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`--log-level: "${logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);

  const adminAddr = parseAddress(str('admin-addr'), 'admin-addr');
  const adminToken = readAdminToken(read('admin-token') || undefined, read('admin-token-file') || undefined);
  if (!adminToken && !isLoopback(adminAddr.host)) {
    throw new ConfigError(`--admin-addr: ${adminAddr.host} is not a loopback address; set an admin token (HERALD_ADMIN_TOKEN) to expose the admin API`);
  }

  return {
    eventsAddr: parseAddress(str('events-addr'), 'events-addr'),
    metricsAddr: parseAddress(str('metrics-addr'), 'metrics-addr'),
    healthAddr: parseAddress(str('health-addr'), 'health-addr'),
    adminAddr,
    receiverAddr: parseAddress(values.receiverAddr !== undefined && values['receiver-addr'] === undefined ? String(values.receiverAddr) : str('receiver-addr'), 'receiver-addr'),
    adminToken,
    adminAllowedHosts: (read('admin-allowed-hosts') ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
    requestTimeoutMs: positiveDuration(str('request-timeout'), 'request-timeout'),
    keepAliveTimeoutMs: positiveDuration(str('keep-alive-timeout'), 'keep-alive-timeout'),
    eventsMaxConnections: parseCount(str('events-max-connections'), 'events-max-connections', 1),
    eventsBodyMemoryBytes: parseCount(str('events-body-memory-mib'), 'events-body-memory-mib', 4) * 1024 * 1024,
    configDir,
    kubernetes,
    watchNamespace,
    noCrossNamespaceRefs: bool('no-cross-namespace-refs'),
    gcrJwksUrl: parseHttpUrl(str('gcr-jwks-url'), 'gcr-jwks-url'),
    noImageAutomation: bool('no-image-automation'),
    rateLimitIntervalMs: parseDuration(str('rate-limit-interval'), 'rate-limit-interval'),
    redisUrl: redis.connection?.url,
    redis: redis.connection,
    redisPrefix: redis.prefix,
    logLevel,
    maxAttempts: parseCount(str('max-attempts'), 'max-attempts', 1),
    retryBaseDelayMs: parseDuration(str('retry-base-delay'), 'retry-base-delay'),
    retryMaxDelayMs: parseDuration(str('retry-max-delay'), 'retry-max-delay'),
    workerConcurrency: parseCount(str('worker-concurrency'), 'worker-concurrency', 1),
    providerConcurrency: parseCount(str('provider-concurrency'), 'provider-concurrency', 1),
    shutdownTimeoutMs: parseDuration(str('shutdown-timeout'), 'shutdown-timeout'),
    deliveryThread: !bool('no-delivery-thread'),
    stalledIntervalMs: positiveDuration(str('stalled-interval'), 'stalled-interval'),
    maxQueuedJobs: parseCount(str('max-queued-jobs'), 'max-queued-jobs', 1),
    maxQueuedBytes: parseSize(str('max-queued-bytes'), 'max-queued-bytes'),
  };
}

/** An absolute http(s) URL, or a usage error naming the flag. */
function parseHttpUrl(text: string, flag: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`--${flag}: "${text}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError(`--${flag}: "${text}" is not an http(s) URL`);
  return url.toString();
}

/** Default ports when a host list names a host alone. */
const SENTINEL_PORT = 26379;
const REDIS_PORT = 6379;

/** True when Redis Cluster hashes every key with this prefix to one slot (`{…}` with something inside, first). */
export function hasHashTag(prefix: string): boolean {
  return /^[^{]*\{[^}]+\}/.test(prefix);
}

/** `host:port,host:port` (`[::1]:port` for IPv6; a host alone takes `defaultPort`). */
export function parseHostList(text: string, flag: string, defaultPort: number): HostPort[] {
  const list = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item) => {
      const match = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(item);
      const port = match?.[3] !== undefined ? Number(match[3]) : defaultPort;
      if (!match || port < 1 || port > 65535) {
        throw new ConfigError(`--${flag}: "${item}" is not host:port (example: redis-0.redis:${defaultPort},redis-1.redis:${defaultPort})`);
      }
      return { host: (match[1] ?? match[2]) as string, port };
    });
  if (list.length === 0) throw new ConfigError(`--${flag}: no host given`);
  return list;
}

export interface RedisFlags {
  /** --redis-url or HERALD_REDIS_URL. */
  url?: string;
  /** REDIS_URL, used when no other form is given. */
  envUrl?: string;
  prefix?: string;
  username?: string;
  password?: string;
  tls: boolean;
  caFile?: string;
  sentinels?: string;
  sentinelMaster?: string;
  sentinelPassword?: string;
  clusterNodes?: string;
}

/** The connection (undefined: in-process queue) and key prefix the Redis flags describe; throws ConfigError. */
export function redisFromFlags(f: RedisFlags): { connection?: RedisConnectionConfig; prefix: string } {
  const given = [f.url && '--redis-url', f.sentinels && '--redis-sentinels', f.clusterNodes && '--redis-cluster-nodes'].filter(Boolean);
  if (given.length > 1) throw new ConfigError(`${given.join(' and ')} are alternatives: give one`);
  if (f.sentinelMaster && !f.sentinels) throw new ConfigError('--redis-sentinel-master needs --redis-sentinels');
  if (f.sentinels && !f.sentinelMaster) throw new ConfigError('--redis-sentinels needs --redis-sentinel-master (the master name the sentinels monitor)');

  const cluster = !!f.clusterNodes;
  const prefix = f.prefix ?? (cluster ? '{herald}' : 'herald');
  if (cluster && !hasHashTag(prefix)) {
    throw new ConfigError(
      `--redis-prefix: "${prefix}" has no hash tag; in Redis Cluster every key of the queue must hash to one slot: use e.g. "{${prefix.replace(/[{}]/g, '') || 'herald'}}"`,
    );
  }
  const url = f.url ?? (f.sentinels || f.clusterNodes ? undefined : f.envUrl);
  if (!url && !f.sentinels && !f.clusterNodes) return { prefix };

  let ca: string | undefined;
  if (f.caFile) {
    try {
      ca = readFileSync(f.caFile, 'utf8');
    } catch (err) {
      throw new ConfigError(`--redis-ca-file: cannot read ${f.caFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const connection: RedisConnectionConfig = {
    ...(url ? { url } : {}),
    ...(f.sentinels ? { sentinels: parseHostList(f.sentinels, 'redis-sentinels', SENTINEL_PORT), sentinelMaster: f.sentinelMaster } : {}),
    ...(f.sentinelPassword ? { sentinelPassword: f.sentinelPassword } : {}),
    ...(f.clusterNodes ? { clusterNodes: parseHostList(f.clusterNodes, 'redis-cluster-nodes', REDIS_PORT) } : {}),
    ...(f.username ? { username: f.username } : {}),
    ...(f.password ? { password: f.password } : {}),
    ...(f.tls ? { tls: true } : {}),
    ...(ca !== undefined ? { ca } : {}),
  };
  return { connection, prefix };
}
