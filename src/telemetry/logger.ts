import { pino, type Logger, type DestinationStream } from 'pino';
import type { LogLevel } from '../config/parsers.js';

export type { Logger } from 'pino';

/**
 * Header paths that could ever carry a secret. The shim never logs header values, so this is a
 * second line of defence: a future `log.info({ headers })` still prints `[redacted]`.
 * Hyphenated names need bracket paths (pino's redaction syntax).
 */
export const REDACT_PATHS = [
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["x-litellm-api-key"]',
  'headers["api-key"]',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["x-litellm-api-key"]',
  'req.headers["api-key"]',
  'token',
  'value',
];

/** One JSON line per event on stdout (or the given stream, for tests). */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'auth-shim' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
