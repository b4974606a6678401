/**
 * The intake's own connection (src/delivery/intake-connection.ts), on a redis-server of this
 * file's own: it carries only the scripts a store runs, stores through BullMQ's add, and fails
 * fast once Redis is gone.
 */
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { IntakeConnection, type DefinedScripts } from '../../src/delivery/intake-connection.js';
import { producerConnection } from '../../src/delivery/redis-queue.js';
import { startRedisServer } from '../support/redis-server.js';
import { until } from '../support/wait.js';

const logger = pino({ level: 'silent' });
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
});

const INTAKE = `return redis.call('HGET', KEYS[1], 'name')`;

async function setUp() {
  const server = await startRedisServer();
  cleanups.push(() => server.cleanup());
  const url = `redis://127.0.0.1:${server.port}`;
  const producer = producerConnection(url, logger);
  const queue = new Queue('deliveries', { connection: producer, prefix: 'herald' });
  queue.on('error', () => undefined);
  const bullmq = async () => (await queue.client) as unknown as DefinedScripts;
  const intake = new IntakeConnection(url, logger, bullmq, INTAKE);
  cleanups.push(async () => (intake.close(), await queue.close(), producer.disconnect()));
  return { server, queue, intake, bullmq };
}

describe('intake connection', () => {
  it("defines BullMQ's add scripts and the intake script, none of BullMQ's other scripts", async () => {
    const { intake, bullmq } = await setUp();
    await intake.multi();
    const all = Object.entries((await bullmq()).scriptsSet);
    const adds = all.filter(([name]) => /^add[A-Z]/.test(name)).map(([, script]) => script.lua);
    const scripts = await intake.scripts();
    expect(all.length).toBeGreaterThan(30);
    expect(adds.length).toBeGreaterThan(0);
    expect(scripts.sort()).toEqual([...adds, INTAKE].sort());
  });

  it("adds a job through BullMQ's add and runs the intake script in the same MULTI", async () => {
    const { queue, intake } = await setUp();
    const { Job } = await import('bullmq');
    const multi = await intake.multi();
    const job = new Job(queue, 'batch 1', { batch: [] }, { jobId: 'b1', priority: 1 }, 'b1');
    // Queued on the MULTI synchronously (it settles with it).
    const added = job.addJob(multi as never, {});
    multi.heraldIntake(1, queue.toKey('b1'));
    const results = await multi.exec();
    await added;
    expect(results?.at(-1)).toEqual([null, 'batch 1']);
    expect(await queue.getJobState('b1')).toBe('prioritized');
  });

  it('fails at once while Redis is away, and stores again once it is back', async () => {
    const { server, intake } = await setUp();
    expect(await (await intake.multi()).heraldIntake(1, 'none').exec()).toEqual([[null, null]]);
    await server.stop('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = performance.now();
    await expect(intake.multi()).rejects.toThrow(/redis is not reachable/);
    expect(performance.now() - started).toBeLessThan(100);
    const again = await startRedisServer({ port: server.port });
    cleanups.push(() => again.cleanup());
    await until(async () => (await intake.multi().then((m) => m.heraldIntake(1, 'none').exec()).catch(() => undefined)) !== undefined, { timeoutMs: 15_000, what: 'a store after the restart' });
  });

  it("tries again to open after BullMQ's connection failed, and opens nothing once closed", async () => {
    const server = await startRedisServer();
    cleanups.push(() => server.cleanup());
    const url = `redis://127.0.0.1:${server.port}`;
    let calls = 0;
    const flaky = new IntakeConnection(url, logger, async () => (++calls === 1 ? Promise.reject(new Error('bullmq down')) : { scriptsSet: {} }), INTAKE);
    cleanups.push(() => flaky.close());
    await expect(flaky.multi()).rejects.toThrow('bullmq down');
    expect(await (await flaky.multi()).heraldIntake(1, 'none').exec()).toEqual([[null, null]]);

    let release!: () => void;
    const late = new IntakeConnection(url, logger, () => new Promise((resolve) => (release = () => resolve({ scriptsSet: {} }))), INTAKE);
    const first = late.multi();
    late.close();
    release();
    await expect(first).rejects.toThrow(/closed/);
    expect(await late.scripts()).toEqual([]);
  });
});
