import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TOKEN, receiverHarness, receiverManifest } from '../support/receivers.js';

describe('generic receiver', () => {
  it('takes any request on its path, whatever the method and body', async () => {
    const h = receiverHarness({ manifest: receiverManifest('generic') });
    expect((await h.send({ method: 'POST', payload: 'anything' })).statusCode).toBe(200);
    expect((await h.send({ method: 'GET' })).statusCode).toBe(200);
    expect(h.reconciled).toEqual(['GitRepository/apps/webapp', 'GitRepository/apps/webapp']);
  });
});

describe('generic-hmac receiver', () => {
  const body = JSON.stringify({ ref: 'main', sha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7' });
  // Flux's docs: printf '<body>' | openssl dgst -<hash> -r -hmac "<token>", sent as X-Signature: <hash>=<hex>.
  const sign = (hash: string, key = TOKEN) => `${hash}=${createHmac(hash, key).update(body).digest('hex')}`;

  it('accepts X-Signature with sha1, sha256 and sha512', async () => {
    const h = receiverHarness({ manifest: receiverManifest('generic-hmac') });
    for (const hash of ['sha1', 'sha256', 'sha512']) {
      const res = await h.send({ payload: body, headers: { 'content-type': 'application/json', 'x-signature': sign(hash) } });
      expect(res.statusCode, hash).toBe(200);
    }
    expect(h.reconciled).toHaveLength(3);
  });

  it('answers a missing, unprefixed, unknown-hash or wrong signature with an empty 401', async () => {
    const h = receiverHarness({ manifest: receiverManifest('generic-hmac') });
    const bare = createHmac('sha256', TOKEN).update(body).digest('hex');
    for (const signature of [undefined, bare, `md5=${bare}`, sign('sha256', 'wrong-token'), sign('sha256').slice(0, -2)]) {
      const res = await h.send({ payload: body, headers: { 'content-type': 'application/json', ...(signature && { 'x-signature': signature }) } });
      expect(res.statusCode).toBe(401);
      expect(res.body).toBe('');
    }
    expect(h.reconciled).toEqual([]);
  });

  it('checks the signature over the exact bytes sent: re-serialised JSON does not pass', async () => {
    const h = receiverHarness({ manifest: receiverManifest('generic-hmac') });
    const spaced = JSON.stringify(JSON.parse(body), null, 2);
    const res = await h.send({ payload: spaced, headers: { 'content-type': 'application/json', 'x-signature': sign('sha256') } });
    expect(res.statusCode).toBe(401);
  });
});
