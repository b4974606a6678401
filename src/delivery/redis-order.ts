/**
 * Delivery order per (Provider, involved object) pair across every worker and replica on one
 * Redis: the same rule as the in-process queue. A job that fails and will be retried holds its
 * pair; the pair's other jobs wait (they are deferred, without spending an attempt) until the
 * holder is delivered or a dead letter; then they are woken and go on.
 *
 * Per held pair Redis keeps a string (the holder's job id) and a sorted set of the waiting job
 * ids (by acceptance time): both are deleted when the holder is done, so what is kept is
 * bounded by the jobs pending. A waiting job also looks again by itself after a while, in case
 * its wake-up was lost with a replica; a holder whose job is gone (purged, say) is then dropped.
 */
import { hash } from 'node:crypto';
import type { RedisClient } from './redis-connection.js';

/** KEYS: hold, waiting. ARGV: job id, score. Returns 'go', or the job id it waits behind. */
const ENTER = `
local holder = redis.call('GET', KEYS[1])
if not holder or holder == ARGV[1] then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 'go'
end
redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[1])
return holder
`;

/** KEYS: hold. ARGV: job id. The job failed and will be retried: it holds the pair unless another does. */
const HOLD = `return redis.call('SET', KEYS[1], ARGV[1], 'NX') and 1 or 0`;

/**
 * KEYS: hold, waiting. ARGV: job id, most to wake. The job is done (or gone): when it held the
 * pair, the pair is free and the jobs that waited (the first ARGV[2] of them) are returned, to
 * be woken.
 */
const RELEASE = `
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {} end
redis.call('DEL', KEYS[1])
local waiting = redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[2]) - 1)
redis.call('DEL', KEYS[2])
return waiting
`;

/** Waiting jobs woken at once when a pair is released; any others look again by themselves. */
const MAX_WOKEN = 1_000;

export type OrderTurn = { go: true } | { go: false; behind: string };

export class RedisOrder {
  constructor(
    /** The fail-fast producer connection: a look that cannot be made fails the attempt at once. */
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  private keys(pair: string): [string, string] {
    // Under the queue's prefix, so that in Redis Cluster they share its hash slot.
    // One-shot: this runs for every delivery of every batch taken (a Hash object each was measurable).
    const id = hash('sha256', pair, 'hex').slice(0, 32);
    return [`${this.prefix}:order:${id}:hold`, `${this.prefix}:order:${id}:waiting`];
  }

  /** Whether the job may be sent now; if not, the job it waits behind (it is recorded as waiting). */
  async enter(pair: string, id: string, acceptedAt: number): Promise<OrderTurn> {
    const answer = (await this.redis.eval(ENTER, 2, ...this.keys(pair), id, acceptedAt)) as string;
    return answer === 'go' ? { go: true } : { go: false, behind: answer };
  }

  /** The key that exists while a job holds the pair (read by the batch claim, see redis-batch.ts). */
  holdKey(pair: string): string {
    return this.keys(pair)[0];
  }

  /** Whether a job holds the pair now. */
  async held(pair: string): Promise<boolean> {
    return (await this.redis.exists(this.keys(pair)[0])) === 1;
  }

  async hold(pair: string, id: string): Promise<void> {
    await this.redis.eval(HOLD, 1, this.keys(pair)[0], id);
  }

  /** The jobs that waited behind `id`, when it held the pair (to be woken). */
  async release(pair: string, id: string): Promise<string[]> {
    return (await this.redis.eval(RELEASE, 2, ...this.keys(pair), id, MAX_WOKEN)) as string[];
  }
}
