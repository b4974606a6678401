/**
 * What the main thread and the delivery thread tell each other (see delivery-runtime.ts and
 * delivery-thread.ts). Everything here is structured-clonable: plain data, no functions.
 */
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { OwnListener } from '../../providers/own-listeners.js';
import type { CircuitBreakerOptions } from './circuit-breaker.js';
import type { RedisConnectionConfig } from './redis-connection.js';
import type { RetryPolicy } from './retry-policy.js';
import type { StoreFeedOp } from './store-feed.js';
import type { DeliveryOutcome } from './worker.js';
import type { DeadLetter } from '../resources/source.js';
import { Gathered } from '../observability/gathered.js';

/** The delivery thread's `workerData`: what it needs to build its queue, store and processor. */
export interface DeliveryThreadSettings {
  logLevel: string;
  redis: RedisConnectionConfig;
  prefix: string;
  policy: RetryPolicy;
  concurrency: number;
  perProviderConcurrency: number;
  stalledIntervalMs: number;
  circuit: Pick<CircuitBreakerOptions, 'threshold' | 'initialCooldownMs' | 'maxCooldownMs'>;
  noCrossNamespaceRefs: boolean;
  ownListeners: OwnListener[];
  /** Whether the main thread wants each attempt's outcome told. */
  reportOutcomes: boolean;
}

export type ToDeliveryThread =
  /** The resource source's feeds, in order (see store-feed.ts). */
  | { type: 'feed'; ops: StoreFeedOp[] }
  /** Start delivering once the store has its first snapshot; tell dead letters when the source records them (Kubernetes Events). */
  | { type: 'start'; reportDeadLetters: boolean }
  | { type: 'collect-metrics'; id: number }
  /** An operator made a delivery of this Provider due now: its open circuit lets the next attempt through (see worker.ts). */
  | { type: 'probe-now'; provider: string }
  /** Stop taking jobs, let those in flight finish, then say `closed`. */
  | { type: 'close' };

export type FromDeliveryThread =
  /** Log lines (newline-terminated JSON), for the process's stdout. */
  | { type: 'logs'; text: string }
  /** The queue's worker runs. */
  | { type: 'started' }
  | { type: 'metrics'; id: number; metrics: Array<MetricObjectWithValues<MetricValue<string>>> }
  | { type: 'dead-letter'; letter: DeadLetter; message: string }
  | { type: 'outcomes'; outcomes: DeliveryOutcome[] }
  | { type: 'closed' };

/** Log bytes a thread holds for the main thread between two posts, at most; beyond this lines are dropped. */
const MAX_PENDING_LOG_BYTES = 4 * 1024 * 1024;

/**
 * A pino destination that hands its lines to `post`, gathered for GATHER_MS (one text per
 * message): the main thread writes them to stdout through its own destination, so the process
 * has one writer on stdout (no interleaved lines, one bound on what waits for a slow reader).
 */
export class PostedLogDestination {
  private readonly pending: Gathered<string>;

  constructor(post: (text: string) => void) {
    this.pending = new Gathered<string>((lines) => post(lines.join('')), () => MAX_PENDING_LOG_BYTES, (line) => line.length);
  }

  write(line: string): void {
    this.pending.add(line);
  }

  /** Posts what is gathered now. */
  flush(): void {
    this.pending.flush();
  }
}
