/**
 * A ceiling, not a competitor: a bare Fastify app, run as its own process like Herald, whose
 * `POST /` parses the JSON body, forwards it, serialised again, in one POST to the sink (an
 * undici Pool of 8 keep-alive connections, Herald's default `--provider-concurrency`), and
 * answers 202 once the sink answered, so that it cannot run ahead of its deliveries. It stores,
 * matches, logs and retries nothing. Its deliveries/s bound what any design that takes one HTTP
 * request in and sends one out per event can reach on this machine with Node, the load
 * generator and the sink sharing it.
 *
 *   node dist/bench/relay-server.js <sink-url>
 *
 * Prints `port <n>` on stdout once listening; SIGTERM stops it.
 */
import Fastify from 'fastify';
import { Pool } from 'undici';
import { servePort } from './port-server.js';

const [sinkUrl] = process.argv.slice(2);
if (!sinkUrl) throw new Error('usage: relay-server.js <sink-url>');
const sink = new URL(sinkUrl);
const pool = new Pool(sink.origin, { connections: 8 });
const HEADERS = { 'content-type': 'application/json' };

async function forward(body: unknown): Promise<void> {
  const res = await pool.request({ path: sink.pathname, method: 'POST', headers: HEADERS, body: JSON.stringify(body) });
  await res.body.dump();
}

const app = Fastify({ logger: false, bodyLimit: 3 * 1024 * 1024 });

app.post('/', async (req, reply) => {
  if (typeof req.body !== 'object' || req.body === null) return reply.status(400).send();
  try {
    await forward(req.body);
  } catch {
    return reply.status(503).send();
  }
  return reply.status(202).send();
});

await servePort(app, () => pool.close());
