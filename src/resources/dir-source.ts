/**
 * The manifests-directory source: every manifest file under a directory (`manifest-files.ts`
 * says which, and within which limits) is one snapshot of the resources, reloaded whole into
 * the store whenever a file is added, changed or removed, without a restart.
 *
 * A reload never holds up the event loop for long: the files are read and parsed in a worker
 * thread, and the store builds the next state aside in slices, then swaps it in at once; until
 * then events match the previous snapshot. A reload that fails as a whole (an unreadable directory,
 * too many files, a parser that runs out of time or memory) keeps the previous snapshot.
 *
 * Changes are seen through `fs.watch` (recursive), debounced so that an editor's or a
 * ConfigMap update's burst of events makes one reload, and through a periodic rescan that
 * compares each file's size and mtime, in case the watcher misses something (network file
 * systems, a directory replaced under it).
 */
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  DEFAULT_MANIFEST_LIMITS,
  listManifestFiles,
  loadManifestFiles,
  type LoadedManifests,
  type ManifestLimits,
  type ManifestListing,
} from './manifest-files.js';
import type { ManifestWorkerInput, ManifestWorkerMessage } from './manifest-worker.js';
import type { ResourceStore } from './store.js';
import type { Logger, StoredObject } from '../api/types.js';
import type { ManifestProblem } from './manifests.js';
import { errorMessage } from '../common/errors.js';

export interface DirectorySourceOptions {
  logger?: Logger;
  /** Quiet time after the last file event before reloading (default 250 ms). */
  debounceMs?: number;
  /** How often the directory is rescanned for changes the watcher missed (default 10 s). */
  rescanIntervalMs?: number;
  /** Size and count limits (default `DEFAULT_MANIFEST_LIMITS`). */
  limits?: Partial<ManifestLimits>;
  /**
   * Parse in a worker thread (default). `false` parses on the calling thread, holding up its
   * event loop for as long as parsing takes: for tests that run the TypeScript sources, which a
   * worker thread cannot load.
   */
  parseInWorker?: boolean;
  /**
   * The first load's read, begun by `readDirectoryAhead` on the same directory and options:
   * the service starts it before loading its own modules, so that parsing runs meanwhile.
   */
  firstRead?: DirectoryReadAhead;
}

export interface DirectorySource {
  close(): Promise<void>;
}

/** How long the parser may take, and how much heap it may use, before a reload is given up. */
const PARSE_TIMEOUT_MS = 120_000;
const PARSE_HEAP_MB = 1024;

/**
 * `--config-dir` names no directory: the operator's mistake, reported like a flag error (message
 * only, exit 2). Its own class because resources sit below config and may not import it.
 */
export class ManifestDirectoryError extends Error {}

/** One read of the directory: what a reload puts in the store. */
interface DirectoryRead {
  listing: ManifestListing;
  loaded: LoadedManifests;
}

/** A read begun ahead of `startDirectorySource` (see `firstRead`). */
export interface DirectoryReadAhead {
  readonly read: Promise<DirectoryRead>;
}

/**
 * Begins reading and parsing `dir` (in a worker thread, unless `parseInWorker` is false) for
 * `startDirectorySource`'s first load. A failure is reported there, as a failed first load,
 * after the checks that `dir` is a directory; until then it is nobody's unhandled rejection.
 */
export function readDirectoryAhead(dir: string, opts: Pick<DirectorySourceOptions, 'limits' | 'parseInWorker'> = {}): DirectoryReadAhead {
  const read = readDirectory(path.resolve(dir), { ...DEFAULT_MANIFEST_LIMITS, ...opts.limits }, opts.parseInWorker ?? true, () => {});
  read.catch(() => {});
  return { read };
}

async function readDirectory(root: string, limits: ManifestLimits, parseInWorker: boolean, started: (worker: Worker) => void): Promise<DirectoryRead> {
  const listing = await listManifestFiles(root, limits);
  const loaded = parseInWorker ? await loadInWorker({ files: listing.files, limits }, started) : await loadManifestFiles(listing.files, limits);
  return { listing, loaded };
}

/** Loads the directory into the store, then keeps it in step; rejects if `dir` is not a directory. */
export async function startDirectorySource(
  dir: string,
  store: ResourceStore,
  opts: DirectorySourceOptions = {},
): Promise<DirectorySource> {
  const root = path.resolve(dir);
  const info = await stat(root).catch(() => undefined);
  if (!info) throw new ManifestDirectoryError(`--config-dir: manifests directory ${root} does not exist`);
  if (!info.isDirectory()) throw new ManifestDirectoryError(`--config-dir: ${root} is not a directory`);
  const { logger, debounceMs = 250, rescanIntervalMs = 10_000, parseInWorker = true } = opts;
  const limits: ManifestLimits = { ...DEFAULT_MANIFEST_LIMITS, ...opts.limits };

  let fingerprint = '';
  let closed = false;
  let running: Promise<void> | undefined;
  let pending = false;
  let debounce: NodeJS.Timeout | undefined;
  /** The worker parsing for the reload under way, stopped by `close`. */
  let parser: Worker | undefined;

  async function reload(ahead?: DirectoryReadAhead): Promise<void> {
    const { listing, loaded } = await (ahead?.read ?? readDirectory(root, limits, parseInWorker, (worker) => (parser = worker)));
    if (closed) return;
    const problems = [...listing.problems, ...loaded.problems].sort(byFile);
    await store.replaceAllGradually(loaded.objects, problems);
    fingerprint = listing.fingerprint;
    const objects = loaded.objects.length;
    logger?.info({ dir: root, files: listing.files.length, objects, problems: problems.length }, 'manifests loaded');
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
          if (closed) break; // the parser was stopped by close()
          // The last good snapshot stays in the store: losing every Provider because the
          // directory was briefly unreadable would be worse than serving a stale one.
          logger?.error({ dir: root, err: errorMessage(err) }, 'cannot reload manifests; keeping the last loaded ones');
        }
      } while (pending && !closed);
      running = undefined;
    })();
  }

  function scheduleReload(): void {
    clearTimeout(debounce);
    debounce = setTimeout(requestReload, debounceMs);
  }

  await reload(opts.firstRead);

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(root, { recursive: true }, scheduleReload);
    watcher.on('error', (err) => {
      logger?.warn({ dir: root, err: errorMessage(err) }, 'manifests directory watch failed; relying on the periodic rescan');
      watcher?.close();
    });
  } catch (err) {
    logger?.warn({ dir: root, err: errorMessage(err) }, 'cannot watch the manifests directory; relying on the periodic rescan');
  }

  const rescan = setInterval(() => {
    if (running) return;
    listManifestFiles(root, limits).then(
      (listing) => {
        if (listing.fingerprint !== fingerprint) requestReload();
      },
      (err: unknown) => logger?.error({ dir: root, err: errorMessage(err) }, 'cannot rescan the manifests directory'),
    );
  }, rescanIntervalMs);
  rescan.unref();

  return {
    async close() {
      closed = true;
      clearInterval(rescan);
      clearTimeout(debounce);
      watcher?.close();
      // A reload under way stops at once, instead of holding up shutdown while it parses.
      await parser?.terminate();
      await running;
    },
  };
}

/** Reads and parses the files in a worker thread, bounded in time and heap; rejects if it fails. */
function loadInWorker(input: ManifestWorkerInput, started: (worker: Worker) => void): Promise<LoadedManifests> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./manifest-worker.js', import.meta.url), {
      workerData: input,
      resourceLimits: { maxOldGenerationSizeMb: PARSE_HEAP_MB },
    });
    started(worker);
    const objects: StoredObject[] = [];
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      outcome();
    };
    const timer = setTimeout(() => settle(() => reject(new Error(`parsing the manifests took longer than ${PARSE_TIMEOUT_MS} ms`))), PARSE_TIMEOUT_MS);
    worker.on('message', (message: ManifestWorkerMessage) => {
      if ('objects' in message) {
        objects.push(...message.objects);
        setImmediate(() => worker.postMessage('next'));
      } else settle(() => resolve({ objects, problems: message.problems }));
    });
    // e.g. ERR_WORKER_OUT_OF_MEMORY: the worker is gone, Herald is not.
    worker.on('error', (err) => settle(() => reject(err)));
    worker.on('exit', (code) => settle(() => reject(new Error(`the manifest parser stopped (exit code ${code}) before it was done`))));
  });
}

function byFile(a: ManifestProblem, b: ManifestProblem): number {
  return a.file < b.file ? -1 : a.file > b.file ? 1 : 0;
}

