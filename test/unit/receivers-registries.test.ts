import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { TargetObject } from '../../src/receivers/index.js';
import { TOKEN, receiverHarness, receiverManifest } from '../support/receivers.js';

// The payloads below follow each registry's documented example, trimmed.
const image: TargetObject = { apiVersion: 'image.toolkit.fluxcd.io/v1', kind: 'ImageRepository', metadata: { name: 'webapp', namespace: 'apps' } };
const imageReceiver = (type: string) =>
  receiverHarness({
    manifest: receiverManifest(type, { resources: [{ kind: 'ImageRepository', name: 'webapp' }] }),
    objects: [image],
  });
const json = { 'content-type': 'application/json' };

describe('dockerhub receiver', () => {
  const PUSH = JSON.stringify({
    callback_url: 'https://registry.hub.docker.com/u/example/webapp/hook/2141b5bi5i5b02bec211i4eeih0242eg11000a/',
    push_data: { pushed_at: 1764497700, pusher: 'trustedbuilder', tag: 'latest' },
    repository: { name: 'webapp', namespace: 'example', repo_name: 'example/webapp', repo_url: 'https://registry.hub.docker.com/u/example/webapp/', is_private: true, star_count: 0 },
  });

  it('accepts a push payload (apiVersion defaulted for ImageRepository)', async () => {
    const h = imageReceiver('dockerhub');
    expect((await h.send({ payload: PUSH, headers: json })).statusCode).toBe(200);
    expect(h.reconciled).toEqual(['ImageRepository/apps/webapp']);
  });

  it('refuses a body that is not JSON or has the wrong shape with 400', async () => {
    const h = imageReceiver('dockerhub');
    for (const payload of ['not json', '{"push_data":"latest"}', '{"push_data":{"tag":5}}', '[1]']) {
      expect((await h.send({ payload, headers: json })).statusCode, payload).toBe(400);
    }
    expect(h.reconciled).toEqual([]);
  });
});

describe('quay receiver', () => {
  const PUSH = JSON.stringify({
    repository: 'example/webapp', namespace: 'example', name: 'webapp', docker_url: 'quay.io/example/webapp',
    homepage: 'https://quay.io/repository/example/webapp', updated_tags: ['latest', '1.2.3'],
  });

  it('accepts a Repository Push notification and refuses a wrong shape with 400', async () => {
    const h = imageReceiver('quay');
    expect((await h.send({ payload: PUSH, headers: json })).statusCode).toBe(200);
    expect((await h.send({ payload: '{"updated_tags":"latest"}', headers: json })).statusCode).toBe(400);
    expect((await h.send({ payload: '{"updated_tags":[1]}', headers: json })).statusCode).toBe(400);
    expect(h.reconciled).toHaveLength(1);
  });
});

describe('acr receiver', () => {
  const PUSH = JSON.stringify({
    id: 'cb8c3971-9adc-488b-bdd8-43cbb4974ff5', timestamp: '2026-11-30T16:52:01.343145347Z', action: 'push',
    target: { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', size: 524, digest: 'sha256:80f0d5c8786bb9e621a45ece0db56d11cdc624ad20da9fe62e9d25490f331d7d', length: 524, repository: 'webapp', tag: 'v1' },
    request: { id: '3cbb6949-7549-4fa1-86cd-a6d5451dffc7', host: 'example.azurecr.io', method: 'PUT', useragent: 'docker/27.0.0' },
  });

  it('accepts a push event and refuses a wrong shape with 400', async () => {
    const h = imageReceiver('acr');
    expect((await h.send({ payload: PUSH, headers: json })).statusCode).toBe(200);
    expect((await h.send({ payload: '{"target":{"tag":1}}', headers: json })).statusCode).toBe(400);
    expect(h.reconciled).toHaveLength(1);
  });
});

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
    const res = await h.send({ payload: COMPONENT, headers: { ...json, 'x-nexus-webhook-id': 'rm:repository:component', 'x-nexus-webhook-signature': sign(COMPONENT) } });
    expect(res.statusCode).toBe(200);
    expect(h.reconciled).toEqual(['ImageRepository/apps/webapp']);
  });

  it('answers a missing or wrong signature with an empty 401, and a signed wrong shape with 400', async () => {
    const h = imageReceiver('nexus');
    expect((await h.send({ payload: COMPONENT, headers: json })).statusCode).toBe(401);
    const wrong = await h.send({ payload: COMPONENT, headers: { ...json, 'x-nexus-webhook-signature': sign(COMPONENT, 'other') } });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).toBe('');
    const badShape = '{"action":1}';
    expect((await h.send({ payload: badShape, headers: { ...json, 'x-nexus-webhook-signature': sign(badShape) } })).statusCode).toBe(400);
    expect(h.reconciled).toEqual([]);
  });
});
