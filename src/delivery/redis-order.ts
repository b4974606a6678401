/**
 * Delivery order per (Provider, involved object) pair across every worker and replica on one
 * Redis: the same rule as the in-process queue. A job that fails and will be retried holds its
 * pair; the pair's other jobs wait (they are deferred, without spending an attempt) in arrival
 * order; once the holder is delivered or a dead letter, the first of them takes the hold while
 * it is sent, then the next, until none waits and the pair is free again. A waiting job is woken
 * (promoted) as soon as its turn comes; it also looks again by itself after a while, in case
 * the wake-up was lost with a replica.
 *
 * Per held pair Redis keeps a string (the holder's job id) and a sorted set of the waiting job
 * ids (by acceptance time): both are deleted when the pair is free, so what is kept is bounded
 * by the jobs pending. A holder or first waiter whose job is gone (delivered, a dead letter,
 * purged) is dropped when found, so a lost release cannot hold a pair for ever.
 */
import { createHash } from 'node:crypto';
import type { RedisClient } from './redis-connection.js';

/** KEYS: hold, waiting. ARGV: job id, score. Returns 'go', or the job id to wait behind. */
const ENTER = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return 'go' end
if not holder then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  if not first then return 'go' end
  if first == ARGV[1] then
    redis.call('ZREM', KEYS[2], ARGV[1])
    redis.call('SET', KEYS[1], ARGV[1])
    return 'go'
  end
  redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[1])
  return first
end
redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[1])
return holder
`;

/** KEYS: hold. ARGV: job id. The job failed and will be retried: it holds the pair unless another does. */
const HOLD = `return redis.call('SET', KEYS[1], ARGV[1], 'NX') and 1 or 0`;

/**
 * KEYS: hold, waiting. ARGV: job id. The job is done (or gone): it neither holds nor waits any
 * more. Returns the first waiting job when the pair is now free for it (to be woken), else false.
 */
const RELEASE = `
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then redis.call('DEL', KEYS[1]) held = false end
redis.call('ZREM', KEYS[2], ARGV[1])
if held then return false end
return redis.call('ZRANGE', KEYS[2], 0, 0)[1] or false
`;

export type OrderTurn = { go: true } | { go: false; behind: string };

export class RedisOrder {
  constructor(
    /** The fail-fast producer connection: a look that cannot be made fails the attempt at once. */
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  private keys(pair: string): [string, string] {
    // Under the queue's prefix, so that in Redis Cluster they share its hash slot.
    const id = createHash('sha256').update(pair).digest('hex').slice(0, 32);
    return [`${this.prefix}:order:${id}:hold`, `${this.prefix}:order:${id}:waiting`];
  }

  /** Whether the job may be sent now; if not, the job it waits behind (it is recorded as waiting). */
  async enter(pair: string, id: string, acceptedAt: number): Promise<OrderTurn> {
    const answer = (await this.redis.eval(ENTER, 2, ...this.keys(pair), id, acceptedAt)) as string;
    return answer === 'go' ? { go: true } : { go: false, behind: answer };
  }

  async hold(pair: string, id: string): Promise<void> {
    await this.redis.eval(HOLD, 1, this.keys(pair)[0], id);
  }

  /** The first waiting job, when the release gave it its turn. */
  async release(pair: string, id: string): Promise<string | undefined> {
    const next = (await this.redis.eval(RELEASE, 2, ...this.keys(pair), id)) as string | null;
    return next ?? undefined;
  }
}
