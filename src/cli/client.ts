/**
 * The admin API as the CLI calls it: the server's address and token, answers read within a
 * bound, and failures said in plain words (the address that could not be reached and why, the
 * server's own error message). The token is sent, never printed.
 */
import { readFileSync } from 'node:fs';
import { CommandError, UsageError } from './errors.js';

/** The admin listener's default address (`--admin-addr`). */
export const DEFAULT_SERVER = 'http://127.0.0.1:9400';

/** An answer larger than this is refused: a page of deliveries is at most 16 MiB of records. */
export const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

/** A bulk replay or purge of a large backlog may take minutes; anything longer is stuck. */
const REQUEST_TIMEOUT_MS = 10 * 60_000;

export interface ServerOptions {
  server?: string;
  token?: string;
  tokenFile?: string;
}

export class AdminClient {
  private constructor(
    readonly base: URL,
    private readonly token: string | undefined,
  ) {}

  /** From the command's options and the environment (`HERALD_ADMIN_TOKEN`); throws UsageError. */
  static from(opts: ServerOptions, env: NodeJS.ProcessEnv): AdminClient {
    let base: URL;
    try {
      base = new URL(opts.server ?? DEFAULT_SERVER);
    } catch {
      throw new UsageError(`--server: ${JSON.stringify(opts.server)} is not a URL (example: ${DEFAULT_SERVER})`);
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new UsageError(`--server: ${base.protocol} is not http: or https:`);
    if (opts.token && opts.tokenFile) throw new UsageError('--token and --token-file are alternatives: give one');
    return new AdminClient(base, opts.tokenFile ? readToken(opts.tokenFile) : opts.token || env.HERALD_ADMIN_TOKEN || undefined);
  }

  /** The answer's JSON for a 2xx; a CommandError with the server's message otherwise. */
  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const { status, json } = await this.request(method, path, body);
    if (status >= 200 && status < 300) return json as T;
    throw new CommandError(this.describeFailure(status, json));
  }

  /** The status and JSON whatever the status (for answers whose 404 or 409 means something). */
  async request(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const url = new URL(path, this.base);
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    // Requests that change something say they are JSON: the admin API refuses them otherwise.
    if (method !== 'GET') headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: method === 'GET' ? undefined : JSON.stringify(body ?? {}),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw new CommandError(`cannot reach Herald's admin API at ${this.base.origin}: ${networkReason(err)}`);
    }
    const text = await readBounded(res, this.base.origin);
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new CommandError(`${this.base.origin} answered ${res.status} with something that is not JSON: is it Herald's admin address?`);
    }
    return { status: res.status, json };
  }

  describeFailure(status: number, json: unknown): string {
    const message = (json as { message?: unknown } | undefined)?.message;
    const said = typeof message === 'string' ? `: ${message}` : '';
    if (status === 401) return `the admin API at ${this.base.origin} wants a valid token (401)${said}; give --token-file FILE, --token or HERALD_ADMIN_TOKEN`;
    if (status === 403) return `the admin API at ${this.base.origin} refused the request (403)${said}`;
    return `the admin API answered ${status}${said}`;
  }
}

function readToken(file: string): string {
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--token-file: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const token = content.trim();
  // Never quote the content: it is the secret.
  if (!token || /\s/.test(token)) throw new UsageError(`--token-file: ${file} must hold one token (no spaces)`);
  return token;
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_CONNECT_TIMEOUT: 'timed out connecting',
  UND_ERR_SOCKET: 'the connection closed unexpectedly',
};

/** fetch's "fetch failed", in words: the cause's code, or the timeout. */
function networkReason(err: unknown): string {
  if ((err as Error).name === 'TimeoutError') return `no answer within ${REQUEST_TIMEOUT_MS / 60_000} minutes`;
  let cause = (err as { cause?: unknown }).cause;
  // Happy-eyeballs connects report an AggregateError: its first error tells.
  if (cause instanceof AggregateError) cause = cause.errors[0];
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  if (code && NETWORK_REASONS[code]) return NETWORK_REASONS[code];
  if (code) return code;
  return (cause as Error | undefined)?.message ?? (err as Error).message;
}

async function readBounded(res: Response, origin: string): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > MAX_ANSWER_BYTES) {
    await res.body?.cancel();
    throw new CommandError(`${origin} sent an answer of ${declared} bytes, over the CLI's limit of ${MAX_ANSWER_BYTES}`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body) {
    for await (const chunk of res.body) {
      size += chunk.byteLength;
      if (size > MAX_ANSWER_BYTES) {
        await res.body.cancel().catch(() => {});
        throw new CommandError(`${origin} sent more than ${MAX_ANSWER_BYTES} bytes, the CLI's limit for one answer`);
      }
      chunks.push(chunk);
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}
