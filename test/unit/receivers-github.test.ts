import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkPrefixedHmac } from '../../src/receivers/verify.js';
import { TOKEN, receiverHarness, receiverManifest } from '../support/receivers.js';

// The shape GitHub sends for a push (docs: webhook events and payloads, "push"), trimmed.
const PUSH = JSON.stringify({
  ref: 'refs/heads/main',
  before: '6113728f27ae82c7b1a177c8d03f9e96e0adf246',
  after: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c',
  repository: { id: 186853002, name: 'webapp', full_name: 'example-org/webapp', private: false },
  pusher: { name: 'octocat', email: 'octocat@example.com' },
  commits: [{ id: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c', message: 'Update README.md', timestamp: '2026-11-30T10:00:00Z' }],
});
const PING = JSON.stringify({ zen: 'Design for failure.', hook_id: 109948940, hook: { type: 'Repository', id: 109948940, events: ['push'], active: true } });

const hubSignature = (algorithm: 'sha1' | 'sha256', body: string, key = TOKEN) => `${algorithm}=${createHmac(algorithm, key).update(body).digest('hex')}`;

function github(events?: string[]) {
  return receiverHarness({ manifest: receiverManifest('github', events ? { events } : {}) });
}

describe('github receiver', () => {
  it("checks GitHub's documented test vector for X-Hub-Signature-256", () => {
    const body = Buffer.from('Hello, World!');
    const signature = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
    expect(checkPrefixedHmac(signature, body, "It's a Secret to Everybody")).toBeUndefined();
    expect(checkPrefixedHmac(signature, body, 'another secret')).toBe('the signature does not match the payload');
  });

  it('accepts a push signed with X-Hub-Signature-256 and requests a reconcile of the GitRepository', async () => {
    const h = github(['ping', 'push']);
    const res = await h.send({
      payload: PUSH,
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': hubSignature('sha256', PUSH), 'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('');
    expect(h.reconciled).toEqual(['GitRepository/apps/webapp']);
  });

  it('accepts the legacy sha1 X-Hub-Signature when no sha256 header is sent', async () => {
    const h = github();
    const res = await h.send({ payload: PUSH, headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature': hubSignature('sha1', PUSH) } });
    expect(res.statusCode).toBe(200);
    expect(h.reconciled).toHaveLength(1);
  });

  it('answers the ping GitHub sends when the webhook is created, when ping is among the events', async () => {
    const h = github(['ping', 'push']);
    const res = await h.send({ payload: PING, headers: { 'content-type': 'application/json', 'x-github-event': 'ping', 'x-hub-signature-256': hubSignature('sha256', PING) } });
    expect(res.statusCode).toBe(200);
  });

  it('refuses an event not in spec.events with 400, as Flux does, and reconciles nothing', async () => {
    const h = github(['push']);
    const res = await h.send({ payload: PING, headers: { 'content-type': 'application/json', 'x-github-event': 'ping', 'x-hub-signature-256': hubSignature('sha256', PING) } });
    expect(res.statusCode).toBe(400);
    expect(h.reconciled).toEqual([]);
  });

  it('matches spec.events case-insensitively', async () => {
    const h = github(['PUSH']);
    const res = await h.send({ payload: PUSH, headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': hubSignature('sha256', PUSH) } });
    expect(res.statusCode).toBe(200);
  });

  it('answers a wrong, missing or malformed signature with an empty 401 that names nothing', async () => {
    const h = github();
    const wrong = hubSignature('sha256', PUSH, 'not-the-token');
    for (const headers of [{ 'x-hub-signature-256': wrong }, {}, { 'x-hub-signature-256': 'sha256=zz' }, { 'x-hub-signature-256': `md5=${'0'.repeat(32)}` }]) {
      const res = await h.send({ payload: PUSH, headers: { 'content-type': 'application/json', 'x-github-event': 'push', ...headers } });
      expect(res.statusCode).toBe(401);
      expect(res.body).toBe('');
    }
    expect(h.reconciled).toEqual([]);
    const logs = h.logs.join('\n');
    expect(logs).not.toContain(TOKEN);
    expect(logs).not.toContain(wrong.slice(7));
    expect(logs).not.toContain(h.path);
  });

  it('takes a form-encoded delivery: the signature covers the raw form body', async () => {
    const h = github();
    const form = `payload=${encodeURIComponent(PUSH)}`;
    const res = await h.send({ payload: form, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-github-event': 'push', 'x-hub-signature-256': hubSignature('sha256', form) } });
    expect(res.statusCode).toBe(200);
  });

  it('refuses a content type GitHub does not send with 400', async () => {
    const h = github();
    const res = await h.send({ payload: PUSH, headers: { 'content-type': 'text/plain', 'x-github-event': 'push', 'x-hub-signature-256': hubSignature('sha256', PUSH) } });
    expect(res.statusCode).toBe(400);
  });
});
