/**
 * Issue 10's baseline: a Fastify app, run as its own process like Herald, whose `POST /` parses
 * the JSON body and stores it with exactly one BullMQ `add` (queue `deliveries` under the given
 * prefix, a unique job id, Herald's job options) before answering 202, or 503 if the add
 * failed. Nothing delivers: the jobs stay until the benchmark deletes the prefix. Its Redis
 * connection has the options of Herald's producer connection (fail fast, auto-pipelining).
 *
 *   node dist/bench/bare-bullmq-server.js <redis-url> <prefix>
 *
 * Prints `port <n>` on stdout once listening; SIGTERM stops it.
 */
import { Queue } from 'bullmq';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { QUEUE_NAME } from '../src/delivery/redis-queue.js';
import { servePort } from './port-server.js';

const [redisUrl, prefix] = process.argv.slice(2);
if (!redisUrl || !prefix) throw new Error('usage: bare-bullmq-server.js <redis-url> <prefix>');

const connection = new Redis(redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, enableAutoPipelining: true });
connection.on('error', (err: Error) => process.stderr.write(`redis: ${err.message}\n`));
await new Promise<void>((resolve, reject) => {
  connection.once('ready', resolve);
  connection.once('end', () => reject(new Error(`redis at ${redisUrl} did not answer`)));
});
const queue = new Queue(QUEUE_NAME, { connection, prefix });
queue.on('error', () => undefined); // reported by the connection's own listener

const app = Fastify({ logger: false, bodyLimit: 3 * 1024 * 1024 });
let nextId = 0;

app.post('/', async (req, reply) => {
  if (typeof req.body !== 'object' || req.body === null) return reply.status(400).send();
  try {
    await queue.add('generic', req.body, {
      jobId: `bare-${process.pid}-${nextId++}`,
      attempts: 8,
      backoff: { type: 'herald' },
      removeOnComplete: { age: 3600, count: 50_000 },
      removeOnFail: false,
    });
  } catch {
    return reply.status(503).send();
  }
  return reply.status(202).send();
});

await servePort(app, async () => {
  await queue.close();
  await connection.quit();
});
