// Log output shared by the agent and the simulators (the hub has the same rule in hub/src/log.ts):
// JSON lines for machines (journald, log shippers, tests that parse `hub.listening`), and readable
// lines for a person at a terminal. `auto` picks by whether stdout is a TTY.
import pino, { type Logger, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** `--log-format` (or CLASSROOM_LOG_FORMAT) as given; an unknown value is a clear error. */
export function parseLogFormat(value: string | undefined): LogFormat {
  // An empty value (CLASSROOM_LOG_FORMAT= in a unit file) means the default.
  const v = (value ?? '').trim().toLowerCase() || 'auto';
  if ((LOG_FORMATS as readonly string[]).includes(v)) return v as LogFormat;
  throw new Error(`log format must be one of ${LOG_FORMATS.join(', ')}, got "${value}"`);
}

export function resolveLogFormat(
  format: LogFormat,
  stream: { isTTY?: boolean } = process.stdout,
): 'json' | 'pretty' {
  if (format !== 'auto') return format;
  return stream.isTTY ? 'pretty' : 'json';
}

/**
 * A pino logger on stdout. Pretty output is written synchronously by pino-pretty in this process
 * (no worker thread), so the last lines before an exit are never lost.
 */
export function createLogger(options: LoggerOptions, format: LogFormat = 'auto'): Logger {
  if (resolveLogFormat(format) === 'json') return pino(options);
  return pino(
    options,
    pretty({
      sync: true,
      colorize: Boolean(process.stdout.isTTY),
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,module',
      singleLine: true,
      // `event` names the lifecycle lines (hub.listening …): keep it next to the message.
      messageFormat: '{if module}[{module}] {end}{msg}',
    }),
  );
}
