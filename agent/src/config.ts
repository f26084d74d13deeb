import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  AGENT_ID_PATTERN,
  AgentId,
  AgentSettings,
  isValidAgentId,
  LIMITS,
  RestSettings,
  RoomId,
  SourceId,
  SourceKind,
  Text,
  Thresholds,
} from '@classroom/protocol';
import { z } from 'zod';

const BROKER_URL = /^(mqtt|mqtts|tcp|tls|ssl|ws|wss):\/\/[^\s]+$/;

/**
 * People counting of a camera (docs/occupancy.md). The default is the longest interval allowed
 * (DESIGN.md "Agent": at most 30 s), because the cost is proportional to the rate: one 720p count
 * takes 0.45–0.6 CPU-s on the loaded 2-core VM, 1.5–1.9 % of a core at 30 s against a 2 % target
 * (BENCHMARKS.md "People counting on the box"); 15 s would double it.
 */
export const OCCUPANCY_DEFAULT_INTERVAL_S = 30;
const Occupancy = z
  .object({
    enabled: z.boolean().default(true),
    intervalS: z.number().int().min(5).max(30).default(OCCUPANCY_DEFAULT_INTERVAL_S),
  })
  .strict();

const Source = z
  .object({
    id: SourceId,
    kind: SourceKind,
    input: z.string().min(1).max(1024),
    label: Text.optional(),
    occupancy: Occupancy.optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.kind === 'microphone' && s.occupancy?.enabled)
      ctx.addIssue({ code: 'custom', message: 'a microphone cannot count people', path: ['occupancy'] });
  })
  // On by default for cameras (DESIGN.md "Agent"); a microphone never counts.
  .transform((s) => ({
    ...s,
    occupancy:
      s.kind === 'camera'
        ? (s.occupancy ?? { enabled: true, intervalS: OCCUPANCY_DEFAULT_INTERVAL_S })
        : { enabled: false, intervalS: OCCUPANCY_DEFAULT_INTERVAL_S },
  }));

/** The agent config file (DESIGN.md "Agent"). Unknown keys are errors: a typo must not be ignored. */
export const AgentConfigSchema = z
  .object({
    agent: AgentId.refine((id) => !AGENT_ID_PATTERN.test(id) || isValidAgentId(id), 'is a reserved id'),
    room: z
      .object({
        id: RoomId,
        name: Text.default(''),
        building: Text.default(''),
        floor: Text.default(''),
        campus: Text.default(''),
      })
      .strict(),
    broker: z
      .object({
        url: z.string().regex(BROKER_URL, 'must be a mqtt://, mqtts://, ws:// or wss:// URL'),
        username: z.string().min(1).max(LIMITS.maxIdLength).optional(),
        password: z.string().max(1024).optional(),
        /** Path of a file holding the password, so the config itself can be world-readable. */
        passwordFile: z.string().min(1).optional(),
        ca: z.string().min(1).optional(),
        /** Client certificate and its key (PEM files) for login without a password (docs/agent.md). */
        cert: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
        keepaliveS: z.number().int().min(2).max(300).default(10),
        /** Reconnect backoff: first delay and ceiling (exponential with jitter in between). */
        reconnectMinMs: z.number().int().min(100).max(600_000).default(1000),
        reconnectMaxMs: z.number().int().min(100).max(3_600_000).default(60_000),
      })
      .strict()
      .refine((b) => !(b.password !== undefined && b.passwordFile !== undefined), {
        message: 'give password or passwordFile, not both',
        path: ['passwordFile'],
      })
      .refine((b) => (b.cert === undefined) === (b.key === undefined), {
        message: 'give cert and key together (the client certificate and its private key)',
        path: ['key'],
      })
      .refine((b) => b.cert === undefined || /^(mqtts|wss):\/\//.test(b.url), {
        message: 'a client certificate needs an mqtts:// or wss:// broker.url',
        path: ['cert'],
      }),
    dataDir: z.string().min(1),
    sources: z
      .array(Source)
      .max(LIMITS.maxSources)
      .superRefine((sources, ctx) => {
        const seen = new Set<string>();
        sources.forEach((s, i) => {
          if (seen.has(s.id))
            ctx.addIssue({ code: 'custom', message: `duplicate source id "${s.id}"`, path: [i, 'id'] });
          seen.add(s.id);
        });
      }),
    windowS: z.number().int().min(1).max(3600).default(10),
    telemetryIntervalS: z.number().int().min(1).max(3600).default(30),
    thresholds: Thresholds.strict().default({}),
    /** Off-hours duty cycle (docs/agent-media.md "Duty cycle"); the hub may override it. */
    rest: RestSettings.strict().default({}),
    /** A local timetable, for a box without a hub schedule; the hub's one replaces it. */
    timetable: AgentSettings.shape.timetable,
    outbox: z
      .object({
        maxRecords: z.number().int().min(100).max(100_000_000).default(500_000),
        maxBytes: z
          .number()
          .int()
          .min(1024 * 1024)
          .max(1024 ** 4)
          .default(512 * 1024 * 1024),
        /**
         * Disk space held back for drop-oldest on a full disk (docs/agent.md "Full disk"); 0 holds none.
         * It must cover a checkpoint of the WAL (up to ~4 MiB at SQLite's default autocheckpoint), hence 8 MiB.
         */
        reserveBytes: z
          .number()
          .int()
          .min(0)
          .max(1024 ** 3)
          .default(8 * 1024 * 1024),
      })
      .strict()
      .default({ maxRecords: 500_000, maxBytes: 512 * 1024 * 1024, reserveBytes: 8 * 1024 * 1024 }),
    /** host or host:port of an NTP server for clockOffsetMs; without it the offset is null. */
    ntpServer: z.string().min(1).max(255).optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  })
  .strict();

export type AgentConfig = z.infer<typeof AgentConfigSchema>;
export type ConfigResult = { ok: true; config: AgentConfig } | { ok: false; errors: string[] };

/** A key as it can be read in a "path: reason" line: quoted when empty or holding blanks, dots or colons. */
function readableKey(key: string): string {
  return key === '' || /[\s.:"]/.test(key) ? JSON.stringify(key) : key;
}

/** One line per bad field, each starting with its path (DESIGN.md "Agent": a clear message naming the path of every bad field). */
export function formatIssues(issues: ReadonlyArray<z.core.$ZodIssue>): string[] {
  const out: string[] = [];
  for (const issue of issues) {
    const base = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push(`${base ? `${base}.` : ''}${readableKey(key)}: unknown field`);
    } else {
      out.push(`${base || '(root)'}: ${issue.message}`);
    }
  }
  return out;
}

/** Validates a parsed config; relative paths are resolved against `baseDir` (the config's folder). */
export function parseConfig(value: unknown, baseDir = process.cwd()): ConfigResult {
  const r = AgentConfigSchema.safeParse(value);
  if (!r.success) return { ok: false, errors: formatIssues(r.error.issues) };
  const config = r.data;
  config.dataDir = resolve(baseDir, config.dataDir);
  if (config.broker.ca) config.broker.ca = resolve(baseDir, config.broker.ca);
  if (config.broker.cert) config.broker.cert = resolve(baseDir, config.broker.cert);
  if (config.broker.key) config.broker.key = resolve(baseDir, config.broker.key);
  if (config.broker.passwordFile) {
    const file = resolve(baseDir, config.broker.passwordFile);
    try {
      config.broker.password = readFileSync(file, 'utf8').trim();
    } catch (err) {
      return { ok: false, errors: [`broker.passwordFile: cannot read ${file} (${(err as Error).message})`] };
    }
  }
  return { ok: true, config };
}

export function loadConfig(file: string): ConfigResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { ok: false, errors: [`cannot read ${file}: ${(err as Error).message}`] };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, errors: [`${file} is not valid JSON: ${(err as Error).message}`] };
  }
  return parseConfig(value, dirname(resolve(file)));
}

// Strict at every level, so a misspelt threshold is refused rather than silently ignored.
const StrictSettings = AgentSettings.extend({
  thresholds: Thresholds.strict().optional(),
  rest: RestSettings.strict().optional(),
}).strict();

/** The runtime-changeable part, as pushed by set-config or the retained config topic. */
export function parseSettings(
  value: unknown,
): { ok: true; settings: AgentSettings } | { ok: false; errors: string[] } {
  const r = StrictSettings.safeParse(value);
  if (!r.success) return { ok: false, errors: formatIssues(r.error.issues) };
  return { ok: true, settings: r.data };
}
