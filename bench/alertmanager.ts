/**
 * Prometheus Alertmanager as a peer in the benchmark: Debian's `prometheus-alertmanager`
 * (never installed by the benchmark), started on free loopback ports with clustering off, a
 * temporary storage directory and one route to a webhook receiver (the benchmark's sink).
 * `group_by: ['...']` makes every alert its own group, so each alert is notified on its own
 * after `group_wait` (0s: at once); `group_interval` and `repeat_interval` are long so that no
 * group is re-evaluated or re-notified during the run (a short group_interval would only make
 * Alertmanager re-check tens of thousands of finished groups every interval).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../test/support/herald.js';
import { makeTempDir } from '../test/support/tmp.js';

export const ALERTMANAGER_BINARY = '/usr/bin/prometheus-alertmanager';

export interface AlertmanagerProcess {
  pid: number;
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  output: string[];
  /** SIGTERM (SIGKILL after 10 s) to this PID, then removes the temporary directory. */
  stop(): Promise<void>;
}

export function alertmanagerConfig(webhookUrl: string): string {
  return `route:
  receiver: bench-sink
  group_by: ['...']
  group_wait: 0s
  group_interval: 1h
  repeat_interval: 24h
receivers:
  - name: bench-sink
    webhook_configs:
      - url: ${JSON.stringify(webhookUrl)}
        send_resolved: false
`;
}

/** The body for each seq: one alert whose labels carry `bench-<run>-<seq>` (unique per alert). */
export function alertBodyFactory(runId: string): (seq: number) => string {
  return (seq) =>
    `[{"labels":{"alertname":"HeraldBench","namespace":"flux-system","name":"bench","token":"bench-${runId}-${seq}"},` +
    `"annotations":{"summary":"Reconciliation finished in 1.2s, next run in 10m0s"}}]`;
}

export function alertmanagerInstalled(binary = ALERTMANAGER_BINARY): boolean {
  return existsSync(binary);
}

export async function startAlertmanager(webhookUrl: string, binary = ALERTMANAGER_BINARY): Promise<AlertmanagerProcess> {
  const dir = await makeTempDir('herald-bench-am-');
  const configFile = join(dir, 'alertmanager.yml');
  await writeFile(configFile, alertmanagerConfig(webhookUrl));
  const port = await freePort();
  const child = spawn(
    binary,
    [
      `--config.file=${configFile}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (chunk: Buffer) => {
      output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      if (output.length > 1000) output.splice(0, output.length - 1000);
    });
  }
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const running = () => child.exitCode === null && child.signalCode === null;
  const stop = async () => {
    if (running()) child.kill('SIGTERM');
    const timer = setTimeout(() => running() && child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    await rm(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (!running()) {
      await stop();
      throw new Error(`alertmanager exited with ${child.exitCode ?? child.signalCode}:\n${output.join('\n')}`);
    }
    try {
      if ((await fetch(`${url}/-/ready`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`alertmanager did not become ready within 20s:\n${output.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { pid: child.pid as number, url, output, stop };
}
