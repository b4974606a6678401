/** Kubernetes mode's flags, configuration loading, and the pure helpers of the source. */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { loadKubeConfig, podNamespace, statusCodeOf } from '../../src/resources/kubernetes/client.js';
import { backoffDelay } from '../../src/resources/kubernetes/informer.js';
import { convert } from '../../src/resources/kubernetes/source.js';
import { makeTempDir } from '../support/tmp.js';

describe('flags', () => {
  it('--kubernetes selects the Kubernetes source without a config dir', () => {
    expect(loadConfig(['--kubernetes'], {})).toMatchObject({ kubernetes: true, configDir: undefined, watchNamespace: undefined });
    expect(loadConfig(['--kubernetes', '--watch-namespace', 'team-a'], {})).toMatchObject({ watchNamespace: 'team-a' });
    expect(loadConfig([], { HERALD_KUBERNETES: 'true', HERALD_WATCH_NAMESPACE: 'flux-system' })).toMatchObject({
      kubernetes: true,
      watchNamespace: 'flux-system',
    });
  });

  it('refuses both sources at once, and neither', () => {
    expect(() => loadConfig(['--kubernetes', '--config-dir', 'x'], {})).toThrow(/--config-dir and --kubernetes/);
    expect(() => loadConfig(['--kubernetes'], { HERALD_CONFIG_DIR: 'x' })).toThrow(ConfigError);
    expect(() => loadConfig([], {})).toThrow(/--config-dir DIR .* or --kubernetes/);
  });

  it('refuses --watch-namespace without --kubernetes', () => {
    expect(() => loadConfig(['--config-dir', 'x', '--watch-namespace', 'a'], {})).toThrow(/--watch-namespace only applies with --kubernetes/);
  });

  it('keeps manifests mode as it was', () => {
    expect(loadConfig(['--config-dir', 'x'], {})).toMatchObject({ kubernetes: false, configDir: 'x' });
  });
});

describe('loadKubeConfig', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    vi.unstubAllEnvs();
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  it('reads the file KUBECONFIG names', async () => {
    const dir = await makeTempDir('herald-kc-');
    dirs.push(dir);
    const file = join(dir, 'config');
    await writeFile(
      file,
      'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://k8s.example.com:6443"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
    );
    vi.stubEnv('KUBECONFIG', file);
    expect(loadKubeConfig().getCurrentCluster()?.server).toBe('https://k8s.example.com:6443');
  });

  it('is an error when there is no configuration at all (never localhost:8080)', async () => {
    const home = await makeTempDir('herald-home-');
    dirs.push(home);
    vi.stubEnv('KUBECONFIG', '');
    vi.stubEnv('KUBERNETES_SERVICE_HOST', '');
    vi.stubEnv('HOME', home);
    expect(() => loadKubeConfig()).toThrow(/no Kubernetes configuration/);
  });
});

describe('helpers', () => {
  it('podNamespace prefers HERALD_POD_NAMESPACE, else flux-system outside a pod', () => {
    expect(podNamespace({ HERALD_POD_NAMESPACE: 'herald' })).toBe('herald');
    expect(podNamespace({})).toBe('flux-system');
  });

  it('backoffDelay doubles up to the ceiling, with ±20 % jitter', () => {
    const opts = { initialMs: 1000, maxMs: 30_000 };
    expect([1, 2, 3, 6, 10].map((n) => backoffDelay(n, opts, () => 0.5))).toEqual([1000, 2000, 4000, 30_000, 30_000]);
    expect(backoffDelay(1, opts, () => 0)).toBe(800);
    expect(backoffDelay(1, opts, () => 1)).toBe(1200);
  });

  it('statusCodeOf reads API exceptions and watch errors', () => {
    expect(statusCodeOf(Object.assign(new Error('Gone'), { statusCode: 410 }))).toBe(410);
    expect(statusCodeOf(new Error('x'))).toBeUndefined();
  });

  it('convert drops the resourceVersion and decodes Secrets, typed objects included', () => {
    const result = convert({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's', namespace: 'n', resourceVersion: '42', uid: 'u' },
      data: { token: Buffer.from('t0k3n').toString('base64') },
    } as never);
    expect(result).toEqual({ object: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'n', uid: 'u' }, data: { token: 't0k3n' } } });
  });
});
