// How long the hub keeps each kind of data (DESIGN.md "Hub": retention; docs/hub.md "Retention").
// Age is the row's own time: a capture window's start, an event's ts, a dead letter's arrival, a
// command's creation, an alarm transition's ts. Rollups are never deleted: they are the long-term record.
import { InvalidArgumentError, Option } from 'commander';
import { ConfigError } from '../config.js';

export interface RetentionPolicy {
  /** Raw capture windows (records of kind `capture`). */
  recordsDays: number;
  /** Records of kind `event`. */
  eventsDays: number;
  deadLettersDays: number;
  /** Commands with their results (snapshot JPEGs live in a command's result). */
  commandsDays: number;
  alarmHistoryDays: number;
}

export const DEFAULT_RETENTION: Readonly<RetentionPolicy> = {
  recordsDays: 180,
  eventsDays: 365,
  deadLettersDays: 30,
  commandsDays: 30,
  alarmHistoryDays: 365,
};

/** One flag per class: the option name, its environment variable and what it keeps. */
export const RETENTION_FLAGS: ReadonlyArray<{
  key: keyof RetentionPolicy;
  flag: string;
  env: string;
  what: string;
}> = [
  {
    key: 'recordsDays',
    flag: 'retain-records-days',
    env: 'CLASSROOM_HUB_RETAIN_RECORDS_DAYS',
    what: 'raw capture records',
  },
  { key: 'eventsDays', flag: 'retain-events-days', env: 'CLASSROOM_HUB_RETAIN_EVENTS_DAYS', what: 'events' },
  {
    key: 'deadLettersDays',
    flag: 'retain-deadletters-days',
    env: 'CLASSROOM_HUB_RETAIN_DEADLETTERS_DAYS',
    what: 'dead letters',
  },
  {
    key: 'commandsDays',
    flag: 'retain-commands-days',
    env: 'CLASSROOM_HUB_RETAIN_COMMANDS_DAYS',
    what: 'commands and their results (snapshots)',
  },
  {
    key: 'alarmHistoryDays',
    flag: 'retain-alarm-history-days',
    env: 'CLASSROOM_HUB_RETAIN_ALARM_HISTORY_DAYS',
    what: 'alarm history',
  },
];

/** Days as given on the command line or in the environment: a positive number (fractions allowed). */
export function parseDays(name: string, raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 36_500) {
    throw new ConfigError(`${name} must be a number of days greater than 0 and at most 36500, got "${raw}"`);
  }
  return n;
}

/** The `--retain-*-days` options (each with its CLASSROOM_HUB_RETAIN_* variable) for a command. */
export function retentionOptions(): Option[] {
  return RETENTION_FLAGS.map((f) =>
    new Option(`--${f.flag} <days>`, `days to keep ${f.what} (default ${DEFAULT_RETENTION[f.key]})`)
      .env(f.env)
      .argParser((v: string) => {
        try {
          return parseDays(`--${f.flag}`, v);
        } catch (err) {
          throw new InvalidArgumentError((err as Error).message);
        }
      }),
  );
}

/** Commander's camel-cased option values → a full policy with the defaults filled in. */
export function policyFromOptions(o: Record<string, unknown>): RetentionPolicy {
  const out: RetentionPolicy = { ...DEFAULT_RETENTION };
  for (const f of RETENTION_FLAGS) {
    const camel = f.flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const v = o[camel];
    if (typeof v === 'number') out[f.key] = v;
  }
  return out;
}

export function resolvePolicy(p: Partial<RetentionPolicy> | undefined): RetentionPolicy {
  const out: RetentionPolicy = { ...DEFAULT_RETENTION, ...p };
  for (const f of RETENTION_FLAGS) parseDays(`--${f.flag}`, String(out[f.key]));
  return out;
}

const DAY_MS = 86_400_000;

/** Rows older than these epoch-ms times are due for deletion. */
export interface Cutoffs {
  capture: number;
  event: number;
  deadLetters: number;
  commands: number;
  alarmHistory: number;
}

export function cutoffs(policy: RetentionPolicy, now: number): Cutoffs {
  const before = (days: number) => Math.floor(now - days * DAY_MS);
  return {
    capture: before(policy.recordsDays),
    event: before(policy.eventsDays),
    deadLetters: before(policy.deadLettersDays),
    commands: before(policy.commandsDays),
    alarmHistory: before(policy.alarmHistoryDays),
  };
}
