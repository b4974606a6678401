import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runLoad } from '../../bench/load.js';

/** A server that answers `status` after `delayMs`, counting requests. */
async function slowServer(delayMs: number, status: number): Promise<{ url: string; received: () => number; server: Server }> {
  let received = 0;
  const server = createServer((req, res) => {
    received++;
    req.resume();
    req.on('end', () => setTimeout(() => res.writeHead(status, { 'content-length': '0' }).end(), delayMs));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received: () => received, server };
}

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  server = undefined;
});

describe('bench runLoad', () => {
  it('open loop keeps offering the scheduled rate to a slow server, and counts latency from the schedule', async () => {
    const slow = await slowServer(150, 202);
    server = slow.server;
    const load = await runLoad({ origin: slow.url, connections: 4, warmupMs: 0, durationMs: 1000, rate: 100, body: (seq) => `{"seq":${seq}}`, keepSendTimes: true });
    // A closed loop on 4 connections would send about 4 / 0.15 s ≈ 27 in a second.
    expect(load.sent).toBe(100);
    expect(slow.received()).toBe(100);
    expect(load.acceptedSeqs).toHaveLength(100);
    // 4 connections × 150 ms each: requests queue behind each other, and that wait is counted.
    // Every request due in the window has its latency counted, also those answered after it.
    expect(load.latencies.length).toBe(100);
    const sorted = load.latencies.sorted();
    expect(sorted[0]).toBeGreaterThanOrEqual(149);
    expect(sorted[sorted.length - 1]).toBeGreaterThan(1000);
    // Send times are the schedule: 10 ms apart.
    expect((load.sendTimes.get(50) as number) - (load.sendTimes.get(0) as number)).toBeCloseTo(500, 6);
  });

  it('takes another status as accepted (Alertmanager answers 200) and uses the given path', async () => {
    let path = '';
    server = createServer((req, res) => {
      path = req.url ?? '';
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-length': '0' }).end());
    });
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const load = await runLoad({ origin: url, connections: 2, warmupMs: 0, durationMs: 200, rate: 50, path: '/api/v2/alerts', acceptStatus: 200, body: () => '[]' });
    expect(path).toBe('/api/v2/alerts');
    expect(load.sent).toBe(10);
    expect(load.acceptedSeqs).toHaveLength(10);
    expect(load.statuses.get('200')).toBe(load.accepted);
  });
});
