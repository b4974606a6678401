/**
 * `git http-backend` behind a small node:http CGI wrapper on loopback: Git's smart HTTP
 * protocol with Basic (user/password) or Bearer authentication checked by the wrapper.
 * Records every Authorization header it was sent, so tests can check what reached the wire.
 */
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GIT_ENV } from './git-repos.js';

export interface GitHttpServer {
  /** `http://127.0.0.1:<port>/` — append the repository's path under `projectRoot`. */
  baseUrl: string;
  requests: Array<{ method: string; url: string; authorized: boolean }>;
  close(): Promise<void>;
}

export interface GitHttpAuth {
  username?: string;
  password?: string;
  bearerToken?: string;
}

function authorized(req: IncomingMessage, auth: GitHttpAuth): boolean {
  const header = req.headers.authorization ?? '';
  if (auth.bearerToken !== undefined && header === `Bearer ${auth.bearerToken}`) return true;
  if (auth.username !== undefined) {
    const expected = `Basic ${Buffer.from(`${auth.username}:${auth.password ?? ''}`).toString('base64')}`;
    if (header === expected) return true;
  }
  return false;
}

function cgi(req: IncomingMessage, res: ServerResponse, projectRoot: string, user: string): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const child = spawn('git', ['http-backend'], {
    env: {
      ...GIT_ENV,
      GIT_PROJECT_ROOT: projectRoot,
      GIT_HTTP_EXPORT_ALL: '1',
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'http.receivepack',
      GIT_CONFIG_VALUE_0: 'true',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      REQUEST_METHOD: req.method ?? 'GET',
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_USER: user,
      REMOTE_ADDR: '127.0.0.1',
      ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: String(req.headers['content-encoding']) } : {}),
      ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
    },
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  req.pipe(child.stdin);
  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    headersDone = true;
    let status = 200;
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
      else res.setHeader(name, value);
    }
    res.writeHead(status);
    res.write(head.subarray(end + 4));
  });
  child.on('close', () => {
    if (!headersDone) res.writeHead(502);
    res.end();
  });
}

export async function startGitHttpServer(projectRoot: string, auth: GitHttpAuth): Promise<GitHttpServer> {
  const requests: GitHttpServer['requests'] = [];
  const server: Server = createServer((req, res) => {
    const ok = authorized(req, auth);
    requests.push({ method: req.method ?? '', url: req.url ?? '', authorized: ok });
    if (!ok) {
      req.resume();
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"' });
      res.end('authentication required\n');
      return;
    }
    cgi(req, res, projectRoot, auth.username ?? 'token');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
