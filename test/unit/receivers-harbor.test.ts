import { describe, expect, it } from 'vitest';
import { TOKEN, receiverHarness, receiverManifest } from '../support/receivers.js';

// Harbor's PUSH_ARTIFACT payload (docs: configure webhooks, payload format), trimmed.
const PUSH_ARTIFACT = JSON.stringify({
  type: 'PUSH_ARTIFACT',
  occur_at: 1764497700,
  operator: 'admin',
  event_data: {
    resources: [{ digest: 'sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4', tag: '1.2.3', resource_url: 'harbor.example.com/library/webapp:1.2.3' }],
    repository: { date_created: 1764497600, name: 'webapp', namespace: 'library', repo_full_name: 'library/webapp', repo_type: 'public' },
  },
});

describe('harbor receiver', () => {
  const image = { apiVersion: 'image.toolkit.fluxcd.io/v1', kind: 'ImageRepository', metadata: { name: 'webapp', namespace: 'apps' } };
  const manifest = receiverManifest('harbor', { resources: [{ apiVersion: 'image.toolkit.fluxcd.io/v1', kind: 'ImageRepository', name: 'webapp' }] });

  it('accepts a request whose Authorization header is the token (Harbor\'s "Auth Header")', async () => {
    const h = receiverHarness({ manifest, objects: [image] });
    const res = await h.send({ payload: PUSH_ARTIFACT, headers: { 'content-type': 'application/json', authorization: TOKEN } });
    expect(res.statusCode).toBe(200);
    expect(h.reconciled).toEqual(['ImageRepository/apps/webapp']);
  });

  it('answers another Authorization with an empty 401', async () => {
    const h = receiverHarness({ manifest, objects: [image] });
    for (const authorization of [`Bearer ${TOKEN}`, 'x']) {
      const res = await h.send({ payload: PUSH_ARTIFACT, headers: { 'content-type': 'application/json', authorization } });
      expect(res.statusCode).toBe(401);
      expect(res.body).toBe('');
    }
    expect((await h.send({ payload: PUSH_ARTIFACT })).statusCode).toBe(401);
    expect(h.reconciled).toEqual([]);
  });
});
