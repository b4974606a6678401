/**
 * How the admin listener serves the web console's files: without the token but only for GETs of
 * the console's own routes, with the security headers, from memory (no path a request names is
 * ever read), within the documented bounds, and with a clear 503 when the files are missing.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MemoryQueue } from '../../src/delivery/memory-queue.js';
import { createLogger } from '../../src/observability/logger.js';
import { Metrics } from '../../src/observability/metrics.js';
import { buildAdminServer } from '../../src/server/admin.js';
import { MAX_CONSOLE_BYTES, MAX_CONSOLE_FILES, consoleDirectory, loadConsoleFiles, registerConsole } from '../../src/server/console.js';
import { makeTempDir } from '../support/tmp.js';

const TOKEN = 'unit-console-token';

function admin(token: string | undefined = TOKEN) {
  const queue = new MemoryQueue({ policy: { attempts: 3, baseDelayMs: 10, maxDelayMs: 40, maxRetryAfterMs: 1000 }, concurrency: 1 });
  return buildAdminServer({ queue, metrics: new Metrics({ processMetrics: false }), logger: createLogger('silent'), token, listenHost: '127.0.0.1' });
}

describe('web console files', () => {
  it('serves every file of the shipped directory without the token, with CSP, nosniff and no framing', async () => {
    const app = admin();
    const names = readdirSync(consoleDirectory());
    expect(names).toEqual(expect.arrayContaining(['index.html', 'deliveries.html', 'dead-letters.html', 'explain.html', 'test.html', 'console.css', 'api.js']));
    for (const name of names) {
      const res = await app.inject({ method: 'GET', url: `/console/${name}`, headers: { host: '127.0.0.1:9400' } });
      expect(res.statusCode, name).toBe(200);
      expect(res.headers['content-security-policy']).toContain("default-src 'self'");
      expect(res.headers['content-security-policy']).toContain("script-src 'self';");
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
    const index = await app.inject({ method: 'GET', url: '/console' });
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.body).toContain('<title>Resources');
    expect((await app.inject({ method: 'GET', url: '/console/' })).body).toBe(index.body);
    expect((await app.inject({ method: 'GET', url: '/console/api.js' })).headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect((await app.inject({ method: 'HEAD', url: '/console/console.css' })).statusCode).toBe(200);
  });

  it('no page runs inline script or inline style (the CSP would block it), and none parses data as HTML', () => {
    const files = loadConsoleFiles(consoleDirectory());
    for (const [name, file] of files) {
      const text = file.body.toString('utf8');
      if (name.endsWith('.html')) {
        const scripts = text.match(/<script\b[^>]*>/g) ?? [];
        expect(scripts.length, name).toBeGreaterThan(0);
        for (const tag of scripts) expect(tag, name).toMatch(/^<script type="module" src="\/console\/[a-z-]+\.js">$/);
        expect(text, name).not.toMatch(/\sstyle=|<style|\son[a-z]+=/i);
      }
      if (name.endsWith('.js')) expect(text, name).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
    }
  });

  it('the token is still required for everything else, and the console answers only GET/HEAD of its own routes without it', async () => {
    const app = admin();
    expect((await app.inject({ method: 'GET', url: '/deliveries' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/console/', headers: { 'content-type': 'application/json' }, payload: '{}' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/consoles' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/deliveries', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode).toBe(200);
  });

  it('keeps the cross-site and Host checks for the console', async () => {
    const app = admin(undefined);
    expect((await app.inject({ method: 'GET', url: '/console/', headers: { host: 'attacker.example' } })).statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: '/console/', headers: { 'sec-fetch-site': 'cross-site' } })).statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: '/console/', headers: { origin: 'https://attacker.example' } })).statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: '/console/', headers: { 'sec-fetch-site': 'none' } })).statusCode).toBe(200);
  });

  it('never reads a path a request names: only the files loaded at startup', async () => {
    const app = admin();
    for (const url of ['/console/../package.json', '/console/%2e%2e/package.json', '/console/..%2fpackage.json', '/console/nope.js', '/console/sub/index.html']) {
      const res = await app.inject({ method: 'GET', url });
      // 404 from the console, or 401 when the URL was normalised out of /console (then it is an API path).
      expect([401, 404], url).toContain(res.statusCode);
      expect(res.body, url).not.toContain('herald');
    }
  });

  it('refuses a directory beyond its bounds or with unknown files, naming the problem', async () => {
    const many = await makeTempDir('console-many-');
    for (let i = 0; i <= MAX_CONSOLE_FILES; i++) writeFileSync(join(many, `f${i}.js`), '');
    expect(() => loadConsoleFiles(many)).toThrow(`at most ${MAX_CONSOLE_FILES}`);

    const big = await makeTempDir('console-big-');
    writeFileSync(join(big, 'index.html'), 'x'.repeat(MAX_CONSOLE_BYTES + 1));
    expect(() => loadConsoleFiles(big)).toThrow(`exceed ${MAX_CONSOLE_BYTES} bytes`);

    const odd = await makeTempDir('console-odd-');
    writeFileSync(join(odd, 'index.html'), '');
    writeFileSync(join(odd, 'secret.env'), '');
    expect(() => loadConsoleFiles(odd)).toThrow(/secret\.env: the console serves only/);
    const nested = await makeTempDir('console-nested-');
    writeFileSync(join(nested, 'index.html'), '');
    mkdirSync(join(nested, 'sub.js'));
    expect(() => loadConsoleFiles(nested)).toThrow(/sub\.js: the console serves only plain files/);

    const noIndex = await makeTempDir('console-noindex-');
    writeFileSync(join(noIndex, 'app.js'), '');
    expect(() => loadConsoleFiles(noIndex)).toThrow('has no index.html');
  });

  it('a missing directory leaves Herald running: the console answers 503 saying why, logged once', async () => {
    const out = new PassThrough();
    let logged = '';
    out.on('data', (chunk: Buffer) => (logged += chunk.toString()));
    const missing = join(await makeTempDir('console-missing-'), 'nowhere');
    const { default: Fastify } = await import('fastify');
    const app = Fastify();
    registerConsole(app, createLogger('info', out), missing);
    const res = await app.inject({ method: 'GET', url: '/console/' });
    expect(res.statusCode).toBe(503);
    expect(res.json().message).toMatch(/the web console's files could not be read: .*ENOENT/);
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(logged.match(/could not be read/g)).toHaveLength(1);
  });
});
