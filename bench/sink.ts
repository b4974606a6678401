/** Starts bench/sink-worker in a worker thread and talks to it. */
import { Worker } from 'node:worker_threads';
import type { SinkDump, SinkRequest, SinkStats } from './sink-worker.js';

export interface BenchSink {
  url: string;
  stats(): Promise<SinkStats>;
  /** First receipt time (epoch ms) of every seq delivered. */
  receipts(): Promise<Map<number, number>>;
  close(): Promise<void>;
}

export async function startBenchSink(): Promise<BenchSink> {
  const worker = new Worker(new URL('./sink-worker.js', import.meta.url));
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', (msg: { port: number }) => resolve(msg.port));
  });

  let nextId = 0;
  const pending = new Map<number, (reply: Record<string, unknown>) => void>();
  worker.on('message', (msg: { id?: number } & Record<string, unknown>) => {
    if (msg.id === undefined) return;
    pending.get(msg.id)?.(msg);
    pending.delete(msg.id);
  });
  const ask = (type: SinkRequest['type']) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      worker.postMessage({ id, type } satisfies SinkRequest);
    });

  return {
    url: `http://127.0.0.1:${port}`,
    async stats() {
      return (await ask('stats')).stats as SinkStats;
    },
    async receipts() {
      const { seqs, times } = (await ask('dump')).dump as SinkDump;
      const first = new Map<number, number>();
      for (let i = 0; i < seqs.length; i++) {
        const seq = seqs[i] as number;
        const at = times[i] as number;
        const seen = first.get(seq);
        if (seen === undefined || at < seen) first.set(seq, at);
      }
      return first;
    },
    async close() {
      await ask('close');
      await worker.terminate();
    },
  };
}
