/**
 * The shared HTTP layer against real TLS and a real proxy on loopback: a provider with a
 * private CA (certSecretRef `ca.crt`), one that requires a client certificate (mTLS), and a
 * proxy that requires credentials.
 */
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryError, createHttpClient } from '../../providers/http.js';
import { testProviderConfig } from '../support/provider-config.js';
import { hasOpenssl, makeTestCa, type TestCa } from '../support/test-ca.js';
import { startSink, type Sink } from '../support/sink.js';

function listen(server: Server | HttpsServer): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function close(server: Server | HttpsServer): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

describe.skipIf(!hasOpenssl)('HTTPS providers with a private CA', () => {
  let ca: TestCa;
  let tlsServer: HttpsServer;
  let mtlsServer: HttpsServer;
  let tlsPort: number;
  let mtlsPort: number;
  const seenClientCerts: string[] = [];

  beforeAll(async () => {
    ca = await makeTestCa();
    const answer = (_req: unknown, res: import('node:http').ServerResponse) => res.writeHead(200).end('{}');
    tlsServer = createHttpsServer({ cert: ca.pem.serverCert, key: ca.pem.serverKey }, answer);
    mtlsServer = createHttpsServer(
      { cert: ca.pem.serverCert, key: ca.pem.serverKey, ca: ca.pem.ca, requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        seenClientCerts.push(String((req.socket as import('node:tls').TLSSocket).getPeerCertificate().subject.CN));
        answer(req, res);
      },
    );
    tlsPort = await listen(tlsServer);
    mtlsPort = await listen(mtlsServer);
  });

  afterAll(async () => {
    await close(tlsServer);
    await close(mtlsServer);
  });

  it('trusts the CA from the provider configuration', async () => {
    const http = createHttpClient(testProviderConfig({ type: 'generic', tls: { ca: ca.pem.ca } }));
    await expect(http.send({ url: `https://127.0.0.1:${tlsPort}/hook`, json: {} })).resolves.toMatchObject({ status: 200 });
  });

  it('refuses a certificate the CA did not sign, as a retryable error naming the cause', async () => {
    const http = createHttpClient(testProviderConfig({ type: 'generic' }));
    const err = await http.send({ url: `https://127.0.0.1:${tlsPort}/hook`, json: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as DeliveryError).message).toMatch(/certificate/i);
  });

  it('presents the client certificate to a provider that requires one (mTLS)', async () => {
    const withCert = createHttpClient(
      testProviderConfig({ type: 'generic', tls: { ca: ca.pem.ca, cert: ca.pem.clientCert, key: ca.pem.clientKey } }),
    );
    await expect(withCert.send({ url: `https://127.0.0.1:${mtlsPort}/hook`, json: {} })).resolves.toMatchObject({ status: 200 });
    expect(seenClientCerts).toEqual(['herald']);
    const withoutCert = createHttpClient(testProviderConfig({ type: 'generic', tls: { ca: ca.pem.ca } }));
    await expect(withoutCert.send({ url: `https://127.0.0.1:${mtlsPort}/hook`, json: {} })).rejects.toBeInstanceOf(DeliveryError);
  });
});

describe('a proxy that requires credentials', () => {
  let sink: Sink;
  let proxy: Server;
  let proxyPort: number;
  const authorizations: Array<string | undefined> = [];

  beforeAll(async () => {
    sink = await startSink();
    proxy = createHttpServer((req, res) => {
      // Plain-HTTP forwarding, for clients that do not tunnel.
      authorizations.push(req.headers['proxy-authorization']);
      const upstream = httpRequest(req.url ?? '', { method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      req.pipe(upstream);
    });
    proxy.on('connect', (req, clientSocket, head) => {
      authorizations.push(req.headers['proxy-authorization']);
      if (req.headers['proxy-authorization'] !== `Basic ${Buffer.from('proxy-user:proxy-pass').toString('base64')}`) {
        clientSocket.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n');
        return;
      }
      const [host, port] = (req.url ?? '').split(':');
      const upstream = connect(Number(port), host, () => {
        clientSocket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(clientSocket);
        clientSocket.pipe(upstream);
      });
      upstream.on('error', () => clientSocket.destroy());
    });
    proxyPort = await listen(proxy);
  });

  afterAll(async () => {
    await close(proxy);
    await sink.close();
  });

  it('sends through the proxy with its credentials, and keeps them out of errors', async () => {
    const proxyUrl = `http://proxy-user:proxy-pass@127.0.0.1:${proxyPort}`;
    const http = createHttpClient(testProviderConfig({ type: 'generic', proxy: proxyUrl, sensitiveValues: [proxyUrl] }));
    await http.send({ url: `${sink.url}/via-proxy`, json: { hello: 'proxy' } });
    const [req] = await sink.waitFor(1);
    expect(req?.url).toBe('/via-proxy');
    expect(authorizations.at(-1)).toBe(`Basic ${Buffer.from('proxy-user:proxy-pass').toString('base64')}`);

    const wrong = createHttpClient(testProviderConfig({ type: 'generic', proxy: `http://proxy-user:nope-wrong@127.0.0.1:${proxyPort}` }));
    const err = (await wrong.send({ url: `${sink.url}/x`, json: {} }).catch((e: unknown) => e)) as DeliveryError;
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err.message).not.toContain('nope-wrong');
  });
});
