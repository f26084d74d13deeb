import pino, { type Logger } from 'pino';

/** JSON lines on stdout (as the hub and agent log); level from CLASSROOM_SIM_LOG_LEVEL. */
export function createLogger(name = 'classroom-sim'): Logger {
  return pino({ name, level: process.env.CLASSROOM_SIM_LOG_LEVEL ?? 'info' });
}
