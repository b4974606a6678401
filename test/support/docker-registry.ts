/**
 * Debian's `docker-registry` (distribution 2.8) on a free loopback port with a temporary
 * filesystem root, and pushing tags to it over plain HTTP without docker: a config blob
 * upload, then an OCI manifest per tag (distinct per tag through an annotation).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from './herald.js';
import { makeTempDir } from './tmp.js';

export const dockerRegistryPath: string | undefined = (() => {
  const which = spawnSync('sh', ['-c', 'command -v docker-registry'], { encoding: 'utf8' });
  return which.status === 0 ? which.stdout.trim() || undefined : undefined;
})();

export interface DockerRegistry {
  host: string;
  url: string;
  /** Pushes one tag; resolves with the manifest digest the registry reports. */
  push(repository: string, tag: string): Promise<string>;
  stop(): Promise<void>;
}

const sha256 = (data: string | Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

export async function startDockerRegistry(): Promise<DockerRegistry> {
  if (!dockerRegistryPath) throw new Error('docker-registry is not installed');
  const dir = await makeTempDir('herald-registry-');
  const port = await freePort();
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  const output: string[] = [];
  const child: ChildProcess = spawn(dockerRegistryPath, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => output.push(d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await fetch(`${url}/v2/`).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`docker-registry did not start on ${url}:\n${output.join('').slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  const configBlob = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
  const configDigest = sha256(configBlob);

  async function push(repository: string, tag: string): Promise<string> {
    const start = await fetch(`${url}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
    if (start.status !== 202) throw new Error(`upload start: ${start.status} ${await start.text()}`);
    const location = new URL(start.headers.get('location') ?? '', url);
    location.searchParams.set('digest', configDigest);
    const put = await fetch(location, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: configBlob });
    if (put.status !== 201) throw new Error(`blob put: ${put.status} ${await put.text()}`);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: Buffer.byteLength(configBlob) },
      layers: [],
      annotations: { 'org.opencontainers.image.version': tag },
    });
    const res = await fetch(`${url}/v2/${repository}/manifests/${tag}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: manifest,
    });
    if (res.status !== 201) throw new Error(`manifest put: ${res.status} ${await res.text()}`);
    return res.headers.get('docker-content-digest') ?? sha256(manifest);
  }

  return { host: `127.0.0.1:${port}`, url, push, stop };
}
