/**
 * Structured JSON logs. Secrets never reach a log call by design (adapters' errors are masked
 * by the HTTP layer, configs are never logged); the redaction list is a second line of defence.
 *
 * Logs go to stdout asynchronously, with a bound on what waits to be written: a stalled or
 * closed stdout (a pipe whose reader stopped or exited) must neither block the event loop,
 * grow memory, nor hold the process at exit.
 */
import { fstatSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { pino, type DestinationStream, type Logger } from 'pino';
import { Gathered } from './gathered.js';

export type { Logger };

/** Log bytes waiting for a slow stdout, at most; beyond this lines are dropped. */
const MAX_PENDING_LOG_BYTES = 16 * 1024 * 1024;

interface Flushable {
  flushSync(): void;
}

/**
 * Stdout when it is a pipe or socket: written through a non-blocking socket on the event loop.
 * pino's default writer uses blocking writes on a worker thread, which a full pipe holds
 * forever, and Node waits for that thread at exit; and its exit flush retries forever on a
 * closed pipe. Here a closed pipe ends logging, and a stalled one costs at most the bound.
 */
class PipeDestination {
  private readonly socket: Socket;
  private broken = false;
  /** Lines gathered for one write (see gathered.ts). */
  private readonly pending: Gathered<string>;

  constructor(private readonly fd: number) {
    this.socket = new Socket({ fd, readable: false, writable: true });
    this.socket.on('error', () => {
      // EPIPE and the like: nobody reads the logs any more; stop writing them.
      this.broken = true;
      this.socket.destroy();
    });
    this.pending = new Gathered<string>(
      (lines) => {
        if (!this.broken) this.socket.write(lines.join(''));
      },
      () => MAX_PENDING_LOG_BYTES - this.socket.writableLength,
      (line) => line.length,
    );
    // At exit, a crash's included, the lines gathered are written at once: the last lines
    // before a crash are the ones wanted. Not behind earlier lines still waiting for a slow
    // reader (they are lost at exit anyway), and never blocking: a full pipe drops them.
    process.once('exit', () => {
      const text = this.pending.take().join('');
      if (!text || this.broken || this.socket.writableLength > 0) return;
      try {
        writeSync(this.fd, text);
      } catch {
        // EAGAIN: the reader is behind; EPIPE: it is gone.
      }
    });
  }

  write(line: string): void {
    if (!this.broken) this.pending.add(line);
  }

  flush(cb: (err?: Error) => void): void {
    this.pending.flush();
    if (this.broken || this.socket.writableLength === 0) return cb();
    this.socket.once('drain', () => cb());
  }
}

/**
 * The process's stdout, for the process's own logger only: a socket opened on fd 1 closes it
 * when it is closed, so nothing else (a test, a worker thread) should hold one.
 */
export function stdoutDestination(): DestinationStream {
  const kind = fstatSync(1);
  if (kind.isFIFO() || kind.isSocket()) return new PipeDestination(1);
  // A file or a terminal: writes complete by themselves.
  return pino.destination({ dest: 1, sync: false, maxLength: MAX_PENDING_LOG_BYTES });
}

export function createLogger(level: string, destination?: NodeJS.WritableStream | DestinationStream): Logger {
  const stream = destination ?? pino.destination({ dest: 1, sync: false, maxLength: MAX_PENDING_LOG_BYTES });
  const logger = pino(
    {
      level,
      base: { service: 'herald' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: masked },
    },
    stream as DestinationStream,
  );
  // A child's bindings are masked too. pino creates a child with the parent as its prototype,
  // so every descendant inherits this `child`.
  const pinoChild = logger.child as unknown as (this: Logger, bindings: Record<string, unknown>, options?: object) => Logger;
  logger.child = function (this: Logger, bindings: Record<string, unknown>, options?: object) {
    return pinoChild.call(this, masked(bindings), options);
  } as unknown as Logger['child'];
  return logger;
}

/** Keys whose values are never written, at a log line's top level or one level down. */
const SECRET_KEYS = ['token', 'password', 'headers', 'secret', 'config'];
const CENSOR = '*****';

/**
 * `object` with the values of SECRET_KEYS masked at its top level and one level down, as pino's
 * `redact` with the paths `key` and `*.key` would; the object itself when there is nothing to
 * mask. By hand because pino's redaction copies and walks every line's object: at a few thousand
 * deliveries a second (one line each) it was a fifth of what the delivery thread allocated.
 */
export function masked(object: Record<string, unknown>): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(object)) {
    if (SECRET_KEYS.includes(key)) {
      censor((copy ??= { ...object }), key);
      continue;
    }
    const value = object[key];
    if (typeof value !== 'object' || value === null) continue;
    let inner: Record<string, unknown> | undefined;
    for (const secret of SECRET_KEYS) if (Object.hasOwn(value, secret)) censor((inner ??= cloneOf(value)), secret);
    if (inner) (copy ??= { ...object })[key] = inner;
  }
  return copy ?? object;
}

/** A shallow copy; an Error's keeps its prototype, message and stack, which its serializer reads. */
function cloneOf(value: object): Record<string, unknown> {
  if (Array.isArray(value)) return [...value] as unknown as Record<string, unknown>;
  if (!(value instanceof Error)) return { ...value } as Record<string, unknown>;
  const descriptors = Object.getOwnPropertyDescriptors(value);
  for (const descriptor of Object.values(descriptors)) descriptor.configurable = true;
  return Object.create(Object.getPrototypeOf(value) as object, descriptors) as Record<string, unknown>;
}

/** Sets `key` whatever it was (a getter, a read-only property). */
function censor(object: Record<string, unknown>, key: string): void {
  Object.defineProperty(object, key, { value: CENSOR, enumerable: true, writable: true, configurable: true });
}

/**
 * Writes what is pending within `ms`, then gives up on the rest, so that the exit that follows
 * never waits on stdout: pino flushes synchronously at exit and loops while the pipe refuses.
 */
export function flushLogs(logger: Logger, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(finish, ms);
    function finish() {
      clearTimeout(timer);
      abandonPendingLogs(logger);
      resolve();
    }
    try {
      // pino's flush calls back at once when the destination buffers nothing (SonicBoom's
      // default), even while its last write is still under way; exiting then loses the last
      // lines ("herald stopped"). So wait for the write under way to drain too.
      const stream = destinationOf(logger) as (Partial<Flushable> & { _writing?: boolean; once?: (event: string, listener: () => void) => unknown }) | undefined;
      logger.flush(() => (stream?._writing === true && typeof stream.once === 'function' ? stream.once('drain', finish) : finish()));
    } catch {
      finish();
    }
  });
}

function destinationOf(logger: Logger): unknown {
  return (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym];
}

/** Drops whatever log output is still pending, so exiting now cannot block on stdout. */
export function abandonPendingLogs(logger: Logger): void {
  const stream = destinationOf(logger) as Partial<Flushable> | undefined;
  if (stream && typeof stream.flushSync === 'function') stream.flushSync = () => undefined;
}
