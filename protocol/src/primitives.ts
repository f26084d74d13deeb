import { z } from 'zod';
import { AGENT_ID_PATTERN, LIMITS, ROOM_ID_PATTERN, SOURCE_ID_PATTERN } from './limits.js';

/** Protocol version marker carried by every payload. */
export const V = z.literal(1);
/** Unix milliseconds, UTC. Bounded so that garbage like 1e300 is refused. */
export const Timestamp = z
  .number()
  .int()
  .min(0)
  .max(8_640_000_000_000_000)
  .describe('Unix time in milliseconds (UTC)');
export const Seq = z.number().int().min(1).max(LIMITS.maxSeq).describe('Per-agent record sequence number');
export const Session = z
  .number()
  .int()
  .min(0)
  .max(LIMITS.maxSeq)
  .describe('Connect counter persisted by the agent');
export const AgentId = z.string().regex(AGENT_ID_PATTERN, 'must match ^[a-z0-9][a-z0-9._-]{0,63}$');
export const RoomId = z.string().regex(ROOM_ID_PATTERN, 'must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$');
export const SourceId = z.string().regex(SOURCE_ID_PATTERN, 'must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$');
export const Text = z.string().max(LIMITS.maxStringLength);
export const ShortId = z.string().min(1).max(LIMITS.maxIdLength);
export const Ratio = z.number().min(0).max(1);
/** Decibels; null when the level is not measurable (digital silence is -inf). */
export const Decibels = z.number().min(-200).max(200).nullable();
export const NonNegInt = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const NonNeg = z.number().min(0).max(Number.MAX_SAFE_INTEGER);

const DetailValue = z.union([z.string().max(1024), z.number(), z.boolean(), z.null()]);
/** A flat bag of scalar values: event details, command args. */
export const Detail = z
  .record(z.string().max(LIMITS.maxIdLength), DetailValue)
  .refine((o) => Object.keys(o).length <= LIMITS.maxDetailKeys, {
    message: `at most ${LIMITS.maxDetailKeys} keys`,
  });
