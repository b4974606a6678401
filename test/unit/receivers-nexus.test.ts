import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { imageReceiver, JSON_CONTENT, TOKEN } from '../support/receivers.js';

// The payload follows the registry's documented example, trimmed.
describe('nexus receiver', () => {
  const COMPONENT = JSON.stringify({
    timestamp: '2026-11-30T23:57:49.664+0000', nodeId: '52905B51-085CCABB-CEBBEAAD-16F5CB85-5D5B3B1E', initiator: 'admin/127.0.0.1',
    repositoryName: 'docker-hosted', action: 'CREATED',
    component: { id: '08909bf0c86cf6c9600aade89e1c5e25', format: 'docker', name: 'webapp', version: '1.2.3' },
  });
  // Nexus: X-Nexus-Webhook-Signature is the hex HMAC-SHA1 of the body with the capability's secret key.
  const sign = (body: string, key = TOKEN) => createHmac('sha1', key).update(body).digest('hex');

  it('accepts a signed repository event', async () => {
    const h = imageReceiver('nexus');
    const res = await h.send({ payload: COMPONENT, headers: { ...JSON_CONTENT, 'x-nexus-webhook-id': 'rm:repository:component', 'x-nexus-webhook-signature': sign(COMPONENT) } });
    expect(res.statusCode).toBe(200);
    expect(h.reconciled).toEqual(['ImageRepository/apps/webapp']);
  });

  it('answers a missing or wrong signature with an empty 401, and a signed wrong shape with 400', async () => {
    const h = imageReceiver('nexus');
    expect((await h.send({ payload: COMPONENT, headers: JSON_CONTENT })).statusCode).toBe(401);
    const wrong = await h.send({ payload: COMPONENT, headers: { ...JSON_CONTENT, 'x-nexus-webhook-signature': sign(COMPONENT, 'other') } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toBe('');
    const badShape = '{"action":1}';
    expect((await h.send({ payload: badShape, headers: { ...JSON_CONTENT, 'x-nexus-webhook-signature': sign(badShape) } })).statusCode).toBe(400);
    expect(h.reconciled).toEqual([]);
  });
});
