/**
 * The Redis connection forms a production user needs, each against redis-server processes this
 * test starts on loopback (and stops by PID): a password in the URL, an ACL user (URL and
 * HERALD_REDIS_USERNAME/PASSWORD), TLS (`rediss://` with a CA made here by openssl), Redis
 * Sentinel (with passwords) and Redis Cluster (three masters, hash-tagged prefix). Each form goes
 * through the flags (`loadConfig`) to a RedisQueue that stores and delivers jobs and a duplicate
 * filter; the password form also runs Herald as a process. No password may show up in a log line.
 */
import { execFile, spawnSync } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import type { DeliveryJob } from '../../src/delivery/job.js';
import { describeRedis, type RedisClient } from '../../src/delivery/redis-connection.js';
import { RedisQueue, producerConnection } from '../../src/delivery/redis-queue.js';
import { RedisDuplicateFilter } from '../../src/server/duplicate-filter.js';
import { kustomizationAlert, webhookProvider } from '../e2e/manifests.js';
import { kustomizationEvent } from '../support/events.js';
import { freePort, startHerald } from '../support/herald.js';
import { redisServerVersion, startRedisServer, stopAllRedisServers, type RedisServer } from '../support/redis-server.js';
import { startSink } from '../support/sink.js';
import { hasOpenssl, makeTestCa } from '../support/test-ca.js';
import { makeTempDir } from '../support/tmp.js';
import { sleep, until } from '../support/wait.js';

const run = promisify(execFile);
// What this machine can run, decided once, with the reason printed for anything skipped.
const version = redisServerVersion();
const redisTls = version !== undefined && /not listen anywhere/.test(spawnSync('redis-server', ['--port', '0', '--tls-port', '0'], { encoding: 'utf8' }).stdout ?? '');
const skipAll = version === undefined ? 'redis-server is not installed (apt-get install redis-server)' : undefined;
const skipTls = skipAll ?? (!redisTls ? `this redis-server (${version}) is built without TLS` : !hasOpenssl ? 'openssl is not installed' : undefined);
for (const [form, reason] of [['all forms', skipAll], ['TLS', skipTls]] as const) {
  if (reason) console.log(`redis-forms: skipping ${form}: ${reason}`);
}

/** Every log line Herald's connection code wrote during a form, to scan for passwords. */
const logLines: string[] = [];
const logger = pino(
  { level: 'debug' },
  new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  }),
);
const policy = { attempts: 2, baseDelayMs: 50, maxDelayMs: 200, maxRetryAfterMs: 1000 };
const job = (message: string): DeliveryJob => ({
  alert: 'ns/a',
  provider: 'ns/p',
  providerType: 'generic',
  event: kustomizationEvent({ message }),
  acceptedAt: Date.now(),
});

const opened: Array<{ queue: RedisQueue; producer: RedisClient }> = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const { queue, producer } of opened.splice(0)) {
    await queue.close().catch(() => undefined);
    producer.disconnect();
  }
  await stopAllRedisServers();
  logLines.splice(0);
});
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function configOf(argv: string[], env: Record<string, string> = {}): Config {
  const config = loadConfig(['--config-dir', 'unused', ...argv], env);
  if (typeof config === 'string' || !config.redis) throw new Error('no Redis in this configuration');
  return config;
}

function openQueue(config: Config) {
  const connection = config.redis as NonNullable<Config['redis']>;
  const producer = producerConnection(connection, logger);
  const queue = new RedisQueue({ url: connection, producer, prefix: config.redisPrefix, policy, concurrency: 4, logger, addTimeoutMs: 5_000 });
  opened.push({ queue, producer });
  return { queue, producer };
}

/**
 * Through the flags to a queue: store three jobs, see them delivered, and check the duplicate
 * filter. Closes the queue afterwards, so its worker does not take the next round trip's jobs.
 */
async function roundTrip(argv: string[], env: Record<string, string> = {}, secrets: string[] = []) {
  const config = configOf(argv, env);
  const { queue, producer } = openQueue(config);
  await until(() => queue.ready(), { timeoutMs: 10_000, what: `ready (${describeRedis(config.redis!)})` });
  const seen: string[] = [];
  queue.start(async (j) => void seen.push(j.event.message));
  const tag = Math.random().toString(36).slice(2, 8);
  await queue.add(['a', 'b', 'c'].map((m) => ({ id: `${tag}-${m}`, data: job(`${tag}-${m}`) })));
  await until(() => seen.length >= 3, { timeoutMs: 10_000, what: 'three deliveries' });
  expect(seen.sort()).toEqual([`${tag}-a`, `${tag}-b`, `${tag}-c`]);
  const duplicates = new RedisDuplicateFilter(producer, 60_000, config.redisPrefix);
  expect((await duplicates.windowEnd(tag)) !== undefined).toBe(false);
  await duplicates.remember(tag);
  expect((await duplicates.windowEnd(tag)) !== undefined).toBe(true);
  for (const secret of secrets) {
    expect(describeRedis(config.redis!)).not.toContain(secret);
    expect(logLines.join('\n')).not.toContain(secret);
  }
  await queue.close();
  producer.disconnect();
  opened.splice(opened.findIndex((o) => o.queue === queue), 1);
  return { config };
}

/** A queue that must NOT become ready (wrong password, untrusted certificate): nothing is stored. */
async function refused(argv: string[], env: Record<string, string> = {}): Promise<string> {
  const config = configOf(argv, env);
  const { queue } = openQueue(config);
  await sleep(800);
  expect(queue.ready()).toBe(false);
  await expect(queue.add([{ id: 'x', data: job('x') }])).rejects.toThrow(/not reachable/);
  return logLines.join('\n');
}

describe.skipIf(skipAll)('Redis connection forms', () => {
  it('password in the URL (requirepass): stores and delivers; a wrong password is refused; Herald never logs it', async () => {
    const password = `pw-${Math.random().toString(36).slice(2)}`;
    const redis = await startRedisServer({ args: ['--requirepass', password] });
    await roundTrip(['--redis-url', `redis://:${password}@127.0.0.1:${redis.port}`], {}, [password]);
    const log = await refused(['--redis-url', `redis://:not-${password}@127.0.0.1:${redis.port}`]);
    expect(log).toMatch(/WRONGPASS|NOAUTH|invalid password/i);
    expect(log).not.toContain(password);

    // Herald as a process with the password in its URL: ready, delivers, and masks it in its logs.
    const sink = await startSink();
    const herald = await startHerald({
      redisUrl: `redis://:${password}@127.0.0.1:${redis.port}`,
      manifests: { 'p.yaml': webhookProvider({ address: `${sink.url}/hook` }), 'a.yaml': kustomizationAlert() },
    });
    try {
      expect((await herald.postEvent(kustomizationEvent({ message: 'through a password' }))).status).toBe(202);
      await sink.waitFor(1, 10_000);
      const output = herald.output.join('\n');
      expect(output).toContain(`redis://:***@127.0.0.1:${redis.port}`);
      expect(output).not.toContain(password);
    } finally {
      await herald.stop();
      await herald.cleanup();
      await sink.close();
    }
  });

  it('ACL user: in the URL, and as HERALD_REDIS_USERNAME / HERALD_REDIS_PASSWORD', async () => {
    const password = `acl-${Math.random().toString(36).slice(2)}`;
    const redis = await startRedisServer({ args: ['--user', 'default', 'off', '--user', 'herald', 'on', `>${password}`, '~*', '&*', '+@all'] });
    await roundTrip(['--redis-url', `redis://herald:${password}@127.0.0.1:${redis.port}`], {}, [password]);
    await roundTrip(['--redis-url', `redis://127.0.0.1:${redis.port}`], { HERALD_REDIS_USERNAME: 'herald', HERALD_REDIS_PASSWORD: password }, [password]);
    // The default user is off: without credentials Redis refuses.
    await refused(['--redis-url', `redis://127.0.0.1:${redis.port}`]);
  });

  describe.skipIf(skipTls)('TLS', () => {
    it('rediss:// with --redis-ca-file: stores and delivers; without the CA the certificate is not trusted', async () => {
      const ca = await makeTestCa();
      dirs.push(ca.dir);
      const password = `tls-${Math.random().toString(36).slice(2)}`;
      const redis = await startRedisServer({
        tls: { cert: ca.files.serverCert, key: ca.files.serverKey, ca: ca.files.ca },
        args: ['--requirepass', password],
      });
      const { config } = await roundTrip(['--redis-url', `rediss://:${password}@127.0.0.1:${redis.port}`, '--redis-ca-file', ca.files.ca], {}, [password]);
      expect(config.redis?.ca).toContain('BEGIN CERTIFICATE');
      const log = await refused(['--redis-url', `rediss://:${password}@127.0.0.1:${redis.port}`]);
      expect(log).toMatch(/certificate/i);
      // A plain connection to the TLS port is not mistaken for Redis either.
      await refused(['--redis-url', `redis://:${password}@127.0.0.1:${redis.port}`]);
    });
  });

  it('Sentinel: --redis-sentinels, --redis-sentinel-master, sentinel and master passwords', async () => {
    const masterPassword = `mp-${Math.random().toString(36).slice(2)}`;
    const sentinelPassword = `sp-${Math.random().toString(36).slice(2)}`;
    const master = await startRedisServer({ args: ['--requirepass', masterPassword] });
    const dir = await makeTempDir('herald-sentinel-');
    dirs.push(dir);
    const conf = join(dir, 'sentinel.conf');
    await writeFile(
      conf,
      [
        `sentinel monitor herald-master 127.0.0.1 ${master.port} 1`,
        `sentinel auth-pass herald-master ${masterPassword}`,
        'sentinel down-after-milliseconds herald-master 5000',
        `requirepass ${sentinelPassword}`,
        '',
      ].join('\n'),
    );
    const sentinel: RedisServer = await startRedisServer({ leadingArgs: [conf, '--sentinel'], dir, readyLine: /\+monitor master herald-master/ });
    const { config } = await roundTrip(
      ['--redis-sentinels', `127.0.0.1:${sentinel.port}`, '--redis-sentinel-master', 'herald-master'],
      { HERALD_REDIS_PASSWORD: masterPassword, HERALD_REDIS_SENTINEL_PASSWORD: sentinelPassword },
      [masterPassword, sentinelPassword],
    );
    expect(describeRedis(config.redis!)).toBe(`sentinel master "herald-master" via 127.0.0.1:${sentinel.port}`);
    // The master is found through the sentinel: with a wrong sentinel password there is no master.
    const log = await refused(['--redis-sentinels', `127.0.0.1:${sentinel.port}`, '--redis-sentinel-master', 'herald-master'], {
      HERALD_REDIS_PASSWORD: masterPassword,
      HERALD_REDIS_SENTINEL_PASSWORD: `not-${sentinelPassword}`,
    });
    expect(log).not.toContain(sentinelPassword);
    expect(log).not.toContain(masterPassword);
  });

  it('Cluster: three masters, --redis-cluster-nodes, {herald} prefix by default; a prefix without a hash tag is refused', async () => {
    const nodes: RedisServer[] = [];
    for (let i = 0; i < 3; i++) {
      const bus = await freePort();
      nodes.push(
        await startRedisServer({
          args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(bus), '--cluster-node-timeout', '5000', '--appendonly', 'no'],
        }),
      );
    }
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 20_000 });
    for (const n of nodes) {
      await until(async () => (await run('redis-cli', ['-p', String(n.port), 'cluster', 'info'])).stdout.includes('cluster_state:ok'), { timeoutMs: 10_000, what: 'cluster_state:ok' });
    }

    expect(() => configOf(['--redis-cluster-nodes', addresses.join(','), '--redis-prefix', 'herald'])).toThrow(/--redis-prefix: "herald" has no hash tag.*\{herald\}/);
    const { config } = await roundTrip(['--redis-cluster-nodes', addresses[0] as string]);
    expect(config.redisPrefix).toBe('{herald}');
    // Every key of the queue is on one node (one slot), as BullMQ's scripts require.
    const counts = await Promise.all(nodes.map(async (n) => Number((await run('redis-cli', ['-p', String(n.port), 'dbsize'])).stdout.trim())));
    expect(counts.filter((c) => c > 0)).toHaveLength(1);
    // A custom hash-tagged prefix is taken as is.
    expect(configOf(['--redis-cluster-nodes', addresses.join(','), '--redis-prefix', 'prod:{herald}']).redisPrefix).toBe('prod:{herald}');
  });
});

describe('Redis flags', () => {
  it('take one form at a time, name what is missing, and never print a password', () => {
    expect(() => configOf(['--redis-url', 'redis://r', '--redis-cluster-nodes', 'a:1'])).toThrow(/--redis-url and --redis-cluster-nodes are alternatives/);
    expect(() => configOf(['--redis-sentinels', 'a:26379'])).toThrow(/--redis-sentinel-master/);
    expect(() => configOf(['--redis-sentinels', 'a:x', '--redis-sentinel-master', 'm'])).toThrow(/--redis-sentinels: "a:x" is not host:port/);
    expect(() => configOf(['--redis-url', 'rediss://r', '--redis-ca-file', '/nonexistent/ca.pem'])).toThrow(/--redis-ca-file: cannot read/);
    // REDIS_URL from the environment gives way to an explicit Sentinel or Cluster.
    const sentinel = configOf(['--redis-sentinels', 'a,[::1]:26380', '--redis-sentinel-master', 'm'], { REDIS_URL: 'redis://other' });
    expect(sentinel.redis).toEqual({ sentinels: [{ host: 'a', port: 26379 }, { host: '::1', port: 26380 }], sentinelMaster: 'm' });
    expect(sentinel.redisPrefix).toBe('herald');
    expect(describeRedis('redis://:s3cret@h:6379/2')).toBe('redis://:***@h:6379/2');
    expect(describeRedis('rediss://user:s3cret@h:6380')).toBe('rediss://user:***@h:6380');
    expect(describeRedis({ url: 'redis://h', ca: 'x' })).toBe('redis://h (TLS)');
  });
});
