/**
 * `herald deliveries list|show|replay|retry-now|purge`: the delivery queue through the admin
 * API (see ADMIN API in the README for the endpoints).
 */
import type { DeliveryRecord } from '../delivery/queue.js';
import type { AdminClient } from './client.js';
import { CommandError } from './errors.js';
import { indent, json, relativeTime, table, timeWithAge } from './output.js';

/** A delivery as the admin API answers it (the queue's record, plus the retry schedule). */
export type Delivery = DeliveryRecord & { nextAttemptAt?: number; maxAttempts?: number };

export interface ListOptions {
  state?: string;
  provider?: string;
  alert?: string;
  object?: string;
  limit?: string;
  cursor?: string;
}

export interface DeliveryPage {
  state: string;
  deliveries: Delivery[];
  nextCursor?: string;
}

export function listDeliveries(client: AdminClient, opts: ListOptions): Promise<DeliveryPage> {
  const query = new URLSearchParams();
  for (const key of ['state', 'provider', 'alert', 'object', 'limit', 'cursor'] as const) {
    const value = opts[key];
    if (value !== undefined) query.set(key, value);
  }
  const qs = query.toString();
  return client.call<DeliveryPage>('GET', `/deliveries${qs ? `?${qs}` : ''}`);
}

function objectOf(d: Delivery): string {
  const { kind, namespace = '', name } = d.data.event.involvedObject;
  return `${kind}/${namespace}/${name}`;
}

function attempts(d: Delivery): string {
  return d.maxAttempts ? `${d.attemptsMade}/${d.maxAttempts}` : String(d.attemptsMade);
}

export function formatDeliveryTable(page: DeliveryPage): string {
  if (page.deliveries.length === 0) return `no ${page.state} deliveries\n`;
  const rows = page.deliveries.map((d) => [
    d.id,
    d.state,
    d.data.provider,
    d.data.alert,
    objectOf(d),
    attempts(d),
    d.nextAttemptAt ? relativeTime(d.nextAttemptAt) : '-',
    d.lastError ?? '',
  ]);
  const out = table(['ID', 'STATE', 'PROVIDER', 'ALERT', 'OBJECT', 'ATTEMPTS', 'NEXT ATTEMPT', 'LAST ERROR'], rows);
  return page.nextCursor ? `${out}more: add --cursor ${page.nextCursor}\n` : out;
}

export async function showDelivery(client: AdminClient, id: string): Promise<Delivery> {
  const { status, json: body } = await client.request('GET', `/deliveries/${encodeURIComponent(id)}`);
  if (status === 404) throw new CommandError(`no delivery ${id}`);
  if (status !== 200) throw new CommandError(client.describeFailure(status, body));
  return body as Delivery;
}

export function formatDelivery(d: Delivery): string {
  const lines = [
    `ID:            ${d.id}`,
    `State:         ${d.state}`,
    `Provider:      ${d.data.provider} (${d.data.providerType})`,
    `Alert:         ${d.data.alert}`,
    `Object:        ${objectOf(d)}`,
    `Accepted:      ${timeWithAge(d.data.acceptedAt)}`,
    `Attempts:      ${attempts(d)}`,
    `Next attempt:  ${d.nextAttemptAt ? timeWithAge(d.nextAttemptAt) : '-'}`,
    `Finished:      ${d.finishedAt ? timeWithAge(d.finishedAt) : '-'}`,
    `Last error:    ${d.lastError ?? '-'}`,
    'Payload:',
    indent(json(d.data.event), 2),
  ];
  return `${lines.join('\n')}\n`;
}

/** A POST or DELETE on one delivery: 404 and 409 in words, the answer's JSON otherwise. */
export async function actOnDelivery(client: AdminClient, method: 'POST' | 'DELETE', path: string, id: string): Promise<Record<string, unknown>> {
  const { status, json: body } = await client.request(method, path);
  if (status === 404) throw new CommandError(`no delivery ${id}`);
  if (status === 409) throw new CommandError((body as { message?: string } | undefined)?.message ?? `delivery ${id} is not in a state that allows this`);
  if (status < 200 || status >= 300) throw new CommandError(client.describeFailure(status, body));
  return (body ?? {}) as Record<string, unknown>;
}
