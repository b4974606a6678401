/**
 * The baseline: a bare Fastify app, run as its own process like Herald, whose `POST /` parses
 * the JSON body (Fastify's default parser, same 3 MiB limit as Herald) and answers 202. No
 * validation, no Redis, no logging. Prints `port <n>` on stdout once listening; SIGTERM stops it.
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false, bodyLimit: 3 * 1024 * 1024 });

app.post('/', async (req, reply) => {
  // Touch the parsed body so the parse cannot be optimised away.
  if (typeof req.body !== 'object' || req.body === null) return reply.status(400).send();
  return reply.status(202).send();
});

await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
process.stdout.write(`port ${typeof address === 'object' && address ? address.port : 0}\n`);

process.on('SIGTERM', () => {
  void app.close().then(() => process.exit(0));
});
