/**
 * `herald validate <dir>`: what `herald serve --config-dir <dir>` would make of a manifests
 * directory, without serving: every problem (a document the loader refused, a resource that
 * would not be Ready) and every warning (fields Herald does not know, filters that cannot do
 * what they seem to, annotations that never reach a notification, an Alert whose Provider is
 * missing), each pointing at its file and document. For CI, before `kubectl apply`.
 */
import { isAlert, type Alert, type StoredObject } from '../api/types.js';
import { EVENT_METADATA_PREFIX } from '../events/event.js';
import { loadDirectory, type LoadedDirectory } from './offline.js';

export interface Finding {
  severity: 'error' | 'warning';
  file?: string;
  /** 1-based document of the file. */
  document?: number;
  kind?: string;
  namespace?: string;
  name?: string;
  /** The manifest field the finding is about, when it names one. */
  field?: string;
  /** The resource's Ready reason (errors found on a resource). */
  reason?: string;
  message: string;
}

export interface ValidationReport {
  ok: boolean;
  directory: string;
  files: number;
  objects: number;
  errors: Finding[];
  warnings: Finding[];
}

export async function validateDirectory(dir: string): Promise<ValidationReport> {
  const loaded = await loadDirectory(dir);
  const errors: Finding[] = loaded.problems.map((p) => ({
    severity: 'error',
    file: p.file,
    ...(p.document !== undefined ? { document: p.document } : {}),
    ...fieldOf(p.message),
    message: p.message,
  }));
  const warnings: Finding[] = [];
  for (const status of loaded.store.statuses().resources) {
    const at = resourceAt(loaded, status.kind, status.namespace, status.name);
    for (const message of status.problems ?? []) {
      // The Provider's own problems are reported on the Provider: on the Alert, a consequence.
      const list = PROVIDER_REF.test(message) ? warnings : errors;
      list.push({ severity: list === errors ? 'error' : 'warning', ...at, ...fieldOf(message), ...(list === errors ? { reason: status.ready.reason } : {}), message });
    }
    for (const message of status.warnings ?? []) warnings.push({ severity: 'warning', ...at, ...fieldOf(message), message });
  }
  for (const object of loaded.objects) {
    const at = resourceAt(loaded, object.kind, object.metadata.namespace, object.metadata.name);
    for (const { field, message } of lint(object)) warnings.push({ severity: 'warning', ...at, field, message });
  }
  errors.sort(byPlace);
  warnings.sort(byPlace);
  return { ok: errors.length === 0, directory: loaded.root, files: loaded.files, objects: loaded.objects.length, errors, warnings };
}

/** An Alert's findings about its Provider (`validate.ts` providerRefFindings). */
const PROVIDER_REF = /named by spec\.providerRef (was not found|is not ready)/;

function resourceAt(loaded: LoadedDirectory, kind: string, namespace: string, name: string): Partial<Finding> {
  const location = loaded.locate(kind, namespace, name);
  return { ...(location ?? {}), kind, namespace, name };
}

/** The first manifest field a message names (`spec.eventSources[0].kind`), if any. */
function fieldOf(message: string): { field?: string } {
  const field = /\b(?:spec|metadata|data|stringData|apiVersion|kind)(?:\.[A-Za-z0-9_-]+|\[\d+\])*/.exec(message)?.[0];
  return field ? { field } : {};
}

/**
 * Reasons are CamelCase words ending like Flux's (`ReconciliationSucceeded`,
 * `HealthCheckFailed`, `DependencyNotReady`, `ArtifactUpToDate`), or a few single words.
 */
const REASON_LIKE = /\b[A-Z][a-z]+(?:[A-Z][a-z]+)*(?:Succeeded|Failed|NotReady|UpToDate|Completed|Error)\b|\bNewArtifact\b/;

interface Lint {
  field: string;
  message: string;
}

/** What the loader accepts but what cannot work as its author expects. */
function lint(object: StoredObject): Lint[] {
  const found: Lint[] = [];
  if (isAlert(object)) found.push(...reasonPatterns(object));
  for (const key of Object.keys(object.metadata.annotations ?? {})) {
    const prefix = key.includes('/') ? key.slice(0, key.indexOf('/') + 1) : '';
    // Looks meant as event metadata, yet not under the one prefix Flux forwards.
    if (prefix !== EVENT_METADATA_PREFIX && /event/i.test(prefix) && /fluxcd/i.test(prefix)) {
      found.push({
        field: `metadata.annotations[${JSON.stringify(key)}]`,
        message: `annotation ${JSON.stringify(key)} never reaches a notification: Flux sends only annotations under ${EVENT_METADATA_PREFIX} as event metadata, and its clean-up drops other keys`,
      });
    }
  }
  return found;
}

function reasonPatterns(alert: Alert): Lint[] {
  const found: Lint[] = [];
  for (const list of ['inclusionList', 'exclusionList'] as const) {
    (alert.spec[list] ?? []).forEach((pattern, i) => {
      const reason = REASON_LIKE.exec(pattern)?.[0];
      if (!reason) return;
      found.push({
        field: `spec.${list}[${i}]`,
        message: `spec.${list}[${i}] ${JSON.stringify(pattern)} mentions ${reason}, which looks like an event reason; Flux matches these patterns against the event's message (e.g. "Reconciliation finished in 1.2s"), never its reason`,
      });
    });
  }
  return found;
}

function byPlace(a: Finding, b: Finding): number {
  const key = (f: Finding) => `${f.file ?? '\uffff'}\u0000${String(f.document ?? 0).padStart(6, '0')}`;
  return key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
}

/** One line per finding: `file#document: severity: Kind namespace/name: message (Reason)`. */
export function formatFinding(f: Finding): string {
  const place = f.file ? `${f.file}${f.document !== undefined ? `#${f.document}` : ''}` : `${f.kind} ${f.namespace}/${f.name}`;
  const what = f.file && f.kind ? ` ${f.kind} ${f.namespace}/${f.name}:` : '';
  return `${place}: ${f.severity}:${what} ${f.message}${f.reason ? ` (${f.reason})` : ''}`;
}

export function formatReport(report: ValidationReport): string {
  const lines = [...report.errors, ...report.warnings].sort(byPlace).map(formatFinding);
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  lines.push(`${count(report.errors.length, 'error')}, ${count(report.warnings.length, 'warning')} in ${count(report.files, 'file')} (${count(report.objects, 'object')})`);
  return `${lines.join('\n')}\n`;
}
