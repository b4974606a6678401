/**
 * The baseline: a bare Fastify app, run as its own process like Herald, whose `POST /` parses
 * the JSON body (Fastify's default parser, same 3 MiB limit as Herald) and answers 202. No
 * validation, no Redis, no logging. Prints `port <n>` on stdout once listening; SIGTERM stops it.
 */
import Fastify from 'fastify';
import { servePort } from './port-server.js';

const app = Fastify({ logger: false, bodyLimit: 3 * 1024 * 1024 });

app.post('/', async (req, reply) => {
  // Touch the parsed body so the parse cannot be optimised away.
  if (typeof req.body !== 'object' || req.body === null) return reply.status(400).send();
  return reply.status(202).send();
});

await servePort(app);
