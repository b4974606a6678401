/**
 * Structured JSON logs. Secrets never reach a log call by design (adapters' errors are masked
 * by the HTTP layer, configs are never logged); the redaction list is a second line of defence.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
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
    destination as pino.DestinationStream | undefined,
  );
}
