/**
 * Hard limits of protocol v1. Both ends enforce them: the agent never produces a
 * message beyond them, and the hub dead-letters anything that exceeds them.
 */
export const LIMITS = {
  /** Largest MQTT payload either side accepts, in bytes (a records batch or a snapshot result). */
  maxPayloadBytes: 512 * 1024,
  /** Most records in one `records` batch. */
  maxRecordsPerBatch: 500,
  /** Deepest nesting of arrays/objects in any payload. Every v1 message is shallower than 8. */
  maxJsonDepth: 16,
  /** Longest free-text string (labels, names, error messages). */
  maxStringLength: 256,
  /** Longest identifier (agent, room, source, command ids). */
  maxIdLength: 64,
  /** Most sources one agent may declare. */
  maxSources: 16,
  /** Most class periods in a config's `timetable` (two weeks of 12 classes a day fit). */
  maxTimetablePeriods: 200,
  /** Most keys in an event's `detail` or a command's `args`. */
  maxDetailKeys: 32,
  /** Largest snapshot JPEG an agent sends, before base64. */
  maxSnapshotBytes: 256 * 1024,
  /** Largest patrol-wall thumbnail JPEG (about 320 px wide), before base64. */
  maxThumbnailBytes: 64 * 1024,
  /** Largest seq value: seqs stay exact in JSON numbers. */
  maxSeq: Number.MAX_SAFE_INTEGER,
  /** Most people a capture window may report (the largest lecture halls seat under 1,000). */
  maxPeople: 1000,
  /** Largest ack ranges list. */
  maxAckRanges: 256,
} as const;

/** Agent ids become MQTT usernames and topic levels, so they exclude `/`, `+`, `#` and upper case. */
export const AGENT_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** Room ids become a topic level of the northbound summary topic. */
export const ROOM_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Source ids are local to an agent. */
export const SOURCE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
