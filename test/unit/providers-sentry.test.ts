import { describe, expect, it } from 'vitest';
import { parseDsn, sentry } from '../../providers/sentry.js';
import { problemOf, deliver, REVISION, TRICKY_MESSAGE, trickyEvent, useSink } from '../support/adapter-harness.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';

const sink = useSink();

function envelope(body: string) {
  const lines = body.split('\n');
  expect(lines).toHaveLength(4);
  expect(lines[3]).toBe('');
  const header = JSON.parse(lines[0] ?? '');
  const item = JSON.parse(lines[1] ?? '');
  expect(item.length).toBe(Buffer.byteLength(lines[2] ?? '', 'utf8'));
  return { header, item, payload: JSON.parse(lines[2] ?? '') };
}

describe('sentry', () => {
  const dsn = () => `${sink().url.replace('://', '://0123456789abcdef@')}/sentry/42`;

  it('sends error events as Sentry events to the DSN\'s envelope endpoint', async () => {
    const config = testProviderConfig({ type: 'sentry', address: dsn(), channel: 'staging-env', sensitiveValues: [dsn()] });
    const [req, ...more] = await deliver(sentry, config, trickyEvent());
    expect(more).toHaveLength(0);
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/sentry/api/42/envelope/');
    expect(req?.headers['content-type']).toBe('application/x-sentry-envelope');
    expect(req?.headers['x-sentry-auth']).toBe('Sentry sentry_version=7, sentry_client=herald/0.1.0, sentry_key=0123456789abcdef');
    const { header, item, payload } = envelope(req?.body ?? '');
    expect(header.event_id).toMatch(/^[0-9a-f]{32}$/);
    expect(header.dsn).toBeUndefined();
    expect(item.type).toBe('event');
    expect(payload).toEqual({
      event_id: header.event_id,
      timestamp: Date.parse('2026-11-24T09:00:00Z') / 1000,
      level: 'error',
      platform: 'other',
      server_name: 'kustomize-controller',
      transaction: 'Kustomization: flux-system/apps',
      message: TRICKY_MESSAGE,
      extra: { env: 'prod\nblue_green', 'owner.team': 'Équipe (ops) #1', revision: REVISION, summary: 'Cluster "prod-eu" *critical*' },
      environment: 'staging-env',
      sdk: { name: 'herald', version: '0.1.0' },
    });
  });

  it('sends info events as a transaction tagged with the object, controller, reason and metadata', async () => {
    const config = testProviderConfig({ type: 'sentry', address: dsn() });
    const [req] = await deliver(sentry, config, kustomizationEvent());
    const { item, payload } = envelope(req?.body ?? '');
    expect(item.type).toBe('transaction');
    expect(payload.contexts.trace.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(payload.contexts.trace.span_id).toMatch(/^[0-9a-f]{16}$/);
    expect(payload).toMatchObject({
      type: 'transaction',
      transaction: 'Kustomization: flux-system/apps',
      message: 'Reconciliation finished in 1.2s, next run in 10m0s',
      start_timestamp: Date.parse('2026-11-24T09:00:00Z') / 1000,
      timestamp: Date.parse('2026-11-24T09:00:00Z') / 1000,
      contexts: { trace: { op: 'event' } },
      tags: {
        flux_involved_object_kind: 'Kustomization',
        flux_involved_object_namespace: 'flux-system',
        flux_involved_object_name: 'apps',
        flux_reporting_controller: 'kustomize-controller',
        flux_reporting_instance: 'kustomize-controller-7f5d9c8b6-x2x4z',
        flux_reason: 'ReconciliationSucceeded',
        'kustomize.toolkit.fluxcd.io/revision': REVISION,
      },
    });
    expect(payload.environment).toBeUndefined();
  });

  it('sends nothing for trace events', async () => {
    await deliver(sentry, testProviderConfig({ type: 'sentry', address: dsn() }), kustomizationEvent({ severity: 'trace' }));
    expect(sink().requests).toHaveLength(0);
  });

  it('parses DSNs and requires one', () => {
    expect(parseDsn('https://key@o1.ingest.sentry.io/12341234')).toEqual({
      envelopeUrl: 'https://o1.ingest.sentry.io/api/12341234/envelope/',
      publicKey: 'key',
      secretKey: undefined,
    });
    expect(parseDsn('https://sentry.io/123')).toBeUndefined();
    expect(parseDsn('https://key@sentry.io/')).toBeUndefined();
    expect(problemOf(sentry, testProviderConfig({ type: 'sentry', address: 'https://sentry.io/1' }))).toMatch(/DSN/);
    expect(problemOf(sentry, testProviderConfig({ type: 'sentry', address: 'https://key@sentry.io/1' }))).toBeUndefined();
  });
});
