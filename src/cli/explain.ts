/**
 * `herald explain --event FILE [DIR | --server URL]`: which Alerts an event fires and why, and
 * what each Provider would receive — offline on a manifests directory, or asked of a running
 * Herald (`POST /explain`, on the resources it has loaded).
 */
import { open } from 'node:fs/promises';
import type { FluxEvent } from '../events/event.js';
import { explainWithStore, type ExplainResult } from '../server/admin-explain.js';
import type { AdminClient } from './client.js';
import { UsageError } from './errors.js';
import { loadDirectory } from './offline.js';
import { indent, json } from './output.js';

/** Flux refuses events over 3 MiB; a file larger than this cannot be one. */
const MAX_EVENT_FILE_BYTES = 4 * 1024 * 1024;

export async function readEventFile(file: string): Promise<FluxEvent> {
  let text: string;
  try {
    const handle = await open(file, 'r');
    try {
      const { size } = await handle.stat();
      if (size > MAX_EVENT_FILE_BYTES) throw new UsageError(`--event: ${file} is ${size} bytes; an event is at most ${MAX_EVENT_FILE_BYTES}`);
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`--event: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--event: ${file} is not JSON: ${(err as Error).message}`);
  }
  const wrong = eventProblems(raw);
  if (wrong.length > 0) throw new UsageError(`--event: ${file} is not a Flux event: ${wrong.join('; ')}`);
  return raw as FluxEvent;
}

/** The fields the events listener would refuse, each named (its schema's rules that matter here). */
function eventProblems(raw: unknown): string[] {
  if (!isRecord(raw)) return ['it must be a JSON object'];
  const problems: string[] = [];
  const object = raw.involvedObject;
  if (!isRecord(object)) problems.push('involvedObject must be an object');
  else {
    for (const field of ['kind', 'name'] as const) {
      if (typeof object[field] !== 'string' || object[field] === '') problems.push(`involvedObject.${field} must be a non-empty string`);
    }
    for (const field of ['namespace', 'uid', 'apiVersion', 'resourceVersion', 'fieldPath']) {
      if (object[field] !== undefined && typeof object[field] !== 'string') problems.push(`involvedObject.${field} must be a string`);
    }
  }
  if (!['info', 'error', 'trace'].includes(raw.severity as string)) problems.push('severity must be info, error or trace');
  if (typeof raw.message !== 'string') problems.push('message must be a string');
  for (const field of ['reason', 'timestamp', 'reportingController', 'reportingInstance']) {
    if (raw[field] !== undefined && typeof raw[field] !== 'string') problems.push(`${field} must be a string`);
  }
  if (raw.metadata !== undefined && (!isRecord(raw.metadata) || !Object.values(raw.metadata).every((v) => typeof v === 'string'))) {
    problems.push('metadata must be a map of strings');
  }
  return problems;
}

export async function explainOffline(dir: string, event: FluxEvent, opts: { noCrossNamespaceRefs: boolean }): Promise<ExplainResult> {
  const loaded = await loadDirectory(dir, opts);
  return explainWithStore({ store: loaded.store }, event);
}

export function explainOnline(client: AdminClient, event: FluxEvent): Promise<ExplainResult> {
  return client.call<ExplainResult>('POST', '/explain', { event });
}

export function formatExplanation(result: ExplainResult): string {
  const out: string[] = [];
  for (const key of result.droppedMetadata ?? []) {
    out.push(`note: metadata key ${JSON.stringify(key)} is removed by Flux's clean-up on arrival (kept: event.toolkit.fluxcd.io/* and the object's API group)`);
  }
  let matched = 0;
  let sent = 0;
  for (const a of result.alerts) {
    out.push(`${a.alert}: ${a.matched ? 'matched' : 'not matched'}`);
    for (const reason of a.reasons) out.push(`  - ${reason}`);
    if (!a.matched) continue;
    matched++;
    const provider = `Provider ${a.provider}${a.providerType ? ` (${a.providerType})` : ''}`;
    if (a.dropped) out.push(`  => ${provider} receives nothing: ${a.dropped}`);
    else {
      sent++;
      out.push(`  => ${provider} would receive:`, indent(json(a.notification), 6));
    }
  }
  const alerts = result.alerts.length;
  out.push(`${matched} of ${alerts} Alert${alerts === 1 ? '' : 's'} matched; ${sent} notification${sent === 1 ? '' : 's'} would be sent`);
  return `${out.join('\n')}\n`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
