import { createHook } from 'node:async_hooks';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeliveryError, MAX_ANSWER_BYTES, createHttpClient, createMasker, parseRetryAfter } from '../../providers/http.js';
import { ownListenerAt, setOwnListeners } from '../../providers/own-listeners.js';
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

  it('takes linear time on a long run of letters (was quadratic: 64 KiB took 5.7 s)', () => {
    const mask = createMasker(['s3cr3t-token']);
    const letters = 'a'.repeat(1024 * 1024);
    const started = performance.now();
    expect(mask(letters)).toBe(letters);
    expect(mask(`${letters}://user:pass@${letters}`)).toBe(`${letters}://*****@${letters}`);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  // The masker before the linear rewrite, as the reference of what must stay hidden.
  const previousMasker = (values: string[]) => (text: string) => {
    let masked = text.replace(/(\w+:\/\/)[^/\s:@]*:[^/\s@]+@/g, '$1*****@');
    for (const value of [...new Set(values.filter((v) => v.length >= 4))].sort((a, b) => b.length - a.length)) {
      masked = masked.split(value).join('*****');
    }
    return masked;
  };
  const secretArb = fc.stringMatching(/^[a-z0-9:@/.-]{4,12}$/);
  const piece = (secrets: string[]) =>
    fc.oneof(
      fc.constantFrom(...secrets, 'https://', 'ab://', '://', 'user:pw@', ':', '@', '/', ' ', 'host', '\n'),
      fc.stringMatching(/^[a-z]{0,6}$/),
    );
  const textArb = fc
    .array(secretArb, { minLength: 1, maxLength: 3 })
    .chain((secrets) => fc.tuple(fc.constant(secrets), fc.array(piece(secrets), { maxLength: 30 }).map((p) => p.join(''))));

  it('still hides every secret the previous masker hid', () => {
    fc.assert(
      fc.property(textArb, ([secrets, text]) => {
        const before = previousMasker(secrets)(text);
        const after = createMasker(secrets)(text);
        for (const secret of secrets) {
          if (text.includes(secret) && !before.includes(secret)) expect(after).not.toContain(secret);
        }
        // Every `://` after a word character is where both mask URL credentials: same output.
        if (!/(^|\W):\/\//.test(text)) expect(after).toBe(before);
      }),
      { numRuns: 300 },
    );
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

  it('arms no deadline timer of its own per request: the timeout is the HTTP client\'s own', async () => {
    const http = createHttpClient(testProviderConfig({ type: 'generic', timeoutMs: 61_234 }));
    await http.send({ url: sink.url, json: {} });
    // Timers armed for the provider's timeout (the sink's own, in this process, have other durations).
    let timersStarted = 0;
    const hook = createHook({
      init: (_id, type, _trigger, resource) => void (type === 'Timeout' && (resource as { _idleTimeout?: number })._idleTimeout === 61_234 && timersStarted++),
    }).enable();
    try {
      for (let i = 0; i < 50; i++) await http.send({ url: sink.url, json: { i } });
    } finally {
      hook.disable();
    }
    // A deadline timer per request (AbortSignal.timeout) made 50, each left armed for its full timeout.
    expect(timersStarted).toBe(0);
    await http.close();
  });

  it('times out an answer whose body stalls after its headers, as retryable', async () => {
    const stalled = createHttpServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
    });
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
    try {
      const http = createHttpClient(testProviderConfig({ type: 'generic', timeoutMs: 300 }));
      const started = Date.now();
      const err = await failure(http.send({ url: `http://127.0.0.1:${(stalled.address() as AddressInfo).port}/`, json: {} }));
      expect(err.retryable).toBe(true);
      expect(err.message).toContain('provider answered 200 but its answer did not arrive whole: timed out after 300ms');
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      stalled.closeAllConnections();
      await new Promise((resolve) => stalled.close(resolve));
    }
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

/**
 * A provider answering `status` with a body streamed lazily up to `maxBytes` (or forever, within
 * `maxMs`), counting what it wrote; with `trickleMs`, one byte every `trickleMs` instead.
 */
async function streamingProvider(
  status: number,
  maxBytes: number,
  opts: { maxMs?: number; trickleMs?: number } = {},
): Promise<{ url: string; written: () => number; close(): Promise<void> }> {
  let written = 0;
  const chunk = Buffer.alloc(opts.trickleMs ? 1 : 64 * 1024, 'x');
  const server: Server = createHttpServer((req, res) => {
    req.resume();
    res.writeHead(status, { 'content-type': 'text/plain' });
    const until = Date.now() + (opts.maxMs ?? 20_000);
    const pump = () => {
      while (written < maxBytes && Date.now() < until && !res.destroyed) {
        written += chunk.length;
        if (opts.trickleMs) return void (res.write(chunk), setTimeout(pump, opts.trickleMs));
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    written: () => written,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('bounded answers', () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });
  async function provider(status: number, maxBytes: number, opts: { trickleMs?: number } = {}) {
    const p = await streamingProvider(status, maxBytes, opts);
    closers.push(p.close);
    return p;
  }

  it('cuts an error answer at the bound and drops the connection', async () => {
    const p = await provider(500, 1024 ** 3);
    const started = Date.now();
    const err = await failure(createHttpClient(testProviderConfig({ type: 'generic' })).send({ url: p.url, json: {} }));
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/provider answered 500: x+…$/);
    expect(err.message.length).toBeLessThan(700);
    await new Promise((r) => setTimeout(r, 200));
    expect(p.written()).toBeLessThan(64 * 1024 * 1024);
  });

  it('counts a 2xx answer still trickling at the timeout as a failed attempt, not a delivery', async () => {
    const p = await provider(200, Number.MAX_SAFE_INTEGER, { trickleMs: 20 });
    const http = createHttpClient(testProviderConfig({ type: 'generic', timeoutMs: 500 }));
    const err = await failure(http.send({ url: p.url, json: {} }));
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('provider answered 200 but its answer did not arrive whole: timed out after 500ms');
  });

  it('reads only the bound of an endless 2xx answer, and fails it for good without counting it delivered', async () => {
    const p = await provider(200, Number.MAX_SAFE_INTEGER);
    const started = Date.now();
    const err = await failure(createHttpClient(testProviderConfig({ type: 'generic' })).send({ url: p.url, json: {} }));
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(`provider answered 200 with more than ${MAX_ANSWER_BYTES} bytes: not counted as delivered`);
    await new Promise((r) => setTimeout(r, 200));
    expect(p.written()).toBeLessThan(64 * 1024 * 1024);
  });

  it('delivers a 2xx answer up to the bound, which a request may raise', async () => {
    const http = createHttpClient(testProviderConfig({ type: 'generic' }));
    const exact = await provider(200, MAX_ANSWER_BYTES);
    expect((await http.send({ url: exact.url, json: {} })).body).toHaveLength(MAX_ANSWER_BYTES);
    const long = await provider(200, 4 * MAX_ANSWER_BYTES);
    expect((await http.send({ url: long.url, json: {}, maxAnswerBytes: 8 * MAX_ANSWER_BYTES })).body).toHaveLength(4 * MAX_ANSWER_BYTES);
  });
});

describe('redirects', () => {
  let first: Sink;
  let second: Sink;
  beforeEach(async () => {
    [first, second] = [await startSink(), await startSink()];
  });
  afterEach(async () => {
    await first.close();
    await second.close();
  });
  const token = 'tok-redirect-0123456789';
  const apiKey = 'key-from-the-secret-42';
  const client = () => createHttpClient(testProviderConfig({ type: 'generic', token, headers: { 'X-Team-Key': apiKey, 'X-Plain': 'kept' } }));
  const send = () =>
    client().send({ url: `${first.url}/hook`, json: { hello: 'world' }, headers: { authorization: `Bearer ${token}`, 'gotk-component': 'herald' } });

  it.each([
    [301, 'GET', ''],
    [302, 'GET', ''],
    [303, 'GET', ''],
    [307, 'POST', '{"hello":"world"}'],
    [308, 'POST', '{"hello":"world"}'],
  ])('same origin %i: %s, credentials kept', async (status, method, body) => {
    first.respondWith((req) => (req.url === '/hook' ? { status, headers: { location: '/moved' } } : { status: 200 }));
    await send();
    const moved = first.requests[1];
    expect(moved?.url).toBe('/moved');
    expect(moved?.method).toBe(method);
    expect(moved?.body).toBe(body);
    expect(moved?.headers.authorization).toBe(`Bearer ${token}`);
    expect(moved?.headers['x-team-key']).toBe(apiKey);
    expect(moved?.headers['content-type']).toBe(body ? 'application/json' : undefined);
  });

  it.each([
    [302, 'GET', ''],
    [308, 'POST', '{"hello":"world"}'],
  ])('another origin %i: %s, no credential and no header from the Secret', async (status, method, body) => {
    first.respondWith(() => ({ status, headers: { location: `${second.url}/elsewhere` } }));
    await send();
    const [moved] = await second.waitFor(1);
    expect(moved?.method).toBe(method);
    expect(moved?.body).toBe(body);
    expect(moved?.headers.authorization).toBeUndefined();
    expect(moved?.headers['x-team-key']).toBeUndefined();
    expect(moved?.headers['x-plain']).toBeUndefined();
    expect(moved?.headers['gotk-component']).toBe('herald');
  });

  it('never takes credentials back to the first origin after another one', async () => {
    first.respondWith((req) => (req.url === '/hook' ? { status: 307, headers: { location: `${second.url}/x` } } : { status: 200 }));
    second.respondWith(() => ({ status: 307, headers: { location: `${first.url}/back` } }));
    await send();
    expect(first.requests[1]?.url).toBe('/back');
    expect(first.requests[1]?.headers.authorization).toBeUndefined();
  });

  it('does not send a body holding a secret to another origin', async () => {
    first.respondWith(() => ({ status: 307, headers: { location: `${second.url}/x` } }));
    const http = createHttpClient(testProviderConfig({ type: 'pagerduty', sensitiveValues: ['routing-key-0123'] }));
    const err = await failure(http.send({ url: first.url, json: { routing_key: 'routing-key-0123' } }));
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/redirect not followed: the request body carries a credential/);
    expect(second.requests).toHaveLength(0);
  });

  it('stops after 10 redirects, for good', async () => {
    first.respondWith((req) => ({ status: 302, headers: { location: `/r${req.url.length}` } }));
    const err = await failure(send());
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/stopped after 10 redirects/);
    expect(first.requests).toHaveLength(11);
  });

  it('fails a 3xx without Location, or to another scheme, for good', async () => {
    first.respondWith(() => ({ status: 302 }));
    expect((await failure(send())).message).toMatch(/provider answered 302$/);
    first.respondWith(() => ({ status: 302, headers: { location: 'file:///etc/passwd' } }));
    expect((await failure(send())).message).toMatch(/file: URLs are not followed/);
  });

  it('keeps a token of the Location out of errors', async () => {
    const signed = 'sig-in-the-location-987654';
    first.respondWith(() => ({ status: 302, headers: { location: `${second.url}/signed/${signed}?sig=${signed}x` } }));
    second.respondWith((req) => ({ status: 500, body: `nothing at ${req.url}` }));
    const err = await failure(send());
    expect(err.message).toContain(`(redirected to GET ${second.url}): provider answered 500`);
    expect(err.message).not.toContain(signed);
  });
});

describe("Herald's own listeners", () => {
  let sink: Sink;
  beforeEach(async () => {
    sink = await startSink();
  });
  afterEach(async () => {
    setOwnListeners([]);
    await sink.close();
  });

  it('refuses, for good, a provider address that reaches one, whatever its spelling', async () => {
    setOwnListeners([{ flag: 'admin-addr', host: '127.0.0.1', port: sink.port }]);
    const http = createHttpClient(testProviderConfig({ type: 'generic' }));
    const spellings = [`${sink.url}/dead-letters/replay`, `http://localhost:${sink.port}/`, `http://[::ffff:127.0.0.1]:${sink.port}/`];
    // https: refused on the TCP connection, before a TLS handshake could fail on a plain listener.
    for (const url of [...spellings, `https://localhost:${sink.port}/`]) {
      const err = await failure(http.send({ url, json: {} }));
      expect(err.retryable).toBe(false);
      expect(err.message).toContain("reaches Herald's own --admin-addr listener");
    }
    expect(sink.requests).toHaveLength(0);
  });

  it('refuses a redirect to one, and a proxy that is one', async () => {
    const other = await startSink(() => ({ status: 307, headers: { location: `${sink.url}/dead-letters/replay` } }));
    try {
      setOwnListeners([{ flag: 'admin-addr', host: '0.0.0.0', port: sink.port }]);
      const err = await failure(createHttpClient(testProviderConfig({ type: 'generic' })).send({ url: other.url, json: {} }));
      expect(err.message).toContain('--admin-addr');
      const viaProxy = createHttpClient(testProviderConfig({ type: 'generic', proxy: sink.url }));
      expect((await failure(viaProxy.send({ url: 'http://example.invalid/', json: {} }))).message).toContain('--admin-addr');
      expect(sink.requests).toHaveLength(0);
    } finally {
      await other.close();
    }
  });

  it('lets loopback providers on other ports through', async () => {
    setOwnListeners([{ flag: 'admin-addr', host: '0.0.0.0', port: sink.port + 1 }]);
    await createHttpClient(testProviderConfig({ type: 'generic' })).send({ url: sink.url, json: {} });
    expect(sink.requests).toHaveLength(1);
  });

  it('matches an any-address or loopback listener on every local address, a specific one on itself only', () => {
    setOwnListeners([
      { flag: 'events-addr', host: '0.0.0.0', port: 9090 },
      { flag: 'admin-addr', host: '127.0.0.1', port: 9400 },
      { flag: 'metrics-addr', host: '192.0.2.7', port: 8080 },
    ]);
    expect(ownListenerAt('127.0.0.9', 9090)?.flag).toBe('events-addr');
    expect(ownListenerAt('::1', 9400)?.flag).toBe('admin-addr');
    expect(ownListenerAt('::ffff:127.0.0.1', 9400)?.flag).toBe('admin-addr');
    expect(ownListenerAt('192.0.2.7', 8080)?.flag).toBe('metrics-addr');
    expect(ownListenerAt('127.0.0.1', 8080)).toBeUndefined();
    expect(ownListenerAt('198.51.100.1', 9090)).toBeUndefined();
    expect(ownListenerAt('127.0.0.1', 9091)).toBeUndefined();
  });
});
