import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeliveryError, createHttpClient, createMasker, parseRetryAfter } from '../../providers/http.js';
import { testProviderConfig } from '../support/provider-config.js';
import { startSink, type Sink } from '../support/sink.js';

async function failure(promise: Promise<unknown>): Promise<DeliveryError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(DeliveryError);
    return err as DeliveryError;
  }
  throw new Error('expected a DeliveryError');
}

describe('parseRetryAfter', () => {
  it.each([
    ['120', 120_000],
    [' 0 ', 0],
    ['Thu, 01 Jan 2026 00:01:00 GMT', 60_000],
    ['soon', undefined],
    [undefined, undefined],
  ])('%s → %s', (value, expected) => {
    expect(parseRetryAfter(value, Date.parse('2026-01-01T00:00:00Z'))).toBe(expected);
  });
});

describe('createMasker', () => {
  it('masks every sensitive value and URL credentials', () => {
    const mask = createMasker(['s3cr3t-token', 'ab']);
    expect(mask('token s3cr3t-token at https://user:pw@example.com/x and ab')).toBe('token ***** at https://*****@example.com/x and ab');
    expect(mask('redis://:hunter2@127.0.0.1:6379')).toBe('redis://*****@127.0.0.1:6379');
  });
});

describe('shared HTTP client', () => {
  let sink: Sink;
  beforeEach(async () => {
    sink = await startSink();
  });
  afterEach(async () => {
    await sink.close();
  });

  it.each([
    [500, true],
    [502, true],
    [408, true],
    [429, true],
    [400, false],
    [401, false],
    [404, false],
  ])('status %i is retryable: %s', async (status, retryable) => {
    sink.respondWith(() => ({ status, body: 'nope' }));
    const http = createHttpClient(testProviderConfig({ type: 'generic' }));
    const err = await failure(http.send({ url: sink.url, json: {} }));
    expect(err.retryable).toBe(retryable);
    expect(err.status).toBe(status);
  });

  it('passes Retry-After on 429', async () => {
    sink.respondWith(() => ({ status: 429, headers: { 'retry-after': '7' } }));
    const err = await failure(createHttpClient(testProviderConfig({ type: 'generic' })).send({ url: sink.url, json: {} }));
    expect(err.retryAfterMs).toBe(7000);
  });

  it('times out a hanging provider as retryable', async () => {
    sink.respondWith(() => undefined);
    const http = createHttpClient(testProviderConfig({ type: 'generic', timeoutMs: 300 }));
    const started = Date.now();
    const err = await failure(http.send({ url: sink.url, json: {} }));
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/timed out after 300ms/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('treats a refused connection as retryable', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const err = await failure(createHttpClient(testProviderConfig({ type: 'generic' })).send({ url: `http://127.0.0.1:${port}/`, json: {} }));
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/ECONNREFUSED/);
  });

  it('never puts a token or the URL path in an error message', async () => {
    sink.respondWith((req) => ({ status: 400, body: `bad token ${req.headers.authorization} at ${req.url}` }));
    const config = testProviderConfig({ type: 'generic', token: 'tok-123456', sensitiveValues: ['/hooks/T000/B000/XXXX'] });
    const http = createHttpClient(config);
    const err = await failure(
      http.send({ url: `${sink.url}/hooks/T000/B000/XXXX`, json: {}, headers: { authorization: 'Bearer tok-123456' } }),
    );
    expect(err.message).not.toContain('tok-123456');
    expect(err.message).not.toContain('/hooks/T000/B000/XXXX');
    expect(err.message).toContain(`POST ${sink.url}: provider answered 400`);
  });

  it('masks a secret the provider quotes across the cut of a long answer, and basic-auth credentials', async () => {
    const token = 'tok-straddling-the-cut-0123456789';
    sink.respondWith((req) => ({ status: 500, body: `${'.'.repeat(500)}${token} ${String(req.headers.authorization)}` }));
    const http = createHttpClient(testProviderConfig({ type: 'generic', token }));
    const basic = `Basic ${Buffer.from('user:pass-9876').toString('base64')}`;
    const err = await failure(http.send({ url: sink.url, json: {}, headers: { Authorization: basic } }));
    expect(err.message).not.toContain(token.slice(0, 12));
    sink.respondWith((req) => ({ status: 401, body: `bad credentials ${String(req.headers.authorization)}` }));
    const denied = await failure(http.send({ url: sink.url, json: {}, headers: { Authorization: basic } }));
    expect(denied.message).toBe(`POST ${sink.url}: provider answered 401: bad credentials *****`);
  });

  it('sends the provider headers and lets request headers win', async () => {
    const http = createHttpClient(testProviderConfig({ type: 'generic', headers: { 'x-a': 'provider', 'x-b': 'provider' } }));
    await http.send({ url: sink.url, json: { ok: true }, headers: { 'x-b': 'request' } });
    const [req] = await sink.waitFor(1);
    expect(req?.headers['x-a']).toBe('provider');
    expect(req?.headers['x-b']).toBe('request');
    expect(JSON.parse(req?.body ?? '')).toEqual({ ok: true });
  });
});
