import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { matrix, matrixTxnId } from '../../providers/matrix.js';
import { fluxEventJson } from '../../src/events/wire.js';
import { problemOf, deliver, goJson, REVISION, TRICKY_MESSAGE, trickyEvent, useSink } from '../support/adapter-harness.js';
import { kustomizationEvent } from '../support/events.js';
import { testProviderConfig } from '../support/provider-config.js';

const sink = useSink();

describe('matrix', () => {
  it('PUTs an m.text room message with the event\'s SHA-1 as transaction id and a Bearer token', async () => {
    const config = testProviderConfig({ type: 'matrix', address: `${sink().url}/`, channel: '!jezptmDwEeLapMLjOc:matrix.org', token: 'syt_matrix_token' });
    const [req, ...more] = await deliver(matrix, config, trickyEvent());
    expect(more).toHaveLength(0);
    const txn = createHash('sha1').update(fluxEventJson(trickyEvent())).digest('hex');
    expect(txn).toMatch(/^[0-9a-f]{40}$/);
    expect(req?.method).toBe('PUT');
    expect(req?.url).toBe(`/_matrix/client/r0/rooms/!jezptmDwEeLapMLjOc:matrix.org/send/m.room.message/${txn}`);
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers.authorization).toBe('Bearer syt_matrix_token');
    expect(req?.body).toBe(
      goJson({
        body:
          `🚨 kustomization/apps.flux-system\n${TRICKY_MESSAGE}\n` +
          '- env: prod\nblue_green\n' +
          '- owner.team: Équipe (ops) #1\n' +
          `- revision: ${REVISION}\n` +
          '- summary: Cluster "prod-eu" *critical*\n',
        msgtype: 'm.text',
      }),
    );
  });

  it('gives the same event the same transaction id (a retry is idempotent) and another event another', () => {
    expect(matrixTxnId(trickyEvent())).toBe(matrixTxnId({ ...trickyEvent() }));
    expect(matrixTxnId(trickyEvent())).not.toBe(matrixTxnId(kustomizationEvent()));
  });

  it('uses 💫 for info and encodes characters a path cannot hold', async () => {
    const config = testProviderConfig({ type: 'matrix', address: sink().url, channel: '!a b#c:example.org', token: 'syt_matrix_token' });
    const [req] = await deliver(matrix, config, kustomizationEvent({ metadata: {} }));
    expect(req?.url.startsWith('/_matrix/client/r0/rooms/!a%20b%23c:example.org/send/m.room.message/')).toBe(true);
    expect(JSON.parse(req?.body ?? '').body).toBe('💫 kustomization/apps.flux-system\nReconciliation finished in 1.2s, next run in 10m0s\n');
  });

  it('requires the token and the room id', () => {
    expect(problemOf(matrix, testProviderConfig({ type: 'matrix', address: 'https://matrix.org', channel: '!r:m.org' }))).toMatch(/`token`/);
    expect(problemOf(matrix, testProviderConfig({ type: 'matrix', address: 'https://matrix.org', token: 'tok1' }))).toMatch(/spec\.channel/);
    expect(problemOf(matrix, testProviderConfig({ type: 'matrix', address: 'https://matrix.org', channel: '!r:m.org', token: 'tok1' }))).toBeUndefined();
  });
});
