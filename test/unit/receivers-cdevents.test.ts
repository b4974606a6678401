import { describe, expect, it } from 'vitest';
import { receiverHarness, receiverManifest } from '../support/receivers.js';

// Flux's own test event (a change merged), and one of CDEvents spec v0.4 with subject content.
const FLUX_TEST_EVENT = {
  context: {
    gitRepository: 'adamkenihan/notification-controller', gitRevision: '5555', version: '0.3.0', id: '5555', source: 'github',
    timestamp: '2023-12-07T14:51:29.908479495Z', type: 'dev.cdevents.change.merged.0.2.0',
  },
  subject: { type: 'change', id: '5555' },
};
const ARTIFACT_PUBLISHED = {
  context: { version: '0.4.1', id: '271069a8-fc18-44f1-b38f-9d70a1695819', source: '/event/source/123', type: 'dev.cdevents.artifact.published.0.2.0', timestamp: '2026-11-30T12:00:00Z' },
  subject: { id: 'pkg:oci/webapp@sha256%3A0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427', source: '/event/source/123', type: 'artifact', content: {} },
};

const cdevents = (events?: string[]) => receiverHarness({ manifest: receiverManifest('cdevents', events ? { events } : {}) });
const send = (h: ReturnType<typeof cdevents>, body: unknown, ceType: string) =>
  h.send({ payload: JSON.stringify(body), headers: { 'content-type': 'application/json', 'ce-type': ceType, 'ce-specversion': '1.0', 'ce-id': '5555', 'ce-source': 'github' } });

describe('cdevents receiver', () => {
  it("accepts Flux's test event when its Ce-Type is among spec.events", async () => {
    const h = cdevents(['cd.change.merged.v1']);
    expect((await send(h, FLUX_TEST_EVENT, 'cd.change.merged.v1')).statusCode).toBe(200);
    expect(h.reconciled).toEqual(['GitRepository/apps/webapp']);
  });

  it('refuses a Ce-Type outside spec.events with 400 and takes any when none are listed', async () => {
    expect((await send(cdevents(['dev.cdevents.change.created.0.2.0']), FLUX_TEST_EVENT, 'cd.change.merged.v1')).statusCode).toBe(400);
    expect((await send(cdevents(), ARTIFACT_PUBLISHED, 'dev.cdevents.artifact.published.0.2.0')).statusCode).toBe(200);
  });

  it('refuses what is not a CDEvent with 400', async () => {
    const h = cdevents();
    const broken = [
      {},
      { ...FLUX_TEST_EVENT, context: { ...FLUX_TEST_EVENT.context, type: 'com.example.push' } },
      { ...FLUX_TEST_EVENT, context: { ...FLUX_TEST_EVENT.context, id: '' } },
      { ...FLUX_TEST_EVENT, context: { ...FLUX_TEST_EVENT.context, timestamp: 'yesterday' } },
      { ...FLUX_TEST_EVENT, subject: {} },
    ];
    for (const body of broken) expect((await send(h, body, 'cd.change.merged.v1')).statusCode, JSON.stringify(body)).toBe(400);
    expect(h.reconciled).toEqual([]);
  });
});
