/**
 * The manifests-directory source: every `*.yaml` / `*.yml` file under a directory (recursive)
 * is one snapshot of the resources, reloaded whole into the store whenever a file is added,
 * changed or removed, without a restart. The store diffs snapshots, so a reload only costs
 * the parsing.
 *
 * Changes are seen through `fs.watch` (recursive), debounced so that an editor's or a
 * ConfigMap update's burst of events makes one reload, and through a periodic rescan that
 * compares each file's size and mtime, in case the watcher misses something (network file
 * systems, a directory replaced under it).
 *
 * Names starting with `.` are skipped: editors' temporary files, and the `..data` /
 * `..<timestamp>` directories of a mounted ConfigMap, whose files the top-level symlinks
 * already show. Symlinks to files are followed; symlinks to directories are not (no loops).
 */
import { ConfigError } from '../config.js';
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseManifests, type ManifestProblem } from './manifests.js';
import type { ResourceStore } from './store.js';
import { storedObjectKey, type Logger, type StoredObject } from './types.js';

export interface DirectorySourceOptions {
  logger?: Logger;
  /** Quiet time after the last file event before reloading (default 250 ms). */
  debounceMs?: number;
  /** How often the directory is rescanned for changes the watcher missed (default 10 s). */
  rescanIntervalMs?: number;
}

export interface DirectorySource {
  close(): Promise<void>;
}

interface ManifestFile {
  /** Relative to the directory, with `/` separators: how problems name the file. */
  name: string;
  absolutePath: string;
  size: number;
  mtimeMs: number;
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml']);

/** Loads the directory into the store, then keeps it in step; rejects if `dir` is not a directory. */
export async function startDirectorySource(
  dir: string,
  store: ResourceStore,
  opts: DirectorySourceOptions = {},
): Promise<DirectorySource> {
  const root = path.resolve(dir);
  const info = await stat(root).catch(() => undefined);
  if (!info) throw new ConfigError(`--config-dir: manifests directory ${root} does not exist`);
  if (!info.isDirectory()) throw new ConfigError(`--config-dir: ${root} is not a directory`);
  const { logger, debounceMs = 250, rescanIntervalMs = 10_000 } = opts;

  let fingerprint = '';
  let closed = false;
  let running: Promise<void> | undefined;
  let pending = false;
  let debounce: NodeJS.Timeout | undefined;

  async function reload(): Promise<void> {
    const files = await listManifestFiles(root);
    const { objects, problems } = await loadFiles(files);
    fingerprint = fingerprintOf(files);
    store.replaceAll(objects, problems);
    logger?.info({ dir: root, files: files.length, objects: objects.length, problems: problems.length }, 'manifests loaded');
    for (const problem of problems) logger?.warn({ ...problem }, 'manifest not loaded');
  }

  // One reload at a time; a request that arrives during one makes exactly one more.
  function requestReload(): void {
    if (closed) return;
    if (running) {
      pending = true;
      return;
    }
    running = (async () => {
      do {
        pending = false;
        try {
          await reload();
        } catch (err) {
          // The last good snapshot stays in the store: losing every Provider because the
          // directory was briefly unreadable would be worse than serving a stale one.
          logger?.error({ dir: root, err: describe(err) }, 'cannot reload manifests; keeping the last loaded ones');
        }
      } while (pending && !closed);
      running = undefined;
    })();
  }

  function scheduleReload(): void {
    clearTimeout(debounce);
    debounce = setTimeout(requestReload, debounceMs);
  }

  await reload();

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(root, { recursive: true }, scheduleReload);
    watcher.on('error', (err) => {
      logger?.warn({ dir: root, err: describe(err) }, 'manifests directory watch failed; relying on the periodic rescan');
      watcher?.close();
    });
  } catch (err) {
    logger?.warn({ dir: root, err: describe(err) }, 'cannot watch the manifests directory; relying on the periodic rescan');
  }

  const rescan = setInterval(() => {
    if (running) return;
    listManifestFiles(root).then(
      (files) => {
        if (fingerprintOf(files) !== fingerprint) requestReload();
      },
      (err: unknown) => logger?.error({ dir: root, err: describe(err) }, 'cannot rescan the manifests directory'),
    );
  }, rescanIntervalMs);
  rescan.unref();

  return {
    async close() {
      closed = true;
      clearInterval(rescan);
      clearTimeout(debounce);
      watcher?.close();
      await running;
    },
  };
}

async function listManifestFiles(root: string): Promise<ManifestFile[]> {
  const files: ManifestFile[] = [];
  async function walk(dir: string): Promise<void> {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const absolutePath = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        await walk(absolutePath);
        continue;
      }
      if (!MANIFEST_EXTENSIONS.has(path.extname(entry.name).toLowerCase())) continue;
      if (!entry.isFile() && !entry.isSymbolicLink()) continue;
      const info = await stat(absolutePath).catch(() => undefined); // gone already, or a dangling link
      if (!info?.isFile()) continue;
      const name = path.relative(root, absolutePath).split(path.sep).join('/');
      files.push({ name, absolutePath, size: info.size, mtimeMs: info.mtimeMs });
    }
  }
  await walk(root);
  return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Parses every file, in name order. An object defined twice is a problem; the later
 * definition wins, as the later of two `kubectl apply`s would.
 */
async function loadFiles(files: readonly ManifestFile[]): Promise<{ objects: StoredObject[]; problems: ManifestProblem[] }> {
  const byKey = new Map<string, { object: StoredObject; file: string }>();
  const problems: ManifestProblem[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file.absolutePath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed since the listing
      problems.push({ file: file.name, message: `cannot read the file: ${describe(err)}` });
      continue;
    }
    const parsed = parseManifests(text, file.name);
    problems.push(...parsed.problems);
    for (const object of parsed.objects) {
      const key = storedObjectKey(object);
      const earlier = byKey.get(key);
      if (earlier) {
        const { kind, metadata } = object;
        problems.push({
          file: file.name,
          message: `${kind} ${metadata.namespace}/${metadata.name} is also defined in ${earlier.file}; the definition in ${file.name} wins`,
        });
      }
      byKey.set(key, { object, file: file.name });
    }
  }
  return { objects: [...byKey.values()].map((entry) => entry.object), problems };
}

function fingerprintOf(files: readonly ManifestFile[]): string {
  return files.map((f) => `${f.name}\u0000${f.size}\u0000${f.mtimeMs}`).join('\n');
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
