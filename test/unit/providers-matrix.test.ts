import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FluxEvent } from '../../src/events/event.js';
import { createHttpClient } from '../../providers/http.js';
import type { ProviderAdapter, ProviderConfig } from '../../providers/types.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';
import { startSink, type Sink } from '../support/sink.js';

/** JSON as Go's encoding/json writes it (HTML characters escaped). */
const go = (v: unknown) =>
  JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

const MESSAGE = 'Health check **failed** for "podinfo"\n> `deployment/podinfo` <not ready> & [docs](https://x.io/a_b)\nÜmlaut ünïcödé — 日本語 🚀';
/** An error event whose message and metadata carry markdown, quotes, newlines and non-ASCII text. */
const tricky: FluxEvent = kustomizationEvent({
  severity: 'error',
  reason: 'HealthCheckFailed',
  message: MESSAGE,
  metadata: {
    revision: 'main@sha1:6f1d5e3c8a2b4f7e9d0c1b2a3f4e5d6c7b8a9f0e',
    summary: 'Cluster "prod-eu" *critical*',
    env: 'prod\nblue_green',
    'owner.team': 'Équipe (ops) #1',
  },
});
const REVISION = 'main@sha1:6f1d5e3c8a2b4f7e9d0c1b2a3f4e5d6c7b8a9f0e';

let sink: Sink;
beforeAll(async () => {
  sink = await startSink(() => ({ status: 200, body: '{}' }));
});
afterAll(() => sink.close());
beforeEach(() => {
  sink.requests.length = 0;
});

async function deliver(adapter: ProviderAdapter, config: ProviderConfig, event: FluxEvent) {
  const http = createHttpClient(config);
  try {
    await adapter.send(event, { config, http });
  } finally {
    await http.close();
  }
  return sink.requests;
}
import { createHash } from 'node:crypto';
import { matrix, matrixTxnId } from '../../providers/matrix.js';
import { fluxEventJson } from '../../providers/wire.js';

describe('matrix', () => {
  it('PUTs an m.text room message with the event\'s SHA-1 as transaction id and a Bearer token', async () => {
    const config = testProviderConfig({ type: 'matrix', address: `${sink.url}/`, channel: '!jezptmDwEeLapMLjOc:matrix.org', token: 'syt_matrix_token' });
    const [req, ...more] = await deliver(matrix, config, tricky);
    expect(more).toHaveLength(0);
    const txn = createHash('sha1').update(fluxEventJson(tricky)).digest('hex');
    expect(txn).toMatch(/^[0-9a-f]{40}$/);
    expect(req?.method).toBe('PUT');
    expect(req?.url).toBe(`/_matrix/client/r0/rooms/!jezptmDwEeLapMLjOc:matrix.org/send/m.room.message/${txn}`);
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers.authorization).toBe('Bearer syt_matrix_token');
    expect(req?.body).toBe(
      go({
        body:
          `🚨 kustomization/apps.flux-system\n${MESSAGE}\n` +
          '- env: prod\nblue_green\n' +
          '- owner.team: Équipe (ops) #1\n' +
          `- revision: ${REVISION}\n` +
          '- summary: Cluster "prod-eu" *critical*\n',
        msgtype: 'm.text',
      }),
    );
  });

  it('gives the same event the same transaction id (a retry is idempotent) and another event another', () => {
    expect(matrixTxnId(tricky)).toBe(matrixTxnId({ ...tricky }));
    expect(matrixTxnId(tricky)).not.toBe(matrixTxnId(kustomizationEvent()));
  });

  it('uses 💫 for info and encodes characters a path cannot hold', async () => {
    const config = testProviderConfig({ type: 'matrix', address: sink.url, channel: '!a b#c:example.org', token: 'syt_matrix_token' });
    const [req] = await deliver(matrix, config, kustomizationEvent({ metadata: {} }));
    expect(req?.url.startsWith('/_matrix/client/r0/rooms/!a%20b%23c:example.org/send/m.room.message/')).toBe(true);
    expect(JSON.parse(req?.body ?? '').body).toBe('💫 kustomization/apps.flux-system\nReconciliation finished in 1.2s, next run in 10m0s\n');
  });

  it('requires the token and the room id', () => {
    expect(matrix.validate?.(testProviderConfig({ type: 'matrix', address: 'https://matrix.org', channel: '!r:m.org' }))).toMatch(/`token`/);
    expect(matrix.validate?.(testProviderConfig({ type: 'matrix', address: 'https://matrix.org', token: 'tok1' }))).toMatch(/spec\.channel/);
    expect(matrix.validate?.(testProviderConfig({ type: 'matrix', address: 'https://matrix.org', channel: '!r:m.org', token: 'tok1' }))).toBeUndefined();
  });
});
