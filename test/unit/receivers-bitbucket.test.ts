import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TOKEN, receiverHarness, receiverManifest } from '../support/receivers.js';

// Bitbucket Server's "repo:refs_changed" (docs: event payload, Push), trimmed.
const REFS_CHANGED = JSON.stringify({
  eventKey: 'repo:refs_changed',
  date: '2026-11-30T10:15:00+0000',
  actor: { name: 'admin', emailAddress: 'admin@example.com', id: 1, slug: 'admin', type: 'NORMAL' },
  repository: { slug: 'webapp', id: 84, name: 'webapp', project: { key: 'PRJ', id: 84, name: 'Project' } },
  changes: [{ ref: { id: 'refs/heads/main', displayId: 'main', type: 'BRANCH' }, refId: 'refs/heads/main', fromHash: 'ecddabb624f6f5ba43816f5926e580a5f680a932', toHash: '178864a7d521b6f5e720b386b2c2b0ef8563e0dc', type: 'UPDATE' }],
});

// Bitbucket Server signs with HMAC-SHA256 of the body, in X-Hub-Signature as sha256=<hex>.
const signature = (body: string, key = TOKEN) => `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;

describe('bitbucket receiver', () => {
  it('accepts a signed repo:refs_changed and filters on X-Event-Key', async () => {
    const h = receiverHarness({ manifest: receiverManifest('bitbucket', { events: ['repo:refs_changed'] }) });
    const headers = { 'content-type': 'application/json; charset=utf-8', 'x-event-key': 'repo:refs_changed', 'x-request-id': 'c7d8d1a8-6f3c-4d1b-a8c1-8c1d2c0e7f7a' };
    expect((await h.send({ payload: REFS_CHANGED, headers: { ...headers, 'x-hub-signature': signature(REFS_CHANGED) } })).statusCode).toBe(200);
    expect(h.reconciled).toEqual(['GitRepository/apps/webapp']);
    const other = await h.send({ payload: REFS_CHANGED, headers: { ...headers, 'x-event-key': 'pr:opened', 'x-hub-signature': signature(REFS_CHANGED) } });
    expect(other.statusCode).toBe(400);
  });

  it('answers a signature made with another secret with an empty 401', async () => {
    const h = receiverHarness({ manifest: receiverManifest('bitbucket') });
    const res = await h.send({ payload: REFS_CHANGED, headers: { 'content-type': 'application/json', 'x-event-key': 'repo:refs_changed', 'x-hub-signature': signature(REFS_CHANGED, 'other') } });
    expect(res.statusCode).toBe(401);
    expect(res.body).toBe('');
    expect(h.reconciled).toEqual([]);
  });
});
