import { createLogger as create, type LogFormat, parseLogFormat } from '@classroom/agent/log';
import type { Logger } from 'pino';

let format: LogFormat = 'auto';

/** Set once from `--log-format` (main.ts); CLASSROOM_LOG_FORMAT otherwise. */
export function setLogFormat(value: string | undefined): void {
  format = parseLogFormat(value ?? process.env.CLASSROOM_LOG_FORMAT);
}

export function logFormat(): LogFormat {
  return format;
}

/**
 * Readable lines at a terminal, JSON lines otherwise or with `--log-format json` (agent/src/log.ts);
 * level from CLASSROOM_SIM_LOG_LEVEL.
 */
export function createLogger(name = 'classroom-sim'): Logger {
  return create({ name, level: process.env.CLASSROOM_SIM_LOG_LEVEL ?? 'info' }, format);
}
