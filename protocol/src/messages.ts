import { z } from 'zod';
import { LIMITS } from './limits.js';
import {
  AgentId,
  Decibels,
  Detail,
  NonNeg,
  NonNegInt,
  Ratio,
  RoomId,
  Seq,
  Session,
  ShortId,
  SourceId,
  Text,
  Timestamp,
  V,
} from './primitives.js';

// ---- hub/state ---------------------------------------------------------------------------------

export const HubState = z
  .object({ v: V, online: z.boolean(), ts: Timestamp })
  .describe('Retained hub liveness; the hub’s will says online=false');
export type HubState = z.infer<typeof HubState>;

// ---- {agent}/state -----------------------------------------------------------------------------

export const AVAILABILITY_STATES = ['online', 'offline', 'lost', 'sleeping'] as const;
export const AgentStateValue = z.enum(AVAILABILITY_STATES);
export const AgentState = z
  .object({ v: V, state: AgentStateValue, session: Session, ts: Timestamp })
  .describe('Retained agent availability; the will carries state=lost with the same session');
export type AgentState = z.infer<typeof AgentState>;

// ---- {agent}/birth -----------------------------------------------------------------------------

export const Room = z.object({
  id: RoomId,
  name: Text,
  building: Text,
  floor: Text,
  campus: Text,
});
export type Room = z.infer<typeof Room>;

export const SourceKind = z.enum(['camera', 'microphone']);
export type SourceKind = z.infer<typeof SourceKind>;

export const Probe = z.object({
  codec: Text.nullable().optional(),
  width: NonNegInt.nullable().optional(),
  height: NonNegInt.nullable().optional(),
  fps: NonNeg.nullable().optional(),
  audioCodec: Text.nullable().optional(),
  sampleRate: NonNegInt.nullable().optional(),
  channels: NonNegInt.nullable().optional(),
  error: Text.optional().describe('Why probing failed, when it did'),
});
export type Probe = z.infer<typeof Probe>;

export const SourceInfo = z.object({
  id: SourceId,
  kind: SourceKind,
  label: Text,
  probe: Probe,
  occupancy: z
    .literal('unavailable')
    .optional()
    .describe(
      'Set when the camera is configured to count people but no detector could run (docs/occupancy.md); health monitoring goes on',
    ),
  occupancyReason: Text.optional().describe('Why people counting is unavailable, when it is'),
});
export type SourceInfo = z.infer<typeof SourceInfo>;

export const Birth = z.object({
  v: V,
  session: Session,
  ts: Timestamp,
  agentVersion: Text,
  room: Room,
  sources: z.array(SourceInfo).max(LIMITS.maxSources),
  configVersion: NonNegInt,
  telemetryIntervalS: z.number().int().min(1).max(3600),
});
export type Birth = z.infer<typeof Birth>;

// ---- {agent}/telemetry -------------------------------------------------------------------------

export const Telemetry = z.object({
  v: V,
  session: Session,
  ts: Timestamp,
  cpuLoad: Ratio,
  memUsedBytes: NonNegInt,
  memTotalBytes: NonNegInt,
  diskFreeBytes: NonNegInt,
  diskTotalBytes: NonNegInt,
  temperatureC: z.number().min(-100).max(200).nullable(),
  uptimeS: NonNeg,
  clockOffsetMs: z.number().min(-1e12).max(1e12).nullable(),
  outboxPending: NonNegInt,
  /** Sources on the off-hours duty cycle (docs/agent-media.md "Duty cycle"); absent: all at full watch. */
  watch: z
    .array(z.object({ id: SourceId, mode: z.enum(['full', 'duty']) }))
    .max(LIMITS.maxSources)
    .optional(),
});
export type Telemetry = z.infer<typeof Telemetry>;

// ---- records -----------------------------------------------------------------------------------

export const VideoWindow = z.object({
  fps: NonNeg.describe('Frames per second the source delivered in the window'),
  width: NonNegInt.nullable(),
  height: NonNegInt.nullable(),
  keyframes: NonNegInt,
  bitrateKbps: NonNeg.nullable(),
  blackRatio: Ratio.nullable(),
  frozenRatio: Ratio.nullable(),
  motion: Ratio.nullable().describe('Mean scene-change score (0 = still, 1 = full change)'),
});
export type VideoWindow = z.infer<typeof VideoWindow>;

export const AudioWindow = z.object({
  rmsDb: Decibels,
  peakDb: Decibels,
  loudnessLufs: Decibels,
  silenceRatio: Ratio.nullable(),
});
export type AudioWindow = z.infer<typeof AudioWindow>;

/** People counted in a capture window (docs/occupancy.md): only the count leaves the box. */
export const OccupancyWindow = z
  .object({
    people: NonNeg.max(LIMITS.maxPeople).describe("Median of the window's counts"),
    peak: NonNegInt.max(LIMITS.maxPeople).describe("Largest of the window's counts"),
    samples: z.number().int().min(1).max(3600).describe('Frames counted in the window'),
  })
  .refine((o) => o.peak >= o.people, { message: 'peak must not be below people', path: ['peak'] });
export type OccupancyWindow = z.infer<typeof OccupancyWindow>;

export const CaptureRecord = z
  .object({
    seq: Seq,
    kind: z.literal('capture'),
    source: SourceId,
    start: Timestamp,
    end: Timestamp,
    video: VideoWindow.optional(),
    audio: AudioWindow.optional(),
    occupancy: OccupancyWindow.optional(),
  })
  .refine((r) => r.end >= r.start, { message: 'end must not be before start', path: ['end'] });
export type CaptureRecord = z.infer<typeof CaptureRecord>;

export const EVENT_TYPES = [
  'source.down',
  'source.up',
  'video.black.start',
  'video.black.end',
  'video.frozen.start',
  'video.frozen.end',
  'audio.silence.start',
  'audio.silence.end',
  'disk.low',
  'clock.skew',
  'outbox.dropped',
] as const;
export const EventType = z.enum(EVENT_TYPES);
export type EventType = z.infer<typeof EventType>;

export const EventRecord = z.object({
  seq: Seq,
  kind: z.literal('event'),
  source: SourceId.nullable().describe('The source concerned, or null for box-level events'),
  ts: Timestamp,
  type: EventType,
  detail: Detail,
});
export type EventRecord = z.infer<typeof EventRecord>;

export const RecordSchema = z.discriminatedUnion('kind', [CaptureRecord, EventRecord]);
export type RecordT = z.infer<typeof RecordSchema>;

export const RecordsBatch = z
  .object({
    v: V,
    session: Session,
    records: z.array(RecordSchema).min(1).max(LIMITS.maxRecordsPerBatch),
    historical: z.boolean().optional(),
  })
  .refine(
    (b) => {
      for (let i = 1; i < b.records.length; i++) {
        if (b.records[i]!.seq <= b.records[i - 1]!.seq) return false;
      }
      return true;
    },
    { message: 'records must be in strictly increasing seq order', path: ['records'] },
  );
export type RecordsBatch = z.infer<typeof RecordsBatch>;

// ---- {agent}/ack -------------------------------------------------------------------------------

export const SeqRange = z
  .tuple([Seq, Seq])
  .refine(([a, b]) => b >= a, { message: 'range end must not be below its start' });
export const Ack = z.object({ v: V, ranges: z.array(SeqRange).min(1).max(LIMITS.maxAckRanges) });
export type Ack = z.infer<typeof Ack>;

// ---- settings pushed by the hub ----------------------------------------------------------------

/** Detection thresholds; every field has a default in the agent. */
export const Thresholds = z.object({
  blackPixelRatio: Ratio.optional().describe(
    'Share of a frame that must be dark to count as black (blackdetect pic_th)',
  ),
  blackLuma: Ratio.optional().describe('Luma at or below which a pixel is dark (blackdetect pix_th)'),
  blackMinS: z.number().min(0.1).max(3600).optional().describe('Seconds of black before video.black.start'),
  frozenNoiseDb: z.number().min(-90).max(0).optional().describe('freezedetect noise tolerance, dB'),
  frozenMinS: z
    .number()
    .min(0.5)
    .max(3600)
    .optional()
    .describe('Seconds of a still picture before video.frozen.start'),
  silenceDb: z.number().min(-120).max(0).optional().describe('Level below which audio counts as silent'),
  silenceMinS: z
    .number()
    .min(0.5)
    .max(3600)
    .optional()
    .describe('Seconds of silence before audio.silence.start'),
  sourceStaleS: z
    .number()
    .min(2)
    .max(600)
    .optional()
    .describe('Seconds without ffmpeg progress before source.down'),
  maxDetectionDelayS: z
    .number()
    .min(1)
    .max(600)
    .optional()
    .describe(
      'Seconds a video fault may be reported after its minimum duration; keyframe-only decoding is kept while its worst delay fits (docs/agent-media.md "Cost")',
    ),
});
export type Thresholds = z.infer<typeof Thresholds>;

/** Off-hours duty cycle of the sources (docs/agent-media.md "Duty cycle"); every field has a default. */
export const RestSettings = z.object({
  enabled: z.boolean().optional().describe('Duty cycle outside classes; unset: on when a timetable is known'),
  onS: z.number().int().min(5).max(3600).optional().describe('Seconds each source is watched per cycle (20)'),
  everyS: z.number().int().min(30).max(86_400).optional().describe('Cycle length in seconds (300)'),
  precheckS: z
    .number()
    .int()
    .min(0)
    .max(7200)
    .optional()
    .describe('Full watch starts this many seconds before each class (600)'),
});
export type RestSettings = z.infer<typeof RestSettings>;

/** A class period [start, end) in Unix ms, from the hub's schedule of the agent's room. */
export const ClassPeriod = z
  .tuple([Timestamp, Timestamp])
  .refine(([a, b]) => b > a, { message: 'a period must end after it starts' });

/** The part of an agent's configuration the hub may change remotely. */
export const AgentSettings = z.object({
  windowS: z.number().int().min(1).max(3600).optional(),
  telemetryIntervalS: z.number().int().min(1).max(3600).optional(),
  thresholds: Thresholds.optional(),
  rest: RestSettings.optional(),
  /** The room's classes from now on (docs/hub-people.md "Schedule"); the hub sends the next days. */
  timetable: z.array(ClassPeriod).max(LIMITS.maxTimetablePeriods).optional(),
});
export type AgentSettings = z.infer<typeof AgentSettings>;

export const ConfigMessage = z.object({
  v: V,
  version: NonNegInt,
  config: AgentSettings,
});
export type ConfigMessage = z.infer<typeof ConfigMessage>;

// ---- commands ----------------------------------------------------------------------------------

export const COMMAND_NAMES = [
  'rebirth',
  'snapshot',
  'restart-source',
  'set-config',
  'sleep',
  'wake',
  'thumbnail',
] as const;
export const CommandName = z.enum(COMMAND_NAMES);
export type CommandName = z.infer<typeof CommandName>;

export const Command = z.object({
  v: V,
  id: ShortId,
  name: CommandName,
  args: z
    .record(z.string().max(LIMITS.maxIdLength), z.unknown())
    .refine((o) => Object.keys(o).length <= LIMITS.maxDetailKeys, {
      message: `at most ${LIMITS.maxDetailKeys} keys`,
    }),
  expiresAt: Timestamp,
});
export type Command = z.infer<typeof Command>;

export const CommandStatus = z.enum(['accepted', 'ok', 'error']);
export const CommandResult = z.object({
  v: V,
  id: ShortId,
  status: CommandStatus,
  error: Text.optional(),
  data: z.record(z.string().max(LIMITS.maxIdLength), z.unknown()).optional(),
});
export type CommandResult = z.infer<typeof CommandResult>;

// ---- rooms/{room}/summary (northbound) ---------------------------------------------------------

export const Availability = z.enum(['online', 'offline', 'lost', 'sleeping', 'unknown']);
export type Availability = z.infer<typeof Availability>;

export const SourceStatus = z.enum(['ok', 'black', 'frozen', 'silent', 'down', 'unknown']);
export type SourceStatus = z.infer<typeof SourceStatus>;

export const RoomSummary = z.object({
  v: V,
  ts: Timestamp,
  room: Room,
  agent: AgentId.nullable(),
  availability: Availability,
  sources: z
    .array(
      z.object({
        id: SourceId,
        kind: SourceKind,
        status: SourceStatus,
        since: Timestamp.nullable(),
        /** From the agent's telemetry `watch` (docs/agent-media.md "Duty cycle"); absent: unknown. */
        watch: z.enum(['full', 'duty']).optional(),
      }),
    )
    .max(LIMITS.maxSources),
  openAlarms: NonNegInt,
  lastSeen: Timestamp.nullable(),
  /**
   * People counted in the room now (the last camera window's `occupancy.people`), null when no count
   * is recent; absent from hubs that do not count (docs/hub-people.md "Occupancy").
   */
  people: NonNegInt.nullable().optional(),
});
export type RoomSummary = z.infer<typeof RoomSummary>;
