import { describe, expect, it } from 'vitest';
import { imageReceiver, JSON_CONTENT } from '../support/receivers.js';

// The payload follows the registry's documented example, trimmed.
describe('quay receiver', () => {
  const PUSH = JSON.stringify({
    repository: 'example/webapp', namespace: 'example', name: 'webapp', docker_url: 'quay.io/example/webapp',
    homepage: 'https://quay.io/repository/example/webapp', updated_tags: ['latest', '1.2.3'],
  });

  it('accepts a Repository Push notification and refuses a wrong shape with 400', async () => {
    const h = imageReceiver('quay');
    expect((await h.send({ payload: PUSH, headers: JSON_CONTENT })).statusCode).toBe(200);
    expect((await h.send({ payload: '{"updated_tags":"latest"}', headers: JSON_CONTENT })).statusCode).toBe(400);
    expect((await h.send({ payload: '{"updated_tags":[1]}', headers: JSON_CONTENT })).statusCode).toBe(400);
    expect(h.reconciled).toHaveLength(1);
  });
});
