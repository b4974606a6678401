/**
 * Redis client errors in an operator's words: a real connection to a port nothing listens on
 * logs where Redis was looked for and why it failed, not ioredis's internals; the other forms
 * (DNS, credentials, Sentinel, Cluster) name what to fix.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisConnection, plainRedisError, type RedisClient } from '../../src/delivery/redis-connection.js';
import { freePort } from '../support/herald.js';
import { until } from '../support/wait.js';

const opened: RedisClient[] = [];
afterEach(() => {
  for (const conn of opened.splice(0)) conn.disconnect();
});

const systemError = (message: string, fields: Record<string, unknown>) => Object.assign(new Error(message), fields);

describe('Redis errors in plain words', () => {
  it('logs "Redis unreachable at host:port (connection refused)" for a real refused connection, once', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
        done();
      },
    });
    const port = await freePort();
    const conn = createRedisConnection(`redis://:secret-pw@127.0.0.1:${port}`, 'producer', pino(sink));
    opened.push(conn);
    await until(() => lines.some((l) => l.msg === 'redis connection error'), { what: 'the connection error logged' });
    // Reconnect attempts repeat the error: it is still logged once.
    await until(() => conn.status === 'reconnecting' || conn.status === 'connecting', { what: 'reconnecting' });
    const errors = lines.filter((l) => l.msg === 'redis connection error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ role: 'producer', err: `Redis unreachable at 127.0.0.1:${port} (connection refused)` });
    expect(JSON.stringify(lines)).not.toContain('secret-pw');
  });

  it('names the host for DNS failures, and what to fix for credentials, Sentinel and Cluster', () => {
    const target = 'redis://:***@redis.example:6379/0';
    expect(plainRedisError(systemError('getaddrinfo ENOTFOUND redis.example', { code: 'ENOTFOUND', hostname: 'redis.example' }), target)).toBe(
      'Redis host redis.example not found (DNS lookup failed)',
    );
    expect(plainRedisError(systemError('connect ETIMEDOUT 10.0.0.7:6379', { code: 'ETIMEDOUT', address: '10.0.0.7', port: 6379 }), target)).toBe(
      'Redis unreachable at 10.0.0.7:6379 (connection timed out)',
    );
    expect(plainRedisError(systemError('connect ECONNREFUSED ::1:6379', { code: 'ECONNREFUSED', address: '::1', port: 6379 }), target)).toBe(
      'Redis unreachable at [::1]:6379 (connection refused)',
    );
    // A reset carries no address: the connection's own (masked) description says where.
    expect(plainRedisError(systemError('read ECONNRESET', { code: 'ECONNRESET' }), target)).toBe(`Redis unreachable at ${target} (connection reset)`);
    expect(plainRedisError(new Error('WRONGPASS invalid username-password pair or user is disabled.'), target)).toBe(
      `Redis at ${target} refused the credentials: wrong username or password (WRONGPASS)`,
    );
    expect(plainRedisError(new Error('NOAUTH Authentication required.'), target)).toMatch(/requires a password and none was given/);
    expect(plainRedisError(new Error('All sentinels are unreachable. Retrying from scratch after 1000ms.'), 'sentinel master "m" via s1:26379')).toBe(
      'no Redis Sentinel reachable (sentinel master "m" via s1:26379); retrying',
    );
    expect(plainRedisError(new Error('Failed to refresh slots cache.'), 'cluster n1:7000')).toBe('no Redis Cluster node reachable (cluster n1:7000); retrying');
    expect(plainRedisError(new Error('something else entirely'), target)).toBe(`Redis at ${target}: something else entirely`);
  });
});
