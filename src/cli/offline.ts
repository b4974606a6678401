/**
 * A manifests directory loaded the way `herald serve --config-dir` loads it (the same listing,
 * reading limits, parser, validation and resource store), once and without watching, for
 * `herald validate` and `herald explain <dir>`. Also where each object was written (file and
 * document), so that a problem found on a resource can point at its manifest.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { DEFAULT_MANIFEST_LIMITS, listManifestFiles, loadManifestFiles } from '../resources/manifest-files.js';
import type { ManifestProblem } from '../resources/manifests.js';
import { ResourceStore } from '../resources/store.js';
import { ReceiverRegistry } from '../receivers/registry.js';
import type { StoredObject } from '../api/types.js';
import { UsageError } from './errors.js';

export interface Location {
  file: string;
  /** 1-based position of the document in the file. */
  document: number;
}

export interface LoadedDirectory {
  root: string;
  store: ResourceStore;
  objects: StoredObject[];
  files: number;
  /** What the loader refused (file, document, message). */
  problems: ManifestProblem[];
  /** Where `Kind namespace/name` was defined (the last definition, which wins). */
  locate(kind: string, namespace: string, name: string): Location | undefined;
}

export async function loadDirectory(dir: string, opts: { noCrossNamespaceRefs?: boolean } = {}): Promise<LoadedDirectory> {
  const root = path.resolve(dir);
  const info = await stat(root).catch(() => undefined);
  if (!info) throw new UsageError(`manifests directory ${root} does not exist`);
  if (!info.isDirectory()) throw new UsageError(`${root} is not a directory`);

  const limits = DEFAULT_MANIFEST_LIMITS;
  const listing = await listManifestFiles(root, limits);
  const loaded = await loadManifestFiles(listing.files, limits);
  const problems = [...listing.problems, ...loaded.problems].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  const store = new ResourceStore({ noCrossNamespaceRefs: opts.noCrossNamespaceRefs ?? false });
  const receivers = new ReceiverRegistry(store);
  store.addStatusSource(() => receivers.statuses());
  store.replaceAll(loaded.objects, problems);

  const locations = new Map<string, Location>();
  for (const file of listing.files) {
    // Files the loader refused as too large are not read again here.
    if (file.size > limits.maxFileBytes) continue;
    const text = await readFile(file.realPath, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    parseAllDocuments(text).forEach((doc, i) => {
      let raw: unknown;
      try {
        raw = doc.toJS();
      } catch {
        return; // the loader reported it
      }
      const items = isRecord(raw) && raw.kind === 'List' && Array.isArray(raw.items) ? raw.items : [raw];
      for (const item of items) {
        if (!isRecord(item) || typeof item.kind !== 'string' || !isRecord(item.metadata)) continue;
        const { name, namespace } = item.metadata;
        if (typeof name !== 'string') continue;
        const ns = typeof namespace === 'string' && namespace !== '' ? namespace : 'default';
        locations.set(`${item.kind}|${ns}|${name}`, { file: file.name, document: i + 1 });
      }
    });
  }
  return {
    root,
    store,
    objects: loaded.objects,
    files: listing.files.length,
    problems,
    locate: (kind, namespace, name) => locations.get(`${kind}|${namespace}|${name}`),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
