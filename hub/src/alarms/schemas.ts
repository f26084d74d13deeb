// Zod schemas and table of the alarms API (shared by the routes and the OpenAPI description).
import { z } from 'zod';
import { ALARM_STATES, ALARM_TYPES } from './types.js';

export const AlarmSchema = z.object({
  id: z.string(),
  agent: z.string(),
  room: z.string().nullable(),
  source: z.string().nullable(),
  type: z.enum(ALARM_TYPES),
  state: z.enum(ALARM_STATES),
  flapping: z.boolean(),
  detail: z.record(z.string(), z.unknown()),
  raisedAt: z.number(),
  ackedAt: z.number().nullable(),
  ackedBy: z.string().nullable(),
  ackNote: z.string().nullable(),
  clearedAt: z.number().nullable(),
  updatedAt: z.number(),
  raiseCount: z.number(),
});

export const CSV_COLUMNS = [
  'id',
  'agent',
  'room',
  'source',
  'type',
  'state',
  'flapping',
  'raisedAt',
  'ackedAt',
  'ackedBy',
  'ackNote',
  'clearedAt',
  'updatedAt',
  'raiseCount',
];

export const Cursor = z.object({ u: z.number(), i: z.string() });

export const MAINTENANCE_MIGRATION = `
CREATE TABLE IF NOT EXISTS room_maintenance (
  room TEXT PRIMARY KEY,
  since BIGINT NOT NULL,
  who TEXT NOT NULL,
  note TEXT
);`;

export const MaintenanceView = z.object({
  room: z.string(),
  since: z.number(),
  who: z.string(),
  note: z.string().nullable(),
});
