import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readDirectoryAhead, startDirectorySource, type DirectorySource } from '../../src/resources/dir-source.js';
import { ResourceStore } from '../../src/resources/store.js';
import { makeTempDir } from '../support/tmp.js';
import { untilPasses } from '../support/wait.js';

const NS = 'flux-system';

function providerYaml(name: string, address = 'https://hooks.example.com/x'): string {
  return `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata:
  name: ${name}
  namespace: ${NS}
spec:
  type: generic
  address: ${address}
`;
}

function alertYaml(name: string, providerName: string): string {
  return `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata:
  name: ${name}
  namespace: ${NS}
spec:
  providerRef:
    name: ${providerName}
  eventSources:
    - kind: Kustomization
      name: '*'
`;
}

/** File watching is asynchronous: checks are polled, generously. */
const eventually = (check: () => void, timeoutMs = 10_000) => untilPasses(check, { timeoutMs, intervalMs: 50 });

let dir: string;
let store: ResourceStore;
let source: DirectorySource | undefined;

beforeEach(async () => {
  dir = await makeTempDir('herald-manifests-');
  store = new ResourceStore();
});

afterEach(async () => {
  await source?.close();
  source = undefined;
  await rm(dir, { recursive: true, force: true });
});

const names = (kind: 'Provider' | 'Alert') =>
  store
    .statuses()
    .resources.filter((s) => s.kind === kind)
    .map((s) => s.name);

describe('startDirectorySource', () => {
  it('fails clearly when the directory is missing or not a directory', async () => {
    const missing = path.join(dir, 'nope');
    await expect(startDirectorySource(missing, store)).rejects.toThrow(`manifests directory ${missing} does not exist`);
    const file = path.join(dir, 'file.yaml');
    await writeFile(file, '');
    await expect(startDirectorySource(file, store)).rejects.toThrow('is not a directory');
    expect(store.loaded).toBe(false);
  });

  it('takes its first load from a read begun ahead, and reports that read\'s failure as a failed first load', async () => {
    await writeFile(path.join(dir, 'providers.yaml'), providerYaml('hook'));
    const ahead = readDirectoryAhead(dir, { parseInWorker: false });
    await ahead.read;
    // Written after the read, before the watch begins: the first load is what was read ahead,
    // and the rescan finds the file the listing read ahead did not have.
    await writeFile(path.join(dir, 'alerts.yaml'), alertYaml('a', 'hook'));
    source = await startDirectorySource(dir, store, { parseInWorker: false, firstRead: ahead, rescanIntervalMs: 50 });
    expect(names('Provider')).toEqual(['hook']);
    expect(names('Alert')).toEqual([]);
    await eventually(() => expect(names('Alert')).toEqual(['a']));
    await source.close();
    source = undefined;

    const failing = readDirectoryAhead(dir, { parseInWorker: false, limits: { maxFiles: 1 } });
    await expect(startDirectorySource(dir, new ResourceStore(), { parseInWorker: false, firstRead: failing })).rejects.toThrow(
      'more than 1 manifest files under',
    );
  });

  it('says a missing directory is missing, even with a read begun ahead (whose failure is nobody\'s unhandled rejection)', async () => {
    const missing = path.join(dir, 'nope');
    const ahead = readDirectoryAhead(missing, { parseInWorker: false });
    await expect(startDirectorySource(missing, store, { firstRead: ahead })).rejects.toThrow(`manifests directory ${missing} does not exist`);
    await expect(ahead.read).rejects.toThrow();
  });

  it('loads every .yaml and .yml file below the directory, skipping dot-names and other files', async () => {
    await mkdir(path.join(dir, 'team-a', 'nested'), { recursive: true });
    await mkdir(path.join(dir, '..data'));
    await writeFile(path.join(dir, 'providers.yaml'), providerYaml('hook'));
    await writeFile(path.join(dir, 'team-a', 'nested', 'alerts.YML'), alertYaml('a', 'hook'));
    await writeFile(path.join(dir, 'team-a', 'notes.txt'), providerYaml('ignored-txt'));
    await writeFile(path.join(dir, '.hidden.yaml'), providerYaml('ignored-hidden'));
    // A mounted ConfigMap: the real files live under ..data, the top level has symlinks to them.
    await writeFile(path.join(dir, '..data', 'cm.yaml'), providerYaml('from-configmap'));
    await symlink(path.join(dir, '..data', 'cm.yaml'), path.join(dir, 'cm.yaml'));

    source = await startDirectorySource(dir, store, { parseInWorker: false });
    expect(store.loaded).toBe(true);
    expect(names('Provider')).toEqual(['from-configmap', 'hook']);
    expect(names('Alert')).toEqual(['a']);
    expect(store.statuses().problems).toEqual([]);
  });

  it('shows unknown fields as warnings on the resource', async () => {
    await writeFile(path.join(dir, 'alerts.yaml'), `${alertYaml('a', 'hook')}  exclusionlist: ['^x']\n`);
    await writeFile(path.join(dir, 'providers.yaml'), providerYaml('hook'));
    source = await startDirectorySource(dir, store, { parseInWorker: false });
    const alert = store.statuses().resources.find((s) => s.kind === 'Alert');
    expect(alert).toMatchObject({ ready: { status: 'True' }, warnings: ['unknown field spec.exclusionlist is ignored (did you mean spec.exclusionList?)'] });
    expect(store.statuses().problems).toEqual([]);
  });

  it('reports unparseable documents and duplicates with the file, relative to the directory', async () => {
    await mkdir(path.join(dir, 'sub'));
    await writeFile(path.join(dir, 'a.yaml'), providerYaml('hook'));
    await writeFile(path.join(dir, 'sub', 'b.yaml'), `${providerYaml('hook', 'https://second.example.com')}---\nkey: : bad\n`);
    source = await startDirectorySource(dir, store, { parseInWorker: false });
    expect(store.statuses().problems).toEqual([
      { file: 'sub/b.yaml', document: 2, message: expect.stringMatching(/^invalid YAML at line/) },
      { file: 'sub/b.yaml', message: 'Provider flux-system/hook is also defined in a.yaml; the definition in sub/b.yaml wins' },
    ]);
    expect(store.provider(NS, 'hook')?.config?.address).toBe('https://second.example.com');
  });

  it('picks up an added, a changed and a removed file without a restart', async () => {
    await writeFile(path.join(dir, 'providers.yaml'), providerYaml('hook'));
    source = await startDirectorySource(dir, store, { parseInWorker: false, debounceMs: 50 });

    await writeFile(path.join(dir, 'alerts.yaml'), alertYaml('a', 'hook'));
    await eventually(() => expect(names('Alert')).toEqual(['a']));

    await writeFile(path.join(dir, 'providers.yaml'), providerYaml('hook', 'https://changed.example.com'));
    await eventually(() => expect(store.provider(NS, 'hook')?.config?.address).toBe('https://changed.example.com'));

    await rm(path.join(dir, 'providers.yaml'));
    await eventually(() => expect(names('Provider')).toEqual([]));
    expect(store.statuses().resources.find((s) => s.name === 'a')?.ready.reason).toBe('ProviderNotFound');
  });

  it('picks up files in a new subdirectory', async () => {
    source = await startDirectorySource(dir, store, { parseInWorker: false, debounceMs: 50 });
    await mkdir(path.join(dir, 'later', 'deeper'), { recursive: true });
    await writeFile(path.join(dir, 'later', 'deeper', 'p.yaml'), providerYaml('late'));
    await eventually(() => expect(names('Provider')).toEqual(['late']));
  });

  it('falls back on the periodic rescan when no watch event comes through', async () => {
    await writeFile(path.join(dir, 'providers.yaml'), providerYaml('hook'));
    // A debounce longer than the test: only the rescan can bring the change in.
    source = await startDirectorySource(dir, store, { parseInWorker: false, debounceMs: 60_000, rescanIntervalMs: 100 });
    await writeFile(path.join(dir, 'more.yaml'), providerYaml('second'));
    await eventually(() => expect(names('Provider')).toEqual(['hook', 'second']));
  });

  it('keeps the last snapshot when the directory disappears', async () => {
    await writeFile(path.join(dir, 'providers.yaml'), providerYaml('hook'));
    source = await startDirectorySource(dir, store, { parseInWorker: false, debounceMs: 20, rescanIntervalMs: 50 });
    await rm(dir, { recursive: true, force: true });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(names('Provider')).toEqual(['hook']);
  });

  it('stops watching once closed', async () => {
    source = await startDirectorySource(dir, store, { parseInWorker: false, debounceMs: 20, rescanIntervalMs: 50 });
    await source.close();
    await writeFile(path.join(dir, 'providers.yaml'), providerYaml('hook'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(names('Provider')).toEqual([]);
  });

  it('refuses a file over the size limit and files past the total, naming the file and the limit', async () => {
    await writeFile(path.join(dir, 'a.yaml'), providerYaml('first'));
    await writeFile(path.join(dir, 'b.yaml'), `${providerYaml('too-big')}#${'x'.repeat(2000)}\n`);
    await writeFile(path.join(dir, 'c.yaml'), providerYaml('third'));
    await writeFile(path.join(dir, 'd.yaml'), providerYaml('fourth'));
    const size = providerYaml('third').length;
    source = await startDirectorySource(dir, store, {
      parseInWorker: false,
      limits: { maxFileBytes: 1000, maxTotalBytes: size * 2 + 10 },
    });
    expect(names('Provider')).toEqual(['first', 'third']);
    expect(store.statuses().problems).toEqual([
      { file: 'b.yaml', message: expect.stringMatching(/^the file is \d+ bytes, over the limit of 1000 bytes per manifest file; not read$/) },
      { file: 'd.yaml', message: expect.stringContaining(`would pass the limit of ${size * 2 + 10} bytes for all files`) },
    ]);
  });

  it('refuses the whole reload past the file count limit, keeping the last snapshot', async () => {
    await writeFile(path.join(dir, 'a.yaml'), providerYaml('hook'));
    source = await startDirectorySource(dir, store, { parseInWorker: false, debounceMs: 20, limits: { maxFiles: 2 } });
    await writeFile(path.join(dir, 'b.yaml'), providerYaml('second'));
    await eventually(() => expect(names('Provider')).toEqual(['hook', 'second']));
    await writeFile(path.join(dir, 'c.yaml'), providerYaml('third'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(names('Provider')).toEqual(['hook', 'second']);
  });

  it("follows a ConfigMap's relative symlinks and refuses symlinks out of the directory", async () => {
    const outside = await makeTempDir('herald-outside-');
    await writeFile(path.join(outside, 'p.yaml'), providerYaml('outside'));
    await mkdir(path.join(dir, '..2026_01_01_00_00_00.1'));
    await writeFile(path.join(dir, '..2026_01_01_00_00_00.1', 'cm.yaml'), providerYaml('from-configmap'));
    await symlink('..2026_01_01_00_00_00.1', path.join(dir, '..data'));
    await symlink('..data/cm.yaml', path.join(dir, 'cm.yaml'));
    await symlink(path.join(outside, 'p.yaml'), path.join(dir, 'absolute.yaml'));
    await symlink(path.relative(dir, path.join(outside, 'p.yaml')), path.join(dir, 'relative.yaml'));
    await mkdir(path.join(dir, 'sub'));
    await symlink('../../' + path.basename(outside) + '/p.yaml', path.join(dir, 'sub', 'up.yaml'));
    source = await startDirectorySource(dir, store, { parseInWorker: false });
    expect(names('Provider')).toEqual(['from-configmap']);
    const refused = 'is a symbolic link to a file outside the config directory; not read';
    expect(store.statuses().problems).toEqual([
      { file: 'absolute.yaml', message: refused },
      { file: 'relative.yaml', message: refused },
      { file: 'sub/up.yaml', message: refused },
    ]);
    await rm(outside, { recursive: true, force: true });
  });

  it('lists at most 100 problems per file and counts the rest', async () => {
    await writeFile(path.join(dir, 'broken.yaml'), Array.from({ length: 150 }, (_, i) => `kind: Nothing${i}\n`).join('---\n'));
    source = await startDirectorySource(dir, store, { parseInWorker: false });
    const { problems } = store.statuses();
    expect(problems).toHaveLength(101);
    expect(problems[100]).toEqual({ file: 'broken.yaml', message: '50 more problems in this file are not listed' });
  });
});

describe('startDirectorySource at scale', () => {
  it('loads 10,000 Alerts in one file, every one Ready and in the matcher index, and counts them for /metrics', { timeout: 120_000 }, async () => {
    const alerts = Array.from({ length: 10_000 }, (_, i) => alertYaml(`alert-${i}`, 'hook'));
    await writeFile(path.join(dir, 'providers.yaml'), providerYaml('hook'));
    await writeFile(path.join(dir, 'alerts.yaml'), alerts.join('---\n'));
    const started = performance.now();
    source = await startDirectorySource(dir, store, { parseInWorker: false });
    const ms = performance.now() - started;
    expect(store.alerts.size).toBe(10_000);
    expect(store.readyCounts()).toEqual(
      expect.arrayContaining([
        { kind: 'Provider', ready: 'True', count: 1 },
        { kind: 'Alert', ready: 'True', count: 10_000 },
      ]),
    );
    // Generous, for a loaded test machine: the bench times it (about a second on a quiet one).
    expect(ms).toBeLessThan(60_000);
  });
});
