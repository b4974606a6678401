/**
 * `herald get providers|alerts|receivers` and `herald describe KIND NAMESPACE/NAME`, in the
 * shape of `flux get` and `flux describe`, from the admin API's `GET /resources`.
 */
import type { ResourceStatus } from '../resources/store.js';
import type { AdminClient } from './client.js';
import { CommandError, UsageError } from './errors.js';
import { table, timeWithAge, relativeTime } from './output.js';

/** A Provider's last delivery, as the admin API reports it. */
export interface LastDelivery {
  at: number;
  outcome: string;
  alert?: string;
  error?: string;
}

export type ResourceEntry = ResourceStatus & { lastDelivery?: LastDelivery };

const KINDS: Record<string, ResourceStatus['kind']> = {
  provider: 'Provider',
  providers: 'Provider',
  alert: 'Alert',
  alerts: 'Alert',
  receiver: 'Receiver',
  receivers: 'Receiver',
};

export function kindOf(word: string): ResourceStatus['kind'] {
  const kind = KINDS[word.toLowerCase()];
  if (!kind) throw new UsageError(`"${word}" is not a kind Herald serves: give providers, alerts or receivers`);
  return kind;
}

export async function fetchResources(client: AdminClient): Promise<ResourceEntry[]> {
  const answer = await client.call<{ resources?: ResourceEntry[] }>('GET', '/resources');
  return answer.resources ?? [];
}

export function selectResources(all: ResourceEntry[], kind: ResourceStatus['kind'], namespace: string | undefined): ResourceEntry[] {
  return all.filter((r) => r.kind === kind && (namespace === undefined || r.namespace === namespace));
}

function lastDelivery(entry: ResourceEntry): string {
  if (entry.kind === 'Receiver') return entry.lastRequestAt ? relativeTime(Date.parse(entry.lastRequestAt)) : '-';
  const last = entry.lastDelivery;
  if (!last) return '-';
  return `${last.outcome} ${relativeTime(last.at)}${last.alert ? ` (${last.alert})` : ''}`;
}

export function formatResourceTable(entries: ResourceEntry[], kind: ResourceStatus['kind']): string {
  if (entries.length === 0) return `no ${kind}s found\n`;
  const rows = entries.map((e) => [e.namespace, e.name, e.ready.status, e.ready.message, e.suspended ? 'True' : 'False', lastDelivery(e)]);
  return table(['NAMESPACE', 'NAME', 'READY', 'MESSAGE', 'SUSPENDED', kind === 'Receiver' ? 'LAST REQUEST' : 'LAST DELIVERY'], rows);
}

export function findResource(all: ResourceEntry[], kind: ResourceStatus['kind'], ref: string): ResourceEntry {
  const match = /^([^/\s]+)\/([^/\s]+)$/.exec(ref);
  if (!match) throw new UsageError(`"${ref}" is not NAMESPACE/NAME`);
  const found = all.find((r) => r.kind === kind && r.namespace === match[1] && r.name === match[2]);
  if (!found) throw new CommandError(`no ${kind} ${ref} in Herald's resources`);
  return found;
}

export function formatDescription(e: ResourceEntry): string {
  const lines = [
    `Kind:        ${e.kind}`,
    `Namespace:   ${e.namespace}`,
    `Name:        ${e.name}`,
    `Ready:       ${e.ready.status}`,
    `Reason:      ${e.ready.reason}`,
    `Message:     ${e.ready.message}`,
    `Since:       ${e.ready.lastTransitionTime}`,
    `Suspended:   ${e.suspended ? 'True' : 'False'}`,
  ];
  if (e.webhookPath !== undefined) lines.push(`Webhook:     ${e.webhookPath || '-'}`);
  if (e.kind === 'Receiver') lines.push(`Last request: ${e.lastRequestAt ?? '-'}`);
  if (e.lastDelivery) {
    const d = e.lastDelivery;
    lines.push(`Last delivery: ${d.outcome} at ${timeWithAge(d.at)}${d.alert ? ` for Alert ${d.alert}` : ''}${d.error ? `: ${d.error}` : ''}`);
  } else if (e.kind === 'Provider') lines.push('Last delivery: -');
  if (e.problems?.length) lines.push('Problems:', ...e.problems.map((p) => `  - ${p}`));
  if (e.warnings?.length) lines.push('Warnings:', ...e.warnings.map((w) => `  - ${w}`));
  return `${lines.join('\n')}\n`;
}
