// Timetable storage. An import replaces the room's whole timetable (coverage already counted stays
// in the rollups), so re-importing a corrected file is always safe.
import { randomUUID } from 'node:crypto';
import type { Db } from '../context.js';
import { defaultParseOptions, type Period, type ScheduleFormat } from './parse.js';
import { parseScheduleOffThread } from './parse-async.js';

export const SCHEDULE_MIGRATION = `
CREATE TABLE IF NOT EXISTS schedule_periods (
  id TEXT PRIMARY KEY,
  room TEXT NOT NULL,
  start BIGINT NOT NULL,
  end_ts BIGINT NOT NULL,
  title TEXT NOT NULL,
  origin TEXT NOT NULL,
  imported_at BIGINT NOT NULL,
  precheck_at BIGINT,
  precheck_ok INTEGER,
  precheck_problems TEXT,
  start_checked_at BIGINT,
  start_ok INTEGER
);
CREATE INDEX IF NOT EXISTS schedule_periods_room ON schedule_periods (room, start);
CREATE INDEX IF NOT EXISTS schedule_periods_start ON schedule_periods (start);`;

export interface StoredPeriod extends Period {
  id: string;
  room: string;
  origin: string;
  precheck: { at: number; ok: boolean; problems: string[] } | null;
  startCheck: { at: number; ok: boolean } | null;
}

interface Row {
  id: string;
  room: string;
  start: number | string;
  end_ts: number | string;
  title: string;
  origin: string;
  precheck_at: number | string | null;
  precheck_ok: number | string | null;
  precheck_problems: string | null;
  start_checked_at: number | string | null;
  start_ok: number | string | null;
}

function fromRow(r: Row): StoredPeriod {
  return {
    id: r.id,
    room: r.room,
    start: Number(r.start),
    end: Number(r.end_ts),
    title: r.title,
    origin: r.origin,
    precheck:
      r.precheck_at === null
        ? null
        : {
            at: Number(r.precheck_at),
            ok: Number(r.precheck_ok) === 1,
            problems: JSON.parse(r.precheck_problems ?? '[]') as string[],
          },
    startCheck:
      r.start_checked_at === null ? null : { at: Number(r.start_checked_at), ok: Number(r.start_ok) === 1 },
  };
}

export async function migrateSchedule(db: Db): Promise<void> {
  await db.migrate('people-005-schedule', SCHEDULE_MIGRATION);
}

/**
 * Parses and stores a room's timetable, replacing the previous one. Used by the API and by the
 * `classroom-hub schedule import` CLI (which opens the store directly, like `agents add`).
 */
export async function importSchedule(
  db: Db,
  room: string,
  format: ScheduleFormat,
  content: string,
  now: number,
): Promise<{ room: string; periods: number; first: number | null; last: number | null }> {
  const periods = await parseScheduleOffThread(format, content, defaultParseOptions(now));
  await migrateSchedule(db);
  await db.transaction(async () => {
    await db.run('DELETE FROM schedule_periods WHERE room = ?', [room]);
    for (const p of periods) {
      await db.run(
        'INSERT INTO schedule_periods (id, room, start, end_ts, title, origin, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [randomUUID(), room, p.start, p.end, p.title, format, now],
      );
    }
  });
  return {
    room,
    periods: periods.length,
    first: periods[0]?.start ?? null,
    last: periods.at(-1)?.start ?? null,
  };
}

export async function listPeriods(db: Db, room: string, from: number, to: number): Promise<StoredPeriod[]> {
  const rows = await db.all<Row>(
    'SELECT * FROM schedule_periods WHERE room = ? AND end_ts > ? AND start < ? ORDER BY start LIMIT 5000',
    [room, from, to],
  );
  return rows.map(fromRow);
}

/** Periods that start within `lead` ms or are under way, across all rooms. */
export async function duePeriods(db: Db, now: number, leadMs: number): Promise<StoredPeriod[]> {
  const rows = await db.all<Row>(
    'SELECT * FROM schedule_periods WHERE start <= ? AND end_ts > ? ORDER BY start',
    [now + leadMs, now],
  );
  return rows.map(fromRow);
}

export async function recordPrecheck(
  db: Db,
  id: string,
  at: number,
  ok: boolean,
  problems: string[],
): Promise<void> {
  await db.run(
    'UPDATE schedule_periods SET precheck_at = ?, precheck_ok = ?, precheck_problems = ? WHERE id = ?',
    [at, ok ? 1 : 0, JSON.stringify(problems), id],
  );
}

export async function recordStartCheck(db: Db, id: string, at: number, ok: boolean): Promise<void> {
  await db.run('UPDATE schedule_periods SET start_checked_at = ?, start_ok = ? WHERE id = ?', [
    at,
    ok ? 1 : 0,
    id,
  ]);
}
