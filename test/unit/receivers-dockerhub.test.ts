import { describe, expect, it } from 'vitest';
import { imageReceiver, JSON_CONTENT } from '../support/receivers.js';

// The payload follows the registry's documented example, trimmed.
describe('dockerhub receiver', () => {
  const PUSH = JSON.stringify({
    callback_url: 'https://registry.hub.docker.com/u/example/webapp/hook/2141b5bi5i5b02bec211i4eeih0242eg11000a/',
    push_data: { pushed_at: 1764497700, pusher: 'trustedbuilder', tag: 'latest' },
    repository: { name: 'webapp', namespace: 'example', repo_name: 'example/webapp', repo_url: 'https://registry.hub.docker.com/u/example/webapp/', is_private: true, star_count: 0 },
  });

  it('accepts a push payload (apiVersion defaulted for ImageRepository)', async () => {
    const h = imageReceiver('dockerhub');
    expect((await h.send({ payload: PUSH, headers: JSON_CONTENT })).statusCode).toBe(200);
    expect(h.reconciled).toEqual(['ImageRepository/apps/webapp']);
  });

  it('refuses a body that is not JSON or has the wrong shape with 400', async () => {
    const h = imageReceiver('dockerhub');
    for (const payload of ['not json', '{"push_data":"latest"}', '{"push_data":{"tag":5}}', '[1]']) {
      expect((await h.send({ payload, headers: JSON_CONTENT })).statusCode, payload).toBe(400);
    }
    expect(h.reconciled).toEqual([]);
  });
});
