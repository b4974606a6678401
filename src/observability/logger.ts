/**
 * Structured JSON logs. Secrets never reach a log call by design (adapters' errors are masked
 * by the HTTP layer, configs are never logged); the redaction list is a second line of defence.
 *
 * Logs go to stdout asynchronously, with a bound on what waits to be written: a stalled or
 * closed stdout (a pipe whose reader stopped or exited) must neither block the event loop,
 * grow memory, nor hold the process at exit.
 */
import { fstatSync } from 'node:fs';
import { Socket } from 'node:net';
import { pino, type DestinationStream, type Logger } from 'pino';

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

  constructor(fd: number) {
    this.socket = new Socket({ fd, readable: false, writable: true });
    this.socket.on('error', () => {
      // EPIPE and the like: nobody reads the logs any more; stop writing them.
      this.broken = true;
      this.socket.destroy();
    });
  }

  write(line: string): void {
    if (this.broken || this.socket.writableLength > MAX_PENDING_LOG_BYTES) return;
    this.socket.write(line);
  }

  flush(cb: (err?: Error) => void): void {
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
  return pino(
    {
      level,
      base: { service: 'herald' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: ['token', 'password', 'headers', 'secret', 'config', '*.token', '*.password', '*.headers', '*.secret'],
        censor: '*****',
      },
    },
    stream as DestinationStream,
  );
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
