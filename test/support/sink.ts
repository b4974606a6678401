/**
 * A local HTTP sink that records every request it receives, for tests that assert what Herald
 * (or one adapter) sent. Listens on 127.0.0.1 only.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { until } from './wait.js';

export interface ReceivedRequest {
  method: string;
  /** Path and query string. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  receivedAt: number;
}

export interface SinkReply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/** Decides the answer to each request; return undefined to never answer (a hanging provider). */
export type SinkResponder = (req: ReceivedRequest, index: number) => SinkReply | undefined | Promise<SinkReply | undefined>;

export interface Sink {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  /** Replaces how the sink answers from now on. */
  respondWith(responder: SinkResponder): void;
  /** Resolves once at least `count` requests arrived (polling), or rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

export async function startSink(responder: SinkResponder = () => ({ status: 200 }), port = 0): Promise<Sink> {
  let respond = responder;
  const requests: ReceivedRequest[] = [];
  const hanging = new Set<ServerResponse>();

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const received: ReceivedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAt: Date.now(),
      };
      const index = requests.push(received) - 1;
      const reply = await respond(received, index);
      if (!reply) {
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(reply.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actualPort = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${actualPort}`,
    port: actualPort,
    requests,
    respondWith(next) {
      respond = next;
    },
    async waitFor(count, timeoutMs = 15_000) {
      await until(() => requests.length >= count, { timeoutMs, what: `sink: ${count} requests` });
      return requests;
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
