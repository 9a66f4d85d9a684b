import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino replaces with "[redacted]" in every log line: credentials and webhook URLs (a chat
 * or paging webhook URL is itself the secret). Handlers log objects; these keys never leak.
 */
export const REDACTED_PATHS = [
  'password',
  'pass',
  'token',
  'secret',
  'authorization',
  'webhookUrl',
  'routingKey',
  'routing_key',
  '*.password',
  '*.pass',
  '*.token',
  '*.secret',
  '*.authorization',
  '*.webhookUrl',
  '*.routingKey',
  '*.routing_key',
  'headers.authorization',
  'headers.Authorization',
];

export interface LoggerOptions {
  service: string;
  level?: string;
  /** Defaults to stdout. */
  destination?: DestinationStream;
}

/** A JSON logger for one service: every line carries `service`; child loggers add correlationId etc. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination,
  );
}
