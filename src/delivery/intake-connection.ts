/**
 * The connection the intake's stores go through. Each store is one MULTI, and ioredis copies
 * every command defined on a connection onto each MULTI it makes: on BullMQ's own connection
 * that is all of BullMQ's scripts (about fifty), for every batch — about 4 % of the intake
 * thread at load, and objects that outlive a scavenge. This connection defines only what a
 * store runs: BullMQ's add scripts, copied from BullMQ's connection (so they are the installed
 * BullMQ's own, under the names it calls them by), and Herald's intake script, sent by its
 * SHA once the connection has sent it whole.
 *
 * It is opened at the first store, fails fast like the producer connection (no offline queue:
 * a store while Redis is away fails at once and the POST gets a 503) and reconnects by itself.
 */
import type { ChainableCommander } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { createRedisConnection, type RedisClient, type RedisConnectionConfig } from './redis-connection.js';

/** The commands a connection defines, as ioredis keeps them (the scripts' Lua included). */
export interface DefinedScripts {
  scriptsSet: Record<string, { lua: string; numberOfKeys: number | null }>;
}

/** The name the intake script is defined under on this connection. */
const INTAKE_COMMAND = 'heraldIntake';
/** BullMQ's scripts that add a job are named `add…:<version>` (addStandardJob, addPrioritizedJob, addDelayedJob, …). */
const BULLMQ_ADD = /^add[A-Z]/;

/**
 * A MULTI that BullMQ's `Job.addJob` can add a job to (it runs its scripts through
 * `runCommand`, as on BullMQ's own transactions), with the intake script.
 */
export interface IntakeMulti extends ChainableCommander {
  runCommand(name: string, args: unknown[]): IntakeMulti;
  heraldIntake(numKeys: number, ...keysAndArgs: Array<string | number>): IntakeMulti;
}

export class IntakeConnection {
  private client?: Promise<RedisClient & DefinedScripts>;
  private closed = false;
  /** Settles when the connection is first ready: the stores before wait for it (their own timeout bounds the wait). */
  private firstReady?: Promise<void>;

  constructor(
    private readonly target: string | RedisConnectionConfig,
    private readonly logger: Logger,
    /** BullMQ's connection, its commands loaded: where the add scripts are copied from. */
    private readonly bullmq: () => Promise<DefinedScripts>,
    private readonly intakeScript: string,
  ) {}

  /** A new MULTI on the connection; rejects while Redis is not reachable (once the connection was ready). */
  async multi(): Promise<IntakeMulti> {
    // An open that failed (BullMQ's connection did not come up) is tried again by the next store.
    const client = await (this.client ??= this.open().catch((err: unknown) => {
      this.client = undefined;
      throw err;
    }));
    await this.firstReady;
    if (client.status !== 'ready') throw new Error(`redis is not reachable (${client.status})`);
    const multi = client.multi() as IntakeMulti;
    multi.runCommand = (name, args) => {
      (multi as unknown as Record<string, (args: unknown[]) => unknown>)[name]?.(args);
      return multi;
    };
    return multi;
  }

  /** The Lua of every script this connection runs (to load them again after Redis lost them). */
  async scripts(): Promise<string[]> {
    if (!this.client) return [];
    return Object.values((await this.client).scriptsSet).map(({ lua }) => lua);
  }

  close(): void {
    this.closed = true;
    this.client?.then((client) => client.disconnect()).catch(() => undefined);
  }

  private async open(): Promise<RedisClient & DefinedScripts> {
    const { scriptsSet } = await this.bullmq();
    // Closed while BullMQ's connection came up: open nothing that would reconnect forever.
    if (this.closed) throw new Error('the queue is closed');
    const client = createRedisConnection(this.target, 'intake', this.logger) as RedisClient & DefinedScripts;
    for (const [name, script] of Object.entries(scriptsSet)) {
      if (BULLMQ_ADD.test(name)) client.defineCommand(name, { lua: script.lua, ...(script.numberOfKeys === null ? {} : { numberOfKeys: script.numberOfKeys }) });
    }
    client.defineCommand(INTAKE_COMMAND, { lua: this.intakeScript });
    this.firstReady = new Promise<void>((resolve) => {
      client.once('ready', resolve);
      client.once('end', resolve);
    });
    return client;
  }
}
