/**
 * Every Redis connection Herald opens is made here, from one description of where Redis is:
 *
 * - a URL: `redis://[[user]:password@]host[:port][/db]`, or `rediss://…` for TLS;
 * - Redis Sentinel: sentinel addresses and the master's name (Herald follows fail-overs);
 * - Redis Cluster: some of its nodes (the rest are discovered); BullMQ runs each queue's Lua
 *   scripts on one slot, so the key prefix must carry a hash tag, e.g. `{herald}`.
 *
 * Credentials may come from the URL or, for every form, from `username` / `password` (which
 * win over the URL's). TLS verifies the server against the system CAs or a given CA bundle;
 * there is deliberately no switch to skip verification. Passwords never reach a log line:
 * `describeRedis` is the only way a connection is named.
 */
import { randomUUID } from 'node:crypto';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../observability/logger.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface RedisConnectionConfig {
  /** A single Redis: `redis://…` or `rediss://…` (TLS). */
  url?: string;
  /** Redis Sentinel: where the sentinels are, and the name of the master they watch. */
  sentinels?: HostPort[];
  sentinelMaster?: string;
  sentinelPassword?: string;
  /** Redis Cluster: a few of its nodes. */
  clusterNodes?: HostPort[];
  /** Credentials of the data nodes (ACL user and password); override the URL's. */
  username?: string;
  password?: string;
  /** Connect with TLS (implied by `rediss://` and by a CA). */
  tls?: boolean;
  /** PEM CA bundle the server's certificate must chain to (instead of the system CAs). */
  ca?: string;
}

export type RedisClient = Redis | Cluster;

/**
 * - producer: jobs are added and duplicates checked through it. It fails fast while Redis is
 *   away (no offline queue), so a POST gets a 503 at once instead of a 202 for a command that
 *   is only buffered in memory.
 * - intake: the intake's stores go through it (see intake-connection.ts); it fails fast like
 *   the producer.
 * - worker: blocks on Redis and retries forever, as BullMQ requires.
 *
 * No auto-pipelining: the intake already stores concurrent requests' work in one MULTI (see
 * group-commit.ts), and the commands left come one per turn of the event loop, where ioredis's
 * auto-pipeline only adds a pipeline object per command (it copies every script BullMQ defines
 * onto each) — it was the delivery thread's largest single cost in ioredis.
 */
export type RedisRole = 'producer' | 'intake' | 'worker';

const FAIL_FAST: RedisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 1 };
const ROLE_OPTIONS: Record<RedisRole, RedisOptions> = {
  producer: FAIL_FAST,
  intake: FAIL_FAST,
  worker: { maxRetriesPerRequest: null },
};

export class RedisConfigError extends Error {}

/** Opens a connection (it connects in the background and reconnects by itself). */
export function createRedisConnection(target: RedisConnectionConfig | string, role: RedisRole, logger: Logger): RedisClient {
  const conn = typeof target === 'string' ? { url: target } : target;
  return withLogging(open(conn, ROLE_OPTIONS[role]), logger, role, describeRedis(conn));
}

function open(conn: RedisConnectionConfig, roleOptions: RedisOptions): RedisClient {
  const tls = tlsOptions(conn);
  const options: RedisOptions = {
    ...roleOptions,
    ...(conn.username !== undefined ? { username: conn.username } : {}),
    ...(conn.password !== undefined ? { password: conn.password } : {}),
    ...(tls ? { tls } : {}),
  };
  if (conn.clusterNodes?.length) {
    const { enableOfflineQueue, enableAutoPipelining, ...redisOptions } = options;
    return new Cluster(conn.clusterNodes, {
      enableOfflineQueue: enableOfflineQueue ?? true,
      enableAutoPipelining,
      // Per-node options: credentials, TLS, and BullMQ's maxRetriesPerRequest for the worker.
      redisOptions,
    });
  }
  if (conn.sentinels?.length) {
    return new Redis({
      ...options,
      sentinels: conn.sentinels,
      name: conn.sentinelMaster,
      ...(conn.sentinelPassword !== undefined ? { sentinelPassword: conn.sentinelPassword } : {}),
      // With TLS, the sentinels and the master they name are both reached over TLS.
      ...(tls ? { enableTLSForSentinelMode: true, sentinelTLS: tls } : {}),
    });
  }
  if (!conn.url) throw new RedisConfigError('no Redis to connect to: give a URL, sentinels or cluster nodes');
  // ioredis lets the URL's credentials win over the options: drop them when given separately.
  let url = conn.url;
  if (conn.username !== undefined || conn.password !== undefined) {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    url = parsed.toString();
  }
  return new Redis(url, options);
}

function tlsOptions(conn: RedisConnectionConfig): TlsOptions | undefined {
  const wanted = conn.tls || conn.ca !== undefined || /^rediss:\/\//i.test(conn.url ?? '');
  if (!wanted) return undefined;
  // Verification stays on (Node's default); a private CA is trusted by giving it, not by skipping checks.
  return conn.ca !== undefined ? { ca: conn.ca } : {};
}

function withLogging<T extends RedisClient>(conn: T, logger: Logger, role: string, target: string): T {
  let lastError = '';
  conn.on('error', (err: Error) => {
    // ioredis repeats the same error on every reconnect attempt (Sentinel's with a growing
    // delay in it); log each distinct one once.
    const kind = err.message.replace(/\d+/g, 'N');
    if (kind !== lastError) logger.warn({ role, err: plainRedisError(err, target) }, 'redis connection error');
    lastError = kind;
  });
  conn.on('ready', () => {
    if (lastError) logger.info({ role }, 'redis connection restored');
    lastError = '';
  });
  return conn;
}

/** What a system error carries about where it happened (Node's `net`/`dns` errors). */
type SystemError = Error & { code?: string; address?: string; port?: number; hostname?: string };

const UNREACHABLE: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while writing',
};

/**
 * A Redis client error in words an operator acts on: where Redis was looked for and what went
 * wrong, not the client's internals. `target` names the connection (see `describeRedis`) when
 * the error does not say which address it was.
 */
export function plainRedisError(err: Error, target: string): string {
  const { code, address, port, hostname } = err as SystemError;
  const where = address !== undefined ? `${address.includes(':') ? `[${address}]` : address}${port !== undefined ? `:${port}` : ''}` : target;
  const reason = code !== undefined ? UNREACHABLE[code] : undefined;
  if (reason) return `Redis unreachable at ${where} (${reason})`;
  if (code === 'ENOTFOUND') return `Redis host ${hostname ?? target} not found (DNS lookup failed)`;
  if (code === 'EAI_AGAIN') return `Redis host ${hostname ?? target} could not be resolved right now (DNS temporarily unavailable)`;
  const message = err.message;
  if (/^WRONGPASS|invalid username-password/i.test(message)) return `Redis at ${target} refused the credentials: wrong username or password (WRONGPASS)`;
  if (/^NOAUTH/.test(message)) return `Redis at ${target} requires a password and none was given (NOAUTH)`;
  if (/^All sentinels are unreachable/.test(message)) return `no Redis Sentinel reachable (${target}); retrying`;
  if (/refresh slots cache/i.test(message)) return `no Redis Cluster node reachable (${target}); retrying`;
  if (/^(ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_)/.test(code ?? '')) return `TLS with Redis at ${where} failed: ${message}`;
  if (/^Connection is closed/.test(message)) return `the connection to Redis at ${target} is closed`;
  return `Redis at ${target}: ${message}`;
}

/** Where a connection goes, for logs: never a password. */
export function describeRedis(target: RedisConnectionConfig | string): string {
  const conn = typeof target === 'string' ? { url: target } : target;
  const tls = tlsOptions(conn) ? ' (TLS)' : '';
  const hosts = (list: HostPort[]) => list.map((h) => `${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port}`).join(',');
  if (conn.clusterNodes?.length) return `cluster ${hosts(conn.clusterNodes)}${tls}`;
  if (conn.sentinels?.length) return `sentinel master "${conn.sentinelMaster ?? ''}" via ${hosts(conn.sentinels)}${tls}`;
  const url = conn.url ?? '';
  return `${maskRedisUrl(url)}${/^rediss:/i.test(url) ? '' : tls}`;
}

/** `redis://user:secret@host:6379/0` → `redis://user:***@host:6379/0`; `redis://:secret@…` → `redis://:***@…`. */
export function maskRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    // Not a URL (e.g. host:port): mask anything between "//" or the start and an "@".
    return url.replace(/^([^@/]*\/\/)?[^@/]*@/, '$1***@');
  }
}

export interface RedisWatchOptions {
  /** Herald's key prefix: the watch's two small keys live under it. */
  prefix: string;
  logger: Logger;
  /** Called each time Redis is found to have lost Herald's data. */
  onDataLoss: () => void;
  /** How often Redis is checked besides on every reconnect. */
  intervalMs?: number;
}

export interface RedisWatchStatus {
  /** Whether the last write probe succeeded (false at maxmemory, on a read-only replica, …). */
  writable: boolean;
  message: string;
  /** Why Redis refused the last probe, when it did. */
  refusal?: string;
  dataLosses: number;
  lastDataLossAt?: string;
}

/**
 * Watches whether Redis can take Herald's work and still holds what it took:
 *
 * - a tiny write with an expiry, on every reconnect and periodically: refused at `maxmemory`
 *   (OOM) or on a read-only replica, which readiness then reports;
 * - a marker key holding a run id, written once and read back on every check: a Redis that
 *   restarted without persistence (or was flushed) has no marker, or another replica's new one,
 *   and every job it held is gone. That is logged as an error and counted, because nothing
 *   else would ever say so.
 */
export class RedisWatch {
  private readonly markerKey: string;
  private readonly probeKey: string;
  private runId?: string;
  private writable = true;
  private refusal?: string;
  private dataLosses = 0;
  private lastDataLossAt?: string;
  private checking = false;
  private timer?: NodeJS.Timeout;
  private readonly onReady = () => void this.check();

  constructor(
    private readonly client: RedisClient,
    private readonly opts: RedisWatchOptions,
  ) {
    this.markerKey = `${opts.prefix}:herald:run-marker`;
    this.probeKey = `${opts.prefix}:herald:write-probe`;
  }

  start(): void {
    this.client.on('ready', this.onReady);
    this.timer = setInterval(() => void this.check(), this.opts.intervalMs ?? 5_000);
    this.timer.unref();
    if (this.client.status === 'ready') void this.check();
  }

  stop(): void {
    clearInterval(this.timer);
    this.client.off('ready', this.onReady);
  }

  status(): RedisWatchStatus {
    const loss =
      this.dataLosses > 0
        ? `; redis lost Herald's data ${this.dataLosses} time(s), last at ${this.lastDataLossAt} (restarted without persistence or flushed?): jobs stored before then are gone`
        : '';
    const message = this.writable ? `redis accepts writes${loss}` : `redis refuses writes: ${this.refusal}${loss}`;
    return { writable: this.writable, message, refusal: this.refusal, dataLosses: this.dataLosses, lastDataLossAt: this.lastDataLossAt };
  }

  /** One round of checks; skipped while Redis is away (readiness says so already) or a round runs. */
  async check(): Promise<void> {
    if (this.checking || this.client.status !== 'ready') return;
    this.checking = true;
    try {
      await this.probeWrite();
      if (this.writable) await this.checkMarker();
    } catch (err) {
      this.opts.logger.debug({ err: (err as Error).message }, 'redis check did not complete');
    } finally {
      this.checking = false;
    }
  }

  private async probeWrite(): Promise<void> {
    try {
      await this.client.set(this.probeKey, String(Date.now()), 'PX', 60_000);
      if (!this.writable) this.opts.logger.info('redis accepts writes again');
      this.writable = true;
      this.refusal = undefined;
    } catch (err) {
      const message = (err as Error).message;
      if (this.client.status !== 'ready') return; // the connection went away: not Redis refusing
      if (this.writable) this.opts.logger.error({ err: message }, 'redis refuses writes: Herald is not ready to take events');
      this.writable = false;
      this.refusal = message;
    }
  }

  private async checkMarker(): Promise<void> {
    const current = await this.client.get(this.markerKey);
    if (this.runId !== undefined && current !== this.runId) {
      this.dataLosses += 1;
      this.lastDataLossAt = new Date().toISOString();
      this.opts.onDataLoss();
      this.opts.logger.error(
        { dataLosses: this.dataLosses },
        "redis lost Herald's data: its marker key is gone (restarted without persistence, flushed, or failed over to an empty replica); jobs stored before now were dropped and will not be delivered",
      );
    }
    if (current === null || current !== this.runId) {
      await this.client.set(this.markerKey, randomUUID(), 'NX');
      this.runId = (await this.client.get(this.markerKey)) ?? undefined;
    }
  }
}
