import { describe, expect, it } from 'vitest';
import { imageReceiver, JSON_CONTENT } from '../support/receivers.js';

// The payload follows the registry's documented example, trimmed.
describe('acr receiver', () => {
  const PUSH = JSON.stringify({
    id: 'cb8c3971-9adc-488b-bdd8-43cbb4974ff5', timestamp: '2026-11-30T16:52:01.343145347Z', action: 'push',
    target: { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', size: 524, digest: 'sha256:80f0d5c8786bb9e621a45ece0db56d11cdc624ad20da9fe62e9d25490f331d7d', length: 524, repository: 'webapp', tag: 'v1' },
    request: { id: '3cbb6949-7549-4fa1-86cd-a6d5451dffc7', host: 'example.azurecr.io', method: 'PUT', useragent: 'docker/27.0.0' },
  });

  it('accepts a push event and refuses a wrong shape with 400', async () => {
    const h = imageReceiver('acr');
    expect((await h.send({ payload: PUSH, headers: JSON_CONTENT })).statusCode).toBe(200);
    expect((await h.send({ payload: '{"target":{"tag":1}}', headers: JSON_CONTENT })).statusCode).toBe(400);
    expect(h.reconciled).toHaveLength(1);
  });
});
