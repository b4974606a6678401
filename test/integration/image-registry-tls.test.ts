/**
 * The registry client over TLS with a private CA (`certSecretRef` ca.crt), with a client
 * certificate (mTLS: tls.crt + tls.key), and through a proxy that requires credentials
 * (`proxySecretRef`).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseImageReference } from '../../src/image/image-ref.js';
import { proxyFromSecret, tlsFromSecret } from '../../src/image/registry-auth.js';
import { RegistryError, createRegistryClient } from '../../src/image/registry.js';
import { hasOpenssl, makeTestCa, type TestCa } from '../support/test-ca.js';

function listen(server: Server | HttpsServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function close(server: Server | HttpsServer): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function registry(req: IncomingMessage, res: ServerResponse): void {
  if (req.url === '/v2/') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  if (req.url?.startsWith('/v2/team/app/tags/list')) {
    return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: 'team/app', tags: ['tls-1', 'tls-2'] }));
  }
  res.writeHead(404).end();
}

const secret = (name: string, data: Record<string, string>) => ({ metadata: { name, namespace: 'apps' }, data });

describe.skipIf(!hasOpenssl)('TLS, mTLS and proxies', () => {
  let ca: TestCa;
  let tlsServer: HttpsServer;
  let mtlsServer: HttpsServer;
  let proxy: Server;
  let tlsPort: number;
  let mtlsPort: number;
  let proxyPort: number;
  const proxyAuthorizations: (string | undefined)[] = [];

  beforeAll(async () => {
    ca = await makeTestCa();
    tlsServer = createHttpsServer({ cert: ca.pem.serverCert, key: ca.pem.serverKey }, registry);
    mtlsServer = createHttpsServer({ cert: ca.pem.serverCert, key: ca.pem.serverKey, ca: ca.pem.ca, requestCert: true, rejectUnauthorized: true }, registry);
    proxy = createHttpServer((_req, res) => res.writeHead(501).end());
    proxy.on('connect', (req, socket, head) => {
      proxyAuthorizations.push(req.headers['proxy-authorization']);
      if (req.headers['proxy-authorization'] !== `Basic ${Buffer.from('proxy-user:proxy-pass-4417').toString('base64')}`) {
        socket.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n');
        return;
      }
      const [host, port] = (req.url ?? '').split(':');
      const upstream = connect(Number(port), host, () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
      upstream.on('error', () => socket.destroy());
    });
    [tlsPort, mtlsPort, proxyPort] = [await listen(tlsServer), await listen(mtlsServer), await listen(proxy)];
  });

  afterAll(async () => {
    await close(tlsServer);
    await close(mtlsServer);
    await close(proxy);
  });

  it('trusts a private CA from certSecretRef ca.crt, and refuses the certificate without it', async () => {
    const ref = parseImageReference(`localhost:${tlsPort}/team/app`);
    const trusting = createRegistryClient({ tls: tlsFromSecret(secret('ca', { 'ca.crt': ca.pem.ca })) });
    const plain = createRegistryClient({ maxAttempts: 1 });
    try {
      expect(await trusting.listTags(ref, undefined, 5000)).toEqual(['tls-1', 'tls-2']);
      // Without the http fallback of local registries, to see the https failure itself.
      const err = await plain.listTags({ ...ref, httpFallback: false }, undefined, 5000).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RegistryError);
      expect((err as Error).message).toMatch(new RegExp(`^GET https://localhost:${tlsPort}/v2/: .*certificate`, 'i'));
    } finally {
      await trusting.close();
      await plain.close();
    }
  });

  it('presents the client certificate from tls.crt / tls.key (mTLS)', async () => {
    const ref = parseImageReference(`localhost:${mtlsPort}/team/app`);
    const withCert = createRegistryClient({ tls: tlsFromSecret(secret('mtls', { 'ca.crt': ca.pem.ca, 'tls.crt': ca.pem.clientCert, 'tls.key': ca.pem.clientKey })) });
    const withoutCert = createRegistryClient({ tls: tlsFromSecret(secret('ca', { 'ca.crt': ca.pem.ca })), maxAttempts: 1 });
    try {
      expect(await withCert.listTags(ref, undefined, 5000)).toEqual(['tls-1', 'tls-2']);
      await expect(withoutCert.listTags(ref, undefined, 5000)).rejects.toBeInstanceOf(RegistryError);
    } finally {
      await withCert.close();
      await withoutCert.close();
    }
  });

  it('goes through the proxy of proxySecretRef with its credentials, kept out of errors', async () => {
    const ref = parseImageReference(`localhost:${tlsPort}/team/app`);
    const tls = tlsFromSecret(secret('ca', { 'ca.crt': ca.pem.ca }));
    const address = `http://127.0.0.1:${proxyPort}`;
    const good = createRegistryClient({ tls, proxy: proxyFromSecret(secret('proxy', { address, username: 'proxy-user', password: 'proxy-pass-4417' })) });
    const bad = createRegistryClient({ tls, proxy: proxyFromSecret(secret('proxy', { address, username: 'proxy-user', password: 'wrong-pass-8812' })), maxAttempts: 1 });
    try {
      expect(await good.listTags(ref, undefined, 5000)).toEqual(['tls-1', 'tls-2']);
      expect(proxyAuthorizations.length).toBeGreaterThan(0);
      const err = await bad.listTags(ref, undefined, 5000).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RegistryError);
      expect((err as Error).message).not.toContain('wrong-pass-8812');
      expect((err as Error).message).not.toContain(Buffer.from('proxy-user:wrong-pass-8812').toString('base64'));
    } finally {
      await good.close();
      await bad.close();
    }
  });

  it('Secret contents are checked, naming the key', () => {
    expect(() => tlsFromSecret(secret('half', { 'tls.crt': ca.pem.clientCert }))).toThrow("secret 'apps/half' must have both 'tls.crt' and 'tls.key', or neither");
    expect(() => tlsFromSecret(secret('junk', { 'ca.crt': 'not a pem' }))).toThrow("secret 'apps/junk' key 'ca.crt' is not a PEM certificate");
    expect(() => proxyFromSecret(secret('p', {}))).toThrow("secret 'apps/p' has no 'address' key");
    expect(() => proxyFromSecret(secret('p', { address: 'http://u:pw-in-url@proxy:3128' }))).toThrow("key 'address' must not carry credentials");
    expect(() => proxyFromSecret(secret('p', { address: 'ftp://proxy' }))).toThrow("key 'address' must be an http or https URL");
  });
});
