/**
 * The benchmark's delivery sink, run in a worker thread so that receiving Herald's deliveries
 * never stalls the load generator's event loop (which would inflate the POST latencies it
 * measures). Answers 200 at once and keeps only (seq, receipt time) per distinct seq token in
 * the body (bench/tokens.ts): one per Herald delivery, one per alert in an Alertmanager webhook
 * notification. test/support/sink.ts keeps every body and header, which would grow by a few
 * hundred MB over a long run.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort } from 'node:worker_threads';
import { seqsInBody } from './tokens.js';

export type SinkRequest = { id: number; type: 'stats' | 'dump' | 'close' };
export type SinkStats = { total: number; unique: number; other: number };
export type SinkDump = { seqs: Float64Array<ArrayBuffer>; times: Float64Array<ArrayBuffer> };

const port = parentPort;
if (!port) throw new Error('sink-worker.js must run in a worker thread');

let seqs = new Float64Array(1 << 16);
let times = new Float64Array(1 << 16);
let total = 0;
let other = 0;
const seen = new Set<number>();

function record(seq: number, at: number): void {
  if (total === seqs.length) {
    const grownSeqs = new Float64Array(seqs.length * 2);
    const grownTimes = new Float64Array(times.length * 2);
    grownSeqs.set(seqs);
    grownTimes.set(times);
    seqs = grownSeqs;
    times = grownTimes;
  }
  seqs[total] = seq;
  times[total] = at;
  total++;
  seen.add(seq);
}

const server = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    body += chunk;
  });
  req.on('end', () => {
    const at = performance.timeOrigin + performance.now();
    const inBody = seqsInBody(body);
    for (const seq of inBody) record(seq, at);
    if (inBody.size === 0) other++;
    res.writeHead(200, { 'content-length': '0' });
    res.end();
  });
});
server.keepAliveTimeout = 60_000;

server.listen(0, '127.0.0.1', () => {
  port.postMessage({ ready: true, port: (server.address() as AddressInfo).port });
});

port.on('message', (msg: SinkRequest) => {
  if (msg.type === 'stats') {
    port.postMessage({ id: msg.id, stats: { total, unique: seen.size, other } satisfies SinkStats });
  } else if (msg.type === 'dump') {
    const dump: SinkDump = { seqs: seqs.slice(0, total), times: times.slice(0, total) };
    port.postMessage({ id: msg.id, dump }, [dump.seqs.buffer, dump.times.buffer]);
  } else {
    server.closeAllConnections();
    server.close(() => port.postMessage({ id: msg.id, closed: true }));
  }
});
