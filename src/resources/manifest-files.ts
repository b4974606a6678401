/**
 * Finding and reading the manifest files of a config directory, within bounds: how many files,
 * how many bytes each and in all, and no symlink out of the directory. Used by the directory
 * source, inside a worker thread (`manifest-worker.ts`) or not.
 *
 * What is found: every `*.yaml` / `*.yml` file under the directory (recursive), except names
 * starting with `.` (editors' temporary files, and the `..data` / `..<timestamp>` directories of
 * a mounted ConfigMap, whose files the top-level symlinks already show). A symlink to a file is
 * followed when its target is inside the directory (a ConfigMap's `file.yaml -> ..data/file.yaml`,
 * `..data -> ..2024_…`), and refused, with a problem naming it, when the target is outside.
 * Symlinks to directories are not followed (no loops).
 */
import { constants } from 'node:fs';
import { open, opendir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ManifestProblem } from './manifests.js';
import { storedObjectKey, type StoredObject } from '../api/types.js';

export interface ManifestLimits {
  /** Bytes one file may hold; a larger file is not read. */
  maxFileBytes: number;
  /** Bytes all files together may hold, read in name order; a file that would pass it is not read. */
  maxTotalBytes: number;
  /** Manifest files the directory may hold; with more, a reload is refused as a whole. */
  maxFiles: number;
}

export const DEFAULT_MANIFEST_LIMITS: ManifestLimits = {
  maxFileBytes: 4 * 1024 * 1024,
  maxTotalBytes: 32 * 1024 * 1024,
  maxFiles: 10_000,
};

export interface ManifestFile {
  /** Relative to the directory, with `/` separators: how problems name the file. */
  name: string;
  /** Where to read it: its path, or for a symlink its target's real path, inside the directory. */
  realPath: string;
  size: number;
  mtimeMs: number;
}

export interface ManifestListing {
  files: ManifestFile[];
  /** Files found but refused (symlinks out of the directory). */
  problems: ManifestProblem[];
  /** Changes when a file is added, removed, resized or touched: the periodic rescan compares it. */
  fingerprint: string;
}

export interface LoadedManifests {
  objects: StoredObject[];
  problems: ManifestProblem[];
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml']);

/** Problems listed per file (in the status and the logs, on every reload); the rest are counted. */
const MAX_PROBLEMS_PER_FILE = 100;

export async function listManifestFiles(root: string, limits: ManifestLimits): Promise<ManifestListing> {
  const realRoot = await realpath(root);
  const files: ManifestFile[] = [];
  const refused: Array<{ name: string; size: number; mtimeMs: number }> = [];
  const problems: ManifestProblem[] = [];
  let found = 0;

  async function walk(dir: string): Promise<void> {
    // opendir, not readdir: a directory of millions of entries is never held whole.
    for await (const entry of await opendir(dir)) {
      if (entry.name.startsWith('.')) continue;
      const absolutePath = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        await walk(absolutePath);
        continue;
      }
      if (!MANIFEST_EXTENSIONS.has(path.extname(entry.name).toLowerCase())) continue;
      if (!entry.isFile() && !entry.isSymbolicLink()) continue;
      if (++found > limits.maxFiles) {
        throw new Error(`more than ${limits.maxFiles} manifest files under ${root}; not reloading (the limit is ${limits.maxFiles})`);
      }
      // A plain file is inside by construction: the walk never follows a symlink to a directory.
      const target = entry.isSymbolicLink() ? await realpath(absolutePath).catch(() => undefined) : absolutePath;
      const info = target ? await stat(target).catch(() => undefined) : undefined; // gone already, or a dangling link
      if (!target || !info?.isFile()) continue;
      const name = path.relative(root, absolutePath).split(path.sep).join('/');
      if (entry.isSymbolicLink() && !isInside(realRoot, target)) {
        refused.push({ name, size: info.size, mtimeMs: info.mtimeMs });
        problems.push({ file: name, message: 'is a symbolic link to a file outside the config directory; not read' });
        continue;
      }
      files.push({ name, realPath: target, size: info.size, mtimeMs: info.mtimeMs });
    }
  }
  await walk(root);
  files.sort(byName);
  problems.sort(byFile);
  const fingerprint = [...files, ...refused]
    .sort(byName)
    .map((f) => `${f.name}\u0000${f.size}\u0000${f.mtimeMs}`)
    .join('\n');
  return { files, problems, fingerprint };
}

/**
 * Reads and parses the files, in name order, within `limits`. An object defined twice is a
 * problem; the later definition wins, as the later of two `kubectl apply`s would.
 */
export async function loadManifestFiles(files: readonly ManifestFile[], limits: ManifestLimits): Promise<LoadedManifests> {
  // Loaded here, not with this module: the service's main thread lists the files but parses
  // them on a worker thread, and need not hold the YAML parsers (about 1.2 MB of heap).
  const { parseManifests } = await import('./manifests.js');
  const byKey = new Map<string, { object: StoredObject; file: string }>();
  const problems: ManifestProblem[] = [];
  let totalBytes = 0;
  for (const file of files) {
    const read = await readBounded(file, limits, totalBytes);
    if (read.problem) problems.push({ file: file.name, message: read.problem });
    if (read.text === undefined) continue;
    totalBytes += read.bytes ?? 0;
    const parsed = parseManifests(read.text, file.name);
    const fileProblems = parsed.problems;
    for (const object of parsed.objects) {
      const key = storedObjectKey(object);
      const earlier = byKey.get(key);
      if (earlier) {
        const { kind, metadata } = object;
        fileProblems.push({
          file: file.name,
          message: `${kind} ${metadata.namespace}/${metadata.name} is also defined in ${earlier.file}; the definition in ${file.name} wins`,
        });
      }
      byKey.set(key, { object, file: file.name });
    }
    problems.push(...fileProblems.slice(0, MAX_PROBLEMS_PER_FILE));
    if (fileProblems.length > MAX_PROBLEMS_PER_FILE) {
      problems.push({ file: file.name, message: `${fileProblems.length - MAX_PROBLEMS_PER_FILE} more problems in this file are not listed` });
    }
  }
  return { objects: [...byKey.values()].map((entry) => entry.object), problems };
}

/**
 * The file's text, read with a bound: never more than the per-file limit, or what is left of
 * the total, plus one byte to tell that there is more. The size is checked before reading too,
 * so a large file is refused without reading it; the bound still holds for a file that grows
 * while it is read.
 */
async function readBounded(
  file: ManifestFile,
  limits: ManifestLimits,
  totalBytes: number,
): Promise<{ text?: string; bytes?: number; problem?: string }> {
  const overFile = (size: string) => `the file is ${size} bytes, over the limit of ${limits.maxFileBytes} bytes per manifest file; not read`;
  const overTotal = (size: string) =>
    `not read: with its ${size} bytes, the manifests would pass the limit of ${limits.maxTotalBytes} bytes for all files ` +
    `(${totalBytes} bytes read before it, in name order)`;
  let handle;
  try {
    // O_NOFOLLOW: the path was resolved when listing; a symlink put in its place since is refused.
    handle = await open(file.realPath, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return {}; // removed since the listing
    return { problem: `cannot read the file (${code ?? 'error'})` };
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) return {};
    if (info.size > limits.maxFileBytes) return { problem: overFile(String(info.size)) };
    const budget = limits.maxTotalBytes - totalBytes;
    if (info.size > budget) return { problem: overTotal(String(info.size)) };
    const bound = Math.min(limits.maxFileBytes, budget);
    let buffer = Buffer.alloc(Math.min(info.size, bound) + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > bound) {
        const more = `more than ${bound}`;
        return { problem: bound === limits.maxFileBytes ? overFile(more) : overTotal(more) };
      }
      if (length === buffer.length) {
        // The file grew since its size was taken: read on, still within the bound.
        const grown = Buffer.alloc(Math.min(buffer.length * 2, bound + 1));
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
    }
    return { text: buffer.toString('utf8', 0, length), bytes: length };
  } catch (err) {
    return { problem: `cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  } finally {
    await handle.close();
  }
}

function isInside(dir: string, target: string): boolean {
  const relative = path.relative(dir, target);
  return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function byFile(a: ManifestProblem, b: ManifestProblem): number {
  return a.file < b.file ? -1 : a.file > b.file ? 1 : 0;
}
