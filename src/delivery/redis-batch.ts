/**
 * Batches in the Redis queue: the deliveries of the events accepted during one store are one
 * BullMQ job (see group-commit.ts), so a burst costs Redis one add script and one
 * complete-and-fetch script per batch instead of per delivery.
 *
 * Each delivery keeps its own deterministic id. An index key per delivery id
 * (`<prefix>:delivery:<id>` → the batch's job id) is written in the same MULTI as the batch:
 * it de-duplicates a re-sent event (a delivery whose id is indexed to another live batch, or
 * that exists as a job of its own, is not stored twice and not sent twice) and lets the admin
 * API find a delivery inside its batch. The index keys live DELIVERY_INDEX_SECONDS after the
 * batch is stored or taken up, whichever is later: Redis holds about (deliveries/s × that) of
 * them, ~200 bytes each.
 *
 * A batch's worker claims its deliveries in one script (those another batch or job owns, those
 * already sent before a crash, and those whose (Provider, object) pair is held by a retry are
 * told apart), marks each one sent as it goes (one SETBIT, so a batch taken up again after a
 * crash does not send it twice), re-queues every delivery that was not sent as its own job
 * (today's retry policy, job id and dead letters), then rewrites the batch to what it
 * delivered (`withoutPayload`) and lets BullMQ complete it.
 */
import type { DeliveryJob, QueuedJob } from './job.js';

/** Deliveries in one batch, at most (unless one event alone has more: an event is never split). */
export const MAX_BATCH_DELIVERIES = 128;
/** Approximate bytes of events in one batch, at most (unless one event alone weighs more). */
export const MAX_BATCH_BYTES = 1024 * 1024;
/** How long a delivery id stays indexed after its batch was stored or taken up. */
export const DELIVERY_INDEX_SECONDS = 120;
/** How long the sent-marks of a batch being delivered are kept if its worker dies (they are deleted at the acknowledgement). */
export const SENT_MARKS_SECONDS = 24 * 3600;
/**
 * How long a sent delivery's mark waits in memory before it is written. Most batches are
 * acknowledged sooner (the acknowledgement drops the marks), so most marks are never written:
 * a mark per delivery was one Redis command and one socket write each. A worker that dies
 * within this of a send has that delivery sent again by the batch's next worker — at least once,
 * as before, where an unwritten mark already cost one more send.
 */
export const MARK_DELAY_MS = 50;

/** A batch job's name: `batch <deliveries it counts>` (so counts need not read its data). */
export const BATCH_NAME_PREFIX = 'batch ';

export interface BatchData {
  batch: QueuedJob[];
}

export function isBatchName(name: string | null | undefined): boolean {
  return typeof name === 'string' && name.startsWith(BATCH_NAME_PREFIX);
}

export function isBatchData(data: unknown): data is BatchData {
  return typeof data === 'object' && data !== null && Array.isArray((data as BatchData).batch);
}

export function batchName(deliveries: number): string {
  return `${BATCH_NAME_PREFIX}${deliveries}`;
}

/**
 * The outcome of a delivery's first attempt, made inside a batch, carried by the job it is
 * re-queued as: the worker that takes the job records it (BullMQ's retry with backoff, or the
 * dead letter) without sending again, so attempt counts and dead letters are BullMQ's own.
 */
export interface FirstAttempt {
  error: string;
  dead: boolean;
  retryAfterMs?: number;
  /** The delay the processor was told it would get (AttemptInfo.retryDelayMs), kept to when the attempt is recorded. */
  delayMs?: number;
}

export type SingleData = DeliveryJob & { firstAttempt?: FirstAttempt };

export class BatchKeys {
  constructor(
    private readonly prefix: string,
    /** BullMQ's key of a job id: `<prefix>:<queue>:<id>`. */
    readonly jobKey: (id: string) => string,
  ) {}

  index(deliveryId: string): string {
    return `${this.prefix}:delivery:${deliveryId}`;
  }

  sentMarks(batchId: string): string {
    return `${this.prefix}:batch-sent:${batchId}`;
  }
}

/**
 * Answers of the scripts below when a BullMQ add queued before them in the same MULTI did not
 * happen (a MULTI runs on past a command's runtime error, e.g. NOSCRIPT after Redis lost its
 * scripts): they then write nothing, so that the whole store fails and can be done again.
 */
export const BATCH_NOT_STORED = 'HERALD_BATCH_NOT_STORED the batch job was not added';
export const REQUEUE_NOT_STORED = 'HERALD_REQUEUE_NOT_STORED a re-queued delivery was not added';

/**
 * Run in the MULTI right after BullMQ's add of the batch. KEYS: the batch's job key, then per
 * delivery its index key and its own job key. ARGV: batch id, index seconds, deliveries, the
 * job key prefix, events; then per event its duplicate-window key ('' for none) and length in
 * ms; then per delivery the number of its event.
 *
 * First each event's window is checked and, when not running, started (an event whose window
 * runs is a duplicate: its deliveries are marked `-` in the index, so none is sent). Then a
 * delivery is a duplicate when it exists as its own job, is indexed to another batch that still
 * exists, or appears twice in this batch; the others are indexed to this batch. The batch's
 * name is set to the deliveries it really adds. Returns per event 0 (accepted) or the
 * milliseconds left of the window that refused it.
 */
export const INTAKE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return redis.error_reply('${BATCH_NOT_STORED}') end
local n = tonumber(ARGV[3])
local events = tonumber(ARGV[5])
local windows = {}
for e = 1, events do
  local key = ARGV[4 + 2 * e]
  local left = 0
  if key ~= '' then
    local ttl = redis.call('PTTL', key)
    if ttl > 0 then left = ttl else redis.call('SET', key, '1', 'PX', ARGV[5 + 2 * e]) end
  end
  windows[e] = left
end
local fresh = 0
for i = 1, n do
  local owner = redis.call('GET', KEYS[2 * i])
  local live = owner and owner ~= '-' and (owner == ARGV[1] or redis.call('EXISTS', ARGV[4] .. owner) == 1)
  if windows[tonumber(ARGV[5 + 2 * events + i])] > 0 then
    if not live then redis.call('SET', KEYS[2 * i], '-', 'EX', ARGV[2]) end
  elseif not live and redis.call('EXISTS', KEYS[2 * i + 1]) == 0 then
    redis.call('SET', KEYS[2 * i], ARGV[1], 'EX', ARGV[2])
    fresh = fresh + 1
  end
end
redis.call('HSET', KEYS[1], 'name', 'batch ' .. fresh)
return windows
`;

/** What the claim says of each delivery of a batch. */
export const enum Claim {
  Send = 0,
  /** Another batch or job owns it, or its event was refused as a duplicate (indexed `-`). */
  Skip = 1,
  /** Its (Provider, object) pair is held by a delivery waiting for its retry. */
  Held = 2,
  /** Sent already, before this batch was taken up again (its worker died before the acknowledgement). */
  Sent = 3,
}

/**
 * KEYS: per delivery its index key, its own job key and its pair's hold key; then the batch's
 * sent-marks key. ARGV: batch id, index seconds, deliveries, job key prefix, sent-marks seconds.
 * Returns a Claim per delivery; claimed deliveries are (re-)indexed to this batch.
 */
export const CLAIM_SCRIPT = `
local n = tonumber(ARGV[3])
local sent = KEYS[3 * n + 1]
local verdicts = {}
for i = 1, n do
  local verdict = 0
  if redis.call('GETBIT', sent, i - 1) == 1 then
    verdict = 3
  elseif redis.call('EXISTS', KEYS[3 * i - 1]) == 1 then
    verdict = 1
  else
    local owner = redis.call('GET', KEYS[3 * i - 2])
    if owner and owner ~= ARGV[1] and (owner == '-' or redis.call('EXISTS', ARGV[4] .. owner) == 1) then
      verdict = 1
    else
      redis.call('SET', KEYS[3 * i - 2], ARGV[1], 'EX', ARGV[2])
      if redis.call('EXISTS', KEYS[3 * i]) == 1 then verdict = 2 end
    end
  end
  verdicts[i] = verdict
end
redis.call('SETBIT', sent, n, 0)
redis.call('EXPIRE', sent, ARGV[5])
return verdicts
`;

/**
 * KEYS: the batch's job key, its sent-marks key, then the job key of each delivery re-queued as
 * a job of its own. ARGV: data, name. Rewrites a batch that still exists (not one removed
 * meanwhile) and drops its marks, but only once every re-queued job exists: if one of their adds
 * failed in the same MULTI, the batch is left whole and is taken up again.
 */
export const REWRITE_SCRIPT = `
for k = 3, #KEYS do
  if redis.call('EXISTS', KEYS[k]) == 0 then return redis.error_reply('${REQUEUE_NOT_STORED}') end
end
redis.call('DEL', KEYS[2])
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'data', ARGV[1], 'name', ARGV[2])
return 1
`;

/**
 * Deliveries per state, batches counted by the deliveries their name says. KEYS: the state's
 * lists or sorted sets (BullMQ's wait, prioritized, active, delayed, completed, failed, paused).
 * ARGV: the job key prefix, then per key 'list' or 'zset', then the most members read per key
 * (beyond it each member counts one). Returns one count per key.
 */
export const COUNT_SCRIPT = `
local limit = tonumber(ARGV[#KEYS + 2])
local counts = {}
for k = 1, #KEYS do
  local members
  local total
  if ARGV[k + 1] == 'list' then
    total = redis.call('LLEN', KEYS[k])
    members = redis.call('LRANGE', KEYS[k], 0, limit - 1)
  else
    total = redis.call('ZCARD', KEYS[k])
    members = redis.call('ZRANGE', KEYS[k], 0, limit - 1)
  end
  local count = total
  for _, id in ipairs(members) do
    local name = redis.call('HGET', ARGV[1] .. id, 'name')
    if name and string.sub(name, 1, 6) == 'batch ' then
      count = count + (tonumber(string.sub(name, 7)) or 1) - 1
    end
  end
  counts[k] = count
end
return counts
`;

/** Where sent-marks are written: the one method `SentMarks` needs of a Redis client. */
interface CommandClient {
  call(command: string, ...args: Array<string | number>): Promise<unknown>;
}

/**
 * The sent-marks of one batch being delivered: each delivery marked sent is written after
 * MARK_DELAY_MS, together with the others marked meanwhile (one BITFIELD), unless the batch is
 * acknowledged first (`stop`).
 */
export class SentMarks {
  private pending: number[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly client: CommandClient,
    private readonly key: string,
    private readonly delayMs = MARK_DELAY_MS,
  ) {}

  mark(position: number): void {
    this.pending.push(position);
    this.timer ??= setTimeout(() => void this.flush(), this.delayMs);
  }

  /** Writes the marks waiting now. Never rejects: a lost mark costs at most one more send. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const args = this.pending.flatMap((position) => ['SET', 'u1', position, 1]);
    this.pending = [];
    await this.client.call('BITFIELD', this.key, ...args).catch(() => undefined);
  }

  /** The batch is acknowledged (its marks deleted): nothing more is written. */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = [];
  }
}
