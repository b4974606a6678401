/**
 * The Setters update strategy: finds `# {"$imagepolicy": "<ns>:<policy>[:tag|:name|:digest]"}`
 * markers on YAML scalar values and sets each marked scalar from the policy's latest image.
 *
 * Unlike Flux, which re-serialises whole files, the edit is made in place: only the bytes of
 * the marked scalar change (its quoting style kept), so comments, `---`, indentation, anchors,
 * flow style and line endings all survive. Every marker found is reported in an explain
 * report, with the reason each ignored one was ignored.
 */
import { lstat, readFile, readdir, realpath, stat, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Scalar, YAMLMap, YAMLSeq, isMap, isScalar, parse, parseAllDocuments, visit, type Document } from 'yaml';
import { selectorMatches } from './manifests.js';
import { addChange, type ObjectIdentifier, type UpdateResult } from './result.js';
import type { LabelSelector, PolicyInput } from './types.js';

export interface TreeLimits {
  /** Files larger than this are not read (a manifest this large is generated, not hand-marked). */
  maxFileBytes: number;
  /** Directory entries visited under `update.path`. */
  maxFilesVisited: number;
  /** Marker reports kept in one explain report. */
  maxMarkerReports: number;
}

export const DEFAULT_TREE_LIMITS: TreeLimits = { maxFileBytes: 4 * 1024 * 1024, maxFilesVisited: 50_000, maxMarkerReports: 2_000 };

/** What Flux requires in a file's bytes before it parses it. */
const MARKER_NEEDLE = '"$imagepolicy"';

export type MarkerField = 'image' | 'tag' | 'name' | 'digest';

export type IgnoredReason =
  | 'OtherNamespace'
  | 'UnknownPolicy'
  | 'NotSelected'
  | 'NoLatestRef'
  | 'UnknownField'
  | 'InvalidMarker'
  | 'NotOnScalar'
  | 'UnsupportedScalar';

export interface MarkerReport {
  /** Path relative to the repository root, `/`-separated. */
  file: string;
  /** 1-based line of the marked value (of the marker itself when it marks nothing). */
  line: number;
  /** The marker's value as written, e.g. `flux-system:podinfo:tag`. */
  marker: string;
  outcome: 'updated' | 'unchanged' | 'ignored';
  reason?: IgnoredReason;
  message: string;
  policy?: { namespace: string; name: string };
  field?: MarkerField;
  oldValue?: string;
  newValue?: string;
}

export interface SkippedFile {
  file: string;
  reason: string;
}

export interface ExplainReport {
  markers: MarkerReport[];
  skippedFiles: SkippedFile[];
  /** True when more markers existed than the report keeps (`maxMarkerReports`). */
  truncated: boolean;
}

export interface SetterContext {
  /** The automation's namespace: only its policies may be named by markers. */
  namespace: string;
  policies: readonly PolicyInput[];
  policySelector?: LabelSelector;
}

interface Resolution {
  report: Omit<MarkerReport, 'file' | 'line' | 'oldValue'>;
  value?: string;
}

const FIELDS: ReadonlySet<string> = new Set(['tag', 'name', 'digest']);

/** Resolves one marker value against the policies, the way Flux's setters would (or why not). */
export function resolveMarker(marker: string, ctx: SetterContext): Resolution {
  const parts = marker.split(':');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) {
    return { report: { marker, outcome: 'ignored', reason: 'InvalidMarker', message: `marker "${marker}" is not <namespace>:<policy>[:tag|:name|:digest]` } };
  }
  const [namespace, name, suffix] = parts as [string, string, string | undefined];
  const policy = { namespace, name };
  if (suffix !== undefined && !FIELDS.has(suffix)) {
    return { report: { marker, policy, outcome: 'ignored', reason: 'UnknownField', message: `unknown field "${suffix}"; use tag, name or digest` } };
  }
  const field = (suffix ?? 'image') as MarkerField;
  const base = { marker, policy, field };
  if (namespace !== ctx.namespace) {
    return { report: { ...base, outcome: 'ignored', reason: 'OtherNamespace', message: `policy ${namespace}/${name} is not in the automation's namespace ${ctx.namespace}; only policies of that namespace are used` } };
  }
  const found = ctx.policies.find((p) => p.namespace === namespace && p.name === name);
  if (!found) return { report: { ...base, outcome: 'ignored', reason: 'UnknownPolicy', message: `no ImagePolicy ${namespace}/${name}` } };
  if (!selectorMatches(ctx.policySelector, found.labels)) {
    return { report: { ...base, outcome: 'ignored', reason: 'NotSelected', message: `ImagePolicy ${namespace}/${name} does not match spec.policySelector` } };
  }
  const ref = found.latestRef;
  if (!ref) return { report: { ...base, outcome: 'ignored', reason: 'NoLatestRef', message: `ImagePolicy ${namespace}/${name} has no latest image yet (status.latestRef is empty)` } };
  const value =
    field === 'tag' ? ref.tag
      : field === 'name' ? ref.name
        : field === 'digest' ? (ref.digest ?? '')
          : `${ref.name}:${ref.tag}${ref.digest ? `@${ref.digest}` : ''}`;
  return { report: { ...base, outcome: 'unchanged', message: '' }, value };
}

/** The marker in a comment: all leading `#` stripped, then a JSON object of strings with `$imagepolicy`. */
export function markerOf(comment: string | undefined | null): string | undefined {
  if (!comment) return undefined;
  // yaml joins several comment lines with "\n"; a marker is one line of its own.
  for (const line of comment.split('\n')) {
    const body = line.replace(/^[\s#]*/, '').trim();
    if (!body.startsWith('{')) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      continue;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) continue;
    const values = Object.values(parsed as Record<string, unknown>);
    if (values.some((v) => typeof v !== 'string')) continue;
    const marker = (parsed as Record<string, string>).$imagepolicy;
    if (marker !== undefined) return marker;
  }
  return undefined;
}

/** YAML 1.1 would read this plain scalar as something other than a string (`1.10`, `yes`, `~`, `0x1F`). */
function isYaml11NonString(value: string): boolean {
  if (value === '') return false;
  let parsed: unknown;
  try {
    parsed = parse(value, { version: '1.1', prettyErrors: false });
  } catch {
    return false;
  }
  // Timestamps and sexagesimal numbers stay unquoted, as yaml.v2 (Flux's kyaml) leaves them.
  if (parsed instanceof Date || /^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$/.test(value)) return false;
  return typeof parsed !== 'string';
}

/** Whether `value` written plain reads back as exactly this string (block context, any YAML version). */
function safePlain(value: string, inFlow: boolean): boolean {
  if (value === '' || value !== value.trim() || /[\n\r\t]/.test(value)) return false;
  if (/^[-?:,[\]{}#&*!|>'"%@`]/.test(value) && !/^[-?:][^\s,[\]{}]/.test(value)) return false;
  if (value.includes(': ') || value.includes(' #') || value.endsWith(':')) return false;
  if (inFlow && /[,[\]{}]/.test(value)) return false;
  try {
    const back = parse(`k: ${value}`, { prettyErrors: false }) as { k?: unknown };
    return back !== null && typeof back === 'object' && back.k === value && !isYaml11NonString(value);
  } catch {
    return false;
  }
}

function doubleQuoted(value: string): string {
  let out = '"';
  for (const ch of value) {
    const cp = ch.codePointAt(0) as number;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** The new scalar's source text in the node's own style; plain becomes double-quoted when it must. */
function renderScalar(node: Scalar, value: string, inFlow: boolean): string | undefined {
  switch (node.type) {
    case 'QUOTE_DOUBLE':
      return doubleQuoted(value);
    case 'QUOTE_SINGLE':
      return /[\n\r]/.test(value) ? doubleQuoted(value) : `'${value.replace(/'/g, "''")}'`;
    case 'PLAIN':
      return safePlain(value, inFlow) ? value : doubleQuoted(value);
    default:
      return undefined; // block scalars: rewriting them in place would change the layout
  }
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function stringField(map: unknown, key: string): string {
  if (!isMap(map)) return '';
  const v = map.get(key, true);
  return isScalar(v) && typeof v.value === 'string' ? v.value : '';
}

function objectIdentifier(object: unknown): ObjectIdentifier {
  const meta = isMap(object) ? object.get('metadata', true) : undefined;
  return {
    apiVersion: stringField(object, 'apiVersion'),
    kind: stringField(object, 'kind'),
    name: stringField(meta, 'name'),
    namespace: stringField(meta, 'namespace'),
  };
}

/**
 * The object a marked scalar belongs to: the document, or — in a `kind: List` document (what
 * `kubectl get -o yaml` writes), which Flux's reader unwraps — the list item holding it.
 */
function enclosingObject(doc: Document, path: readonly unknown[]): ObjectIdentifier {
  const root = doc.contents;
  if (isMap(root) && stringField(root, 'kind') === 'List') {
    const items = root.get('items', true);
    const at = path.indexOf(items);
    const item = at >= 0 ? path[at + 1] : undefined;
    if (isMap(item)) return objectIdentifier(item);
  }
  return objectIdentifier(root);
}

/** Whether the line just above the node is a comment line of its own. */
function commentLineAbove(text: string, node: Scalar): boolean {
  const [start = 0] = node.range ?? [];
  const lineStart = text.lastIndexOf('\n', start - 1);
  if (lineStart <= 0) return false;
  const above = text.slice(text.lastIndexOf('\n', lineStart - 1) + 1, lineStart);
  return above.trimStart().startsWith('#');
}

interface MarkedScalar {
  node: Scalar;
  marker: string;
  object: ObjectIdentifier;
  inFlow: boolean;
  /** Offset of the marker comment, for its line number. */
  markerLine: number;
}

function markedScalars(doc: Document, text: string): MarkedScalar[] {
  const found: MarkedScalar[] = [];
  const add = (node: Scalar, marker: string, path: readonly unknown[]): void => {
    const inFlow = path.some((p) => (p instanceof YAMLMap || p instanceof YAMLSeq) && p.flow === true);
    const [start = 0] = node.range ?? [];
    found.push({ node, marker, object: enclosingObject(doc, path), inFlow, markerLine: lineAt(text, start) });
  };
  visit(doc, {
    Pair(_key, pair, path) {
      if (isScalar(pair.value)) {
        const marker = markerOf(pair.value.comment) ?? markerOf(pair.value.commentBefore);
        if (marker !== undefined) add(pair.value, marker, [...path, pair]);
      }
    },
    Seq(_key, seq, path) {
      seq.items.forEach((item, i) => {
        if (!isScalar(item)) return;
        // A comment line right above the first item is the sequence's in `yaml`, the item's in
        // yaml.v3; one after `key:` on the key's line is the key's in yaml.v3, so not a marker.
        const head = item.commentBefore ?? (i === 0 && commentLineAbove(text, item) ? seq.commentBefore : undefined);
        const marker = markerOf(item.comment) ?? markerOf(head);
        if (marker !== undefined) add(item, marker, [...path, seq]);
      });
    },
  });
  return found;
}

export interface TextUpdate {
  text: string;
  markers: MarkerReport[];
  changes: Array<{ object: ObjectIdentifier; oldValue: string; newValue: string; setter: string }>;
  /** Set when the file is not valid YAML and was left alone. */
  parseError?: string;
}

/**
 * Applies the setters to one file's text. Pure: returns the new text (identical when nothing
 * changed), the changes, and a report for every marker. `file` is only used in reports.
 */
export function updateText(text: string, file: string, ctx: SetterContext): TextUpdate {
  const markers: MarkerReport[] = [];
  const changes: TextUpdate['changes'] = [];
  // failsafe: every scalar is a string, so the old value is exactly what was written.
  const docs = parseAllDocuments(text, { schema: 'failsafe', prettyErrors: false, uniqueKeys: false });
  const list = Array.isArray(docs) ? docs : [docs];
  const broken = list.find((d) => d.errors.length > 0);
  if (broken) {
    const [err] = broken.errors;
    return { text, markers, changes, parseError: `not valid YAML at line ${lineAt(text, err?.pos[0] ?? 0)}` };
  }
  const edits: Array<{ start: number; end: number; replacement: string }> = [];
  for (const doc of list) {
    for (const { node, marker, object, inFlow, markerLine } of markedScalars(doc as Document, text)) {
      const [start, end] = node.range as [number, number, number];
      const oldValue = String(node.value);
      const { report, value } = resolveMarker(marker, ctx);
      const entry: MarkerReport = { file, line: markerLine, ...report, oldValue };
      if (value !== undefined) {
        if (value === oldValue) entry.message = `already ${JSON.stringify(value)}`;
        else {
          const replacement = renderScalar(node, value, inFlow);
          if (replacement === undefined) {
            Object.assign(entry, { outcome: 'ignored', reason: 'UnsupportedScalar', message: 'block scalars (| and >) are not set in place; write the value on one line' });
          } else {
            // An empty value's range sits right on the marker's `#`, which needs a space before it.
            edits.push({ start, end, replacement: start === end && text[end] === '#' ? `${replacement} ` : replacement });
            changes.push({ object, oldValue, newValue: value, setter: marker });
            Object.assign(entry, { outcome: 'updated', newValue: value, message: `${JSON.stringify(oldValue)} -> ${JSON.stringify(value)}` });
          }
        }
      }
      markers.push(entry);
    }
  }
  // Markers YAML does not attach to a scalar value (on a key, a mapping, a block scalar header…).
  text.split('\n').forEach((lineText, i) => {
    const hash = lineText.indexOf('#');
    if (hash < 0 || !lineText.includes(MARKER_NEEDLE, hash)) return;
    const marker = markerOf(lineText.slice(hash));
    if (marker === undefined) return;
    const covered = markers.some((m) => m.line === i + 1 || (m.line === i + 2 && lineText.trimStart().startsWith('#')));
    if (!covered) {
      markers.push({ file, line: i + 1, marker, outcome: 'ignored', reason: 'NotOnScalar', message: 'the marker is not on a scalar value (put it at the end of the line holding the value)' });
    }
  });
  markers.sort((a, b) => a.line - b.line);
  let out = text;
  for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.replacement + out.slice(e.end);
  return { text: out, markers, changes };
}

function toPosix(path: string): string {
  return sep === '/' ? path : path.split(sep).join('/');
}

function isManifestName(name: string): boolean {
  return name.endsWith('.yaml') || name.endsWith('.yml') || name === 'Kustomization';
}

/** Candidate files under `start`, each with its path relative to the repository root. */
async function candidateFiles(repoRoot: string, start: string, skipped: SkippedFile[], maxVisited: number): Promise<string[]> {
  const realRoot = await realpath(repoRoot);
  const out: string[] = [];
  let visited = 0;
  const visit = async (abs: string, isRoot: boolean): Promise<void> => {
    if (++visited > maxVisited) {
      if (visited === maxVisited + 1) skipped.push({ file: toPosix(relative(repoRoot, abs)), reason: `more than ${maxVisited} entries under update.path; the rest were not scanned` });
      return;
    }
    const rel = toPosix(relative(repoRoot, abs));
    const info = await lstat(abs).catch(() => undefined);
    if (!info) return;
    if (info.isDirectory()) {
      // Git's own directory holds no manifests (and its hooks must not be read as such).
      if (rel === '.git') return;
      const entries = (await readdir(abs)).sort();
      for (const e of entries) await visit(join(abs, e), false);
      return;
    }
    if (!isRoot && !isManifestName(abs.slice(abs.lastIndexOf(sep) + 1))) return;
    if (info.isSymbolicLink()) {
      // Followed only to a file inside the clone; directories through links are never walked.
      const target = await realpath(abs).catch(() => undefined);
      if (!target || (target !== realRoot && !target.startsWith(realRoot + sep))) {
        skipped.push({ file: rel, reason: 'symbolic link to outside the repository (or dangling); not followed' });
        return;
      }
      const targetInfo = await stat(target).catch(() => undefined);
      if (!targetInfo?.isFile()) return;
    } else if (!info.isFile()) return;
    out.push(rel);
  };
  await visit(start, true);
  return out;
}

export interface TreeUpdate {
  result: UpdateResult;
  explain: ExplainReport;
}

/**
 * Applies the setters to every manifest under `updatePath` (relative to `repoRoot`, already
 * normalised) and writes the changed files back. `FileChanges` keys are relative to the
 * update path, as in Flux; explain reports use paths relative to the repository root.
 */
export async function updateTree(repoRoot: string, updatePath: string, ctx: SetterContext, limits: TreeLimits = DEFAULT_TREE_LIMITS): Promise<TreeUpdate> {
  const result: UpdateResult = { files: [] };
  const explain: ExplainReport = { markers: [], skippedFiles: [], truncated: false };
  const start = updatePath ? join(repoRoot, updatePath) : repoRoot;
  const startInfo = await lstat(start).catch(() => undefined);
  if (!startInfo) {
    explain.skippedFiles.push({ file: updatePath, reason: 'spec.update.path does not exist in the repository' });
    return { result, explain };
  }
  const scanRoot = startInfo.isDirectory() ? start : join(start, '..');
  for (const rel of await candidateFiles(repoRoot, start, explain.skippedFiles, limits.maxFilesVisited)) {
    const abs = join(repoRoot, rel);
    const info = await stat(abs);
    if (info.size > limits.maxFileBytes) {
      explain.skippedFiles.push({ file: rel, reason: `larger than ${limits.maxFileBytes} bytes; not read` });
      continue;
    }
    const bytes = await readFile(abs);
    if (!bytes.includes(MARKER_NEEDLE)) continue;
    const text = bytes.toString('utf8');
    if (!Buffer.from(text, 'utf8').equals(bytes)) {
      explain.skippedFiles.push({ file: rel, reason: 'not valid UTF-8; left alone' });
      continue;
    }
    const update = updateText(text, rel, ctx);
    if (update.parseError) {
      explain.skippedFiles.push({ file: rel, reason: update.parseError });
      continue;
    }
    for (const m of update.markers) {
      if (explain.markers.length >= limits.maxMarkerReports) explain.truncated = true;
      else explain.markers.push(m);
    }
    if (update.changes.length === 0) continue;
    await writeFile(abs, update.text);
    const key = toPosix(relative(scanRoot, abs));
    for (const c of update.changes) addChange(result, key, c.object, { oldValue: c.oldValue, newValue: c.newValue, setter: c.setter });
  }
  return { result, explain };
}
