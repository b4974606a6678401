/**
 * The worker thread that reads and parses the manifest files for the directory source, so that
 * a large manifest set never holds up the event loop that serves `POST /`. It takes the listed
 * files and the limits as its `workerData`, posts the objects in chunks (each is copied into
 * the main thread as its own task, the next once the main thread asks for it, so that requests
 * are served in between), then the problems.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadManifestFiles, type LoadedManifests, type ManifestFile, type ManifestLimits } from './manifest-files.js';

export interface ManifestWorkerInput {
  files: ManifestFile[];
  limits: ManifestLimits;
}

export type ManifestWorkerMessage = { objects: LoadedManifests['objects'] } | { problems: LoadedManifests['problems'] };

/** Objects per message: small enough that copying one into the main thread takes about a millisecond. */
const CHUNK = 200;

if (parentPort) {
  const port = parentPort;
  const { files, limits } = workerData as ManifestWorkerInput;
  const { objects, problems } = await loadManifestFiles(files, limits);
  // One chunk at a time, the next when the main thread asks for it: chunks posted at once
  // would be copied in one go, in one task.
  const nextRequest = () => new Promise<void>((resolve) => port.once('message', () => resolve()));
  for (let i = 0; i < objects.length; i += CHUNK) {
    port.postMessage({ objects: objects.slice(i, i + CHUNK) } satisfies ManifestWorkerMessage);
    await nextRequest();
  }
  port.postMessage({ problems } satisfies ManifestWorkerMessage);
}
