// fast-check generators of valid protocol v1 messages (DESIGN.md "MQTT protocol v1"), shared by the
// property tests. Every value they make must be accepted by the schemas in src/messages.ts.
import fc from 'fast-check';
import { AGENT_ID_PATTERN, LIMITS, ROOM_ID_PATTERN, SOURCE_ID_PATTERN } from '../src/limits.js';
import { COMMAND_NAMES, EVENT_TYPES } from '../src/messages.js';

/** JSON has no -0: a generated -0 would come back as 0 and fail a round-trip for no real reason. */
const noNegZero = (x: number): number => (x === 0 ? 0 : x);
const real = (min: number, max: number) =>
  fc.double({ min, max, noNaN: true, noDefaultInfinity: true }).map(noNegZero);

export const agentId = fc.stringMatching(AGENT_ID_PATTERN);
export const roomId = fc.stringMatching(ROOM_ID_PATTERN);
export const sourceId = fc.stringMatching(SOURCE_ID_PATTERN);
export const text = fc
  .string({ maxLength: LIMITS.maxStringLength, unit: 'grapheme' })
  .filter((s) => s.length <= LIMITS.maxStringLength);
export const shortId = fc.string({ minLength: 1, maxLength: LIMITS.maxIdLength });
export const timestamp = fc.integer({ min: 0, max: 8_640_000_000_000_000 });
export const session = fc.integer({ min: 0, max: LIMITS.maxSeq });
export const ratio = real(0, 1);
const nonNegInt = fc.maxSafeNat();
const decibels = fc.option(real(-200, 200), { nil: null });

export const room = fc.record({ id: roomId, name: text, building: text, floor: text, campus: text });

const video = fc.record({
  fps: real(0, 1000),
  width: fc.option(nonNegInt, { nil: null }),
  height: fc.option(nonNegInt, { nil: null }),
  keyframes: nonNegInt,
  bitrateKbps: fc.option(real(0, 1e6), { nil: null }),
  blackRatio: fc.option(ratio, { nil: null }),
  frozenRatio: fc.option(ratio, { nil: null }),
  motion: fc.option(ratio, { nil: null }),
});
const audio = fc.record({
  rmsDb: decibels,
  peakDb: decibels,
  loudnessLufs: decibels,
  silenceRatio: fc.option(ratio, { nil: null }),
});

const detail = fc.dictionary(
  fc
    .string({ maxLength: LIMITS.maxIdLength })
    .filter((k) => !['__proto__', 'constructor', 'prototype'].includes(k)),
  fc.oneof(fc.string({ maxLength: 1024 }), real(-1e12, 1e12), fc.boolean(), fc.constant(null)),
  { maxKeys: LIMITS.maxDetailKeys },
);

/** A record without its seq (the batch assigns increasing seqs). */
const recordBody = fc.oneof(
  fc
    .record(
      {
        kind: fc.constant('capture' as const),
        source: sourceId,
        start: fc.integer({ min: 0, max: 8_000_000_000_000_000 }),
        length: fc.integer({ min: 0, max: 3_600_000 }),
        video,
        audio,
      },
      { requiredKeys: ['kind', 'source', 'start', 'length'] },
    )
    .map(({ length, ...r }) => ({ ...r, end: r.start + length })),
  fc.record({
    kind: fc.constant('event' as const),
    source: fc.option(sourceId, { nil: null }),
    ts: timestamp,
    type: fc.constantFrom(...EVENT_TYPES),
    detail,
  }),
);

export const recordsBatch = fc
  .record(
    {
      v: fc.constant(1 as const),
      session,
      firstSeq: fc.integer({ min: 1, max: 1e12 }),
      gaps: fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 20 }),
      bodies: fc.array(recordBody, { minLength: 20, maxLength: 20 }),
      historical: fc.boolean(),
    },
    { requiredKeys: ['v', 'session', 'firstSeq', 'gaps', 'bodies'] },
  )
  .map(({ firstSeq, gaps, bodies, ...b }) => {
    let seq = firstSeq;
    const records = gaps.map((gap, i) => {
      if (i > 0) seq += gap;
      return { seq, ...bodies[i]! };
    });
    return { ...b, records };
  });

export const ack = fc.record({
  v: fc.constant(1 as const),
  ranges: fc.array(
    fc
      .tuple(fc.integer({ min: 1, max: 1e15 }), fc.integer({ min: 0, max: 1e6 }))
      .map(([a, n]) => [a, a + n] as [number, number]),
    { minLength: 1, maxLength: LIMITS.maxAckRanges },
  ),
});

export const telemetry = fc.record({
  v: fc.constant(1 as const),
  session,
  ts: timestamp,
  cpuLoad: ratio,
  memUsedBytes: nonNegInt,
  memTotalBytes: nonNegInt,
  diskFreeBytes: nonNegInt,
  diskTotalBytes: nonNegInt,
  temperatureC: fc.option(real(-100, 200), { nil: null }),
  uptimeS: real(0, 1e10),
  clockOffsetMs: fc.option(real(-1e12, 1e12), { nil: null }),
  outboxPending: nonNegInt,
});

export const agentState = fc.record({
  v: fc.constant(1 as const),
  state: fc.constantFrom('online', 'offline', 'lost', 'sleeping' as const),
  session,
  ts: timestamp,
});

export const birth = fc.record({
  v: fc.constant(1 as const),
  session,
  ts: timestamp,
  agentVersion: text,
  room,
  sources: fc.array(
    fc.record({
      id: sourceId,
      kind: fc.constantFrom('camera', 'microphone' as const),
      label: text,
      probe: fc.record(
        {
          codec: fc.option(text, { nil: null }),
          width: fc.option(nonNegInt, { nil: null }),
          fps: fc.option(real(0, 1000), { nil: null }),
          sampleRate: fc.option(nonNegInt, { nil: null }),
          error: text,
        },
        { requiredKeys: [] },
      ),
    }),
    { maxLength: LIMITS.maxSources },
  ),
  configVersion: nonNegInt,
  telemetryIntervalS: fc.integer({ min: 1, max: 3600 }),
});

export const command = fc.record({
  v: fc.constant(1 as const),
  id: shortId,
  name: fc.constantFrom(...COMMAND_NAMES),
  args: fc.dictionary(
    fc
      .string({ maxLength: LIMITS.maxIdLength })
      .filter((k) => !['__proto__', 'constructor', 'prototype'].includes(k)),
    fc.oneof(fc.string({ maxLength: 64 }), fc.integer(), fc.boolean()),
    { maxKeys: LIMITS.maxDetailKeys },
  ),
  expiresAt: timestamp,
});
