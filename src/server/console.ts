/**
 * The web console: a few static files (HTML, one stylesheet, small ES modules) served by the
 * admin listener at `/console`. The files hold no data — the page asks the admin API for
 * everything, with the bearer token the operator types in — so fetching them needs no token;
 * the listener's cross-site and `Host` checks still apply.
 *
 * The files are read once at startup from the source tree's `src/server/console/` (shipped in
 * the checkout, the package and the image) and served from memory: a bounded number of
 * bounded files, never a path on disk chosen by a request.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../observability/logger.js';

/** At most this many files, and this many bytes in all, are read into memory. */
export const MAX_CONSOLE_FILES = 32;
export const MAX_CONSOLE_BYTES = 1024 * 1024;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** A page may load only its own files and talk only to its own origin, and no site may frame it. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  // Small files, and a new Herald version must never run an old page against its API.
  'cache-control': 'no-cache',
};

export interface ConsoleFile {
  contentType: string;
  body: Buffer;
}

/** The console's routes: the only ones the admin listener serves without the token. */
const CONSOLE_ROUTES = new Set(['/console', '/console/*']);

/** True for a GET (or HEAD) of a console file: static, holding no data, so the token is not asked for. */
export function isConsoleRequest(req: FastifyRequest): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && CONSOLE_ROUTES.has(req.routeOptions.url ?? '');
}

/** The directory of the console's files, found from the package root whether this runs from `src/` or `dist/src/`. */
export function consoleDirectory(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return join(dir, 'src', 'server', 'console');
}

/** Reads every file of `dir` (flat, known types only) into memory; throws naming the file or the bound that does not fit. */
export function loadConsoleFiles(dir: string): Map<string, ConsoleFile> {
  const names = readdirSync(dir).sort();
  if (names.length > MAX_CONSOLE_FILES) throw new Error(`${dir} holds ${names.length} files; the console serves at most ${MAX_CONSOLE_FILES}`);
  const files = new Map<string, ConsoleFile>();
  let total = 0;
  for (const name of names) {
    const path = join(dir, name);
    const contentType = CONTENT_TYPES[extname(name)];
    if (!statSync(path).isFile() || contentType === undefined || !/^[a-z0-9][a-z0-9.-]*$/.test(name)) {
      throw new Error(`${path}: the console serves only plain files named like app.js of types ${Object.keys(CONTENT_TYPES).join(', ')}`);
    }
    const body = readFileSync(path);
    total += body.length;
    if (total > MAX_CONSOLE_BYTES) throw new Error(`${dir}: the console's files exceed ${MAX_CONSOLE_BYTES} bytes`);
    files.set(name, { contentType, body });
  }
  if (!files.has('index.html')) throw new Error(`${dir} has no index.html`);
  return files;
}

/**
 * Registers `GET /console` (the index page) and `GET /console/<file>`. When the files cannot
 * be read (a broken package), the console answers 503 saying so and the error is logged once:
 * notifications keep flowing whatever happens to the page.
 */
export function registerConsole(app: FastifyInstance, logger: Logger, dir = consoleDirectory()): void {
  let files: Map<string, ConsoleFile> | undefined;
  let problem = '';
  try {
    files = loadConsoleFiles(dir);
  } catch (err) {
    problem = `the web console's files could not be read: ${(err as Error).message}`;
    logger.error({ dir }, problem);
  }

  const send = (name: string, reply: FastifyReply) => {
    void reply.headers(SECURITY_HEADERS);
    if (!files) return reply.status(503).send({ error: 'ServiceUnavailable', message: problem });
    const file = files.get(name);
    if (!file) return reply.status(404).send({ error: 'NotFound', message: `the console has no file ${name}` });
    return reply.type(file.contentType).send(file.body);
  };

  app.get('/console', async (_req, reply) => send('index.html', reply));
  app.get<{ Params: { '*': string } }>('/console/*', async (req, reply) => send(req.params['*'] || 'index.html', reply));
}
