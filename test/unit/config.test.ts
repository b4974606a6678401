import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig, parseAddress, parseDuration, parseSize, usage, version } from '../../src/config.js';
import { openFileLimit } from '../../src/server/base.js';
import { makeTempDir } from '../support/tmp.js';

describe('parseDuration', () => {
  it.each([
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['1.5s', 1500],
  ])('%s → %i', (text, ms) => expect(parseDuration(text, 'x')).toBe(ms));

  it.each(['', '5', 'five minutes', '5m ', '-1s'])('rejects %j naming the flag', (text) => {
    expect(() => parseDuration(text, 'rate-limit-interval')).toThrow(/--rate-limit-interval/);
  });
});

describe('parseAddress', () => {
  it.each([
    [':9090', { host: '0.0.0.0', port: 9090 }],
    ['127.0.0.1:8080', { host: '127.0.0.1', port: 8080 }],
    ['[::1]:9440', { host: '::1', port: 9440 }],
  ])('%s', (text, addr) => expect(parseAddress(text, 'x')).toEqual(addr));

  it.each(['9090', 'host:', ':99999'])('rejects %s', (text) => expect(() => parseAddress(text, 'events-addr')).toThrow(ConfigError));
});

describe('parseSize', () => {
  it.each([
    ['1048576', 1_048_576],
    ['512Ki', 524_288],
    ['256Mi', 268_435_456],
    ['1Gi', 1_073_741_824],
  ])('%s → %i', (text, bytes) => expect(parseSize(text, 'x')).toBe(bytes));

  it.each(['', '1.5Gi', '256MB', '-1', 'Mi'])('rejects %j naming the flag', (text) => {
    expect(() => parseSize(text, 'max-queued-bytes')).toThrow(/--max-queued-bytes/);
  });

  it('bounds the in-process queue by default: 50,000 jobs, 256 MiB', () => {
    expect(loadConfig(['--config-dir', 'x'], {})).toMatchObject({ maxQueuedJobs: 50_000, maxQueuedBytes: 256 * 2 ** 20 });
    expect(loadConfig(['--config-dir', 'x', '--max-queued-jobs', '10', '--max-queued-bytes', '1Gi'], {})).toMatchObject({
      maxQueuedJobs: 10,
      maxQueuedBytes: 2 ** 30,
    });
    expect(() => loadConfig(['--config-dir', 'x', '--max-queued-jobs', '0'], {})).toThrow(/--max-queued-jobs/);
  });
});

describe('loadConfig', () => {
  it('uses Flux defaults', () => {
    const config = loadConfig(['--config-dir', 'x'], {});
    expect(config).toMatchObject({
      eventsAddr: { host: '0.0.0.0', port: 9090 },
      metricsAddr: { port: 8080 },
      healthAddr: { port: 9440 },
      rateLimitIntervalMs: 300_000,
      noCrossNamespaceRefs: false,
      redisUrl: undefined,
    });
  });

  it('reads environment variables, flags win', () => {
    const config = loadConfig(['--events-addr', ':1'], { HERALD_CONFIG_DIR: 'd', HERALD_EVENTS_ADDR: ':2', REDIS_URL: 'redis://r' });
    expect(config).toMatchObject({ configDir: 'd', eventsAddr: { port: 1 }, redisUrl: 'redis://r' });
  });

  it("--gcr-jwks-url: Google's keys by default, a mirror's when set, and a usage error naming the flag otherwise", () => {
    expect(loadConfig(['--config-dir', 'd'], {})).toMatchObject({ gcrJwksUrl: 'https://www.googleapis.com/oauth2/v3/certs' });
    expect(loadConfig(['--config-dir', 'd', '--gcr-jwks-url', 'http://127.0.0.1:8/keys'], {})).toMatchObject({ gcrJwksUrl: 'http://127.0.0.1:8/keys' });
    expect(() => loadConfig(['--config-dir', 'd', '--gcr-jwks-url', 'keys.json'], {})).toThrow(/--gcr-jwks-url: "keys.json" is not a URL/);
    expect(() => loadConfig(['--config-dir', 'd', '--gcr-jwks-url', 'file:///keys.json'], {})).toThrow(/--gcr-jwks-url: .* is not an http\(s\) URL/);
  });

  it('--receiver-addr: :9292 by default, Flux\'s --receiverAddr spelling and HERALD_RECEIVER_ADDR too', () => {
    expect(loadConfig(['--config-dir', 'd'], {})).toMatchObject({ receiverAddr: { port: 9292 } });
    expect(loadConfig(['--config-dir', 'd', '--receiver-addr', '127.0.0.1:1'], {})).toMatchObject({ receiverAddr: { host: '127.0.0.1', port: 1 } });
    expect(loadConfig(['--config-dir', 'd', '--receiverAddr=:2'], {})).toMatchObject({ receiverAddr: { port: 2 } });
    expect(loadConfig(['--config-dir', 'd'], { HERALD_RECEIVER_ADDR: ':3' })).toMatchObject({ receiverAddr: { port: 3 } });
    expect(() => loadConfig(['--config-dir', 'd', '--receiverAddr', 'nope'], {})).toThrow(/--receiver-addr/);
  });

  it('reads boolean flags from the environment', () => {
    expect(loadConfig([], { HERALD_CONFIG_DIR: 'd', HERALD_NO_CROSS_NAMESPACE_REFS: 'true' })).toMatchObject({ noCrossNamespaceRefs: true });
  });

  it('refuses unknown flags and a missing source with a clear message', () => {
    expect(() => loadConfig(['--nope'], {})).toThrow(/^unknown flag --nope$/);
    expect(() => loadConfig([], {})).toThrow(/--config-dir/);
    expect(() => loadConfig(['--config-dir', 'd', '--log-level', 'loud'], {})).toThrow(/--log-level/);
  });
});

describe('admin address', () => {
  it('defaults to loopback without a token', () => {
    expect(loadConfig(['--config-dir', 'd'], {})).toMatchObject({ adminAddr: { host: '127.0.0.1', port: 9400 }, adminToken: undefined });
  });

  it('refuses a non-loopback admin address without a token', () => {
    expect(() => loadConfig(['--config-dir', 'd', '--admin-addr', ':9400'], {})).toThrow(/--admin-addr.*token/);
    expect(loadConfig(['--config-dir', 'd', '--admin-addr', ':9400'], { HERALD_ADMIN_TOKEN: 't' })).toMatchObject({ adminToken: 't' });
  });
});

describe('listener limits and the admin token file', () => {
  it('defaults every listener to bounded timeouts and the events listener to a connection cap', () => {
    expect(loadConfig(['--config-dir', 'd'], {})).toMatchObject({
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 30_000,
      eventsMaxConnections: 1024,
      eventsBodyMemoryBytes: 256 * 1024 * 1024,
    });
    expect(() => loadConfig(['--config-dir', 'd', '--events-body-memory-mib', '2'], {})).toThrow(/--events-body-memory-mib/);
    expect(loadConfig(['--config-dir', 'd', '--request-timeout', '5s', '--events-max-connections', '200'], {})).toMatchObject({
      requestTimeoutMs: 5_000,
      eventsMaxConnections: 200,
    });
    expect(() => loadConfig(['--config-dir', 'd', '--request-timeout', '0s'], {})).toThrow(/--request-timeout/);
    expect(() => loadConfig(['--config-dir', 'd', '--events-max-connections', '0'], {})).toThrow(/--events-max-connections/);
  });

  it('reads the admin token from a file, without quoting a bad one', async () => {
    const dir = await makeTempDir('herald-config-');
    try {
      writeFileSync(join(dir, 'token'), 'from-a-file\n');
      writeFileSync(join(dir, 'two'), 'secret-one secret-two\n');
      expect(loadConfig(['--config-dir', 'd', '--admin-token-file', join(dir, 'token'), '--admin-addr', ':9400'], {})).toMatchObject({
        adminToken: 'from-a-file',
      });
      expect(() => loadConfig(['--config-dir', 'd', '--admin-token-file', join(dir, 'two')], {})).toThrow(/must hold one token/);
      expect(() => loadConfig(['--config-dir', 'd', '--admin-token-file', join(dir, 'two')], {})).not.toThrow(/secret/);
      expect(() => loadConfig(['--config-dir', 'd', '--admin-token-file', join(dir, 'missing')], {})).toThrow(/ENOENT/);
      expect(() => loadConfig(['--config-dir', 'd', '--admin-token-file', join(dir, 'token'), '--admin-token', 't'], {})).toThrow(/alternatives/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the open-file limit where Linux tells it', () => {
    expect(openFileLimit(() => 'Limit  Soft Limit  Hard Limit  Units\nMax open files            1024                 524288               files\n')).toBe(1024);
    expect(openFileLimit(() => { throw new Error('no /proc'); })).toBeUndefined();
  });
});

describe('command line: help, version, usage errors', () => {
  it('-h and --help ask for the help, --version for the version, before anything is checked', () => {
    expect(loadConfig(['-h'], {})).toBe('help');
    expect(loadConfig(['--help'], {})).toBe('help');
    expect(loadConfig(['--version'], {})).toBe('version');
    // No resource source given: help and version still answer.
    expect(loadConfig(['--kubernetes', '--config-dir', 'd', '--help'], {})).toBe('help');
  });

  it('the version is package.json\'s', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(version()).toBe(pkg.version);
  });

  it('the help shows a placeholder for each flag that takes a value, and the exit codes', () => {
    const help = usage();
    expect(help).toMatch(/^ {2}-h, --help +print this help/m);
    expect(help).toMatch(/--events-addr ADDR +address the event receiver/);
    expect(help).toMatch(/--config-dir DIR /);
    expect(help).toMatch(/--shutdown-timeout DURATION /);
    expect(help).toMatch(/--max-queued-bytes SIZE /);
    expect(help).toMatch(/^ {6}--kubernetes +read/m); // a boolean flag takes no value
    expect(help).toMatch(/Exit codes: 0 .*; 2 .*; 1 /);
  });

  it.each([
    [['--nope'], 'unknown flag --nope'],
    [['-z'], 'unknown flag -z'],
    [['--nope=1'], 'unknown flag --nope'],
    [['--events-addr'], '--events-addr needs a value'],
    [['--help=yes'], '--help takes no value'],
    [['stray'], 'unexpected argument "stray": every setting is a --flag'],
  ])('%j is one line, not the whole help', (argv, message) => {
    let thrown: unknown;
    try {
      loadConfig(argv, {});
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as Error).message).toBe(message);
  });
});
