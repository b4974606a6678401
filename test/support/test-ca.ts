/**
 * A throwaway certificate authority made with the openssl CLI, for tests of TLS to Redis and
 * to providers: a CA, a server certificate for 127.0.0.1/localhost, and a client certificate.
 */
import { execFile, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir } from './tmp.js';

export const hasOpenssl = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;

export interface TestCa {
  dir: string;
  /** File paths. */
  files: { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string };
  /** The same, as PEM text. */
  pem: { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string };
}

export async function makeTestCa(): Promise<TestCa> {
  const dir = await makeTempDir('herald-ca-');
  const ssl = (...args: string[]) => promisify(execFile)('openssl', args, { cwd: dir });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=herald test CA');
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await writeFile(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [
    ['server', 'localhost'],
    ['client', 'herald'],
  ] as const) {
    await ssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    await ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', `${name}.ext`);
  }
  const files = {
    ca: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
  };
  const read = (path: string) => readFile(path, 'utf8');
  return {
    dir,
    files,
    pem: {
      ca: await read(files.ca),
      serverCert: await read(files.serverCert),
      serverKey: await read(files.serverKey),
      clientCert: await read(files.clientCert),
      clientKey: await read(files.clientKey),
    },
  };
}
