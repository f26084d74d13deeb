// PostgreSQL keeps records in native declarative partitions (docs/hub-postgres.md "Partitions"):
//   records            PARTITION BY LIST (kind)
//   ├ records_capture  PARTITION BY RANGE (ts): one table per 7 days, plus records_capture_default
//   └ records_event    PARTITION BY RANGE (ts): the same for events
// Captures and events have their own retention, so they have their own partitions, and a pass drops a
// partition whole once all of it is older than its cutoff: no row-by-row delete, no bloat, no vacuum.
// A partition key must be part of every unique key, so the primary key is (agent, seq, kind, ts); a
// resend carries the same record (same kind and ts), so (agent, seq) still dedupes (DESIGN.md).
import type { Db } from '../context.js';

/** Width of one range partition: a retention pass keeps at most this much beyond a cutoff. */
export const PARTITION_MS = 7 * 86_400_000;
/** Partitions are created this far ahead, so live records never land in the default partition. */
export const AHEAD_MS = 2 * PARTITION_MS;
/** The migration creates partitions for existing data at most this far back; older rows go to default. */
const BACK_MS = 400 * 86_400_000;

export const RECORD_KINDS = ['capture', 'event'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

export function partitionStart(ts: number): number {
  return Math.floor(ts / PARTITION_MS) * PARTITION_MS;
}

/**
 * records_attach_partition(kind, start): creates the range partition [start, start + 7 d) of
 * records_<kind> unless it exists. Rows of that range already in the default partition (a box whose
 * clock ran ahead) are moved into it first, which ATTACH PARTITION requires.
 */
const ATTACH_FUNCTION = `
CREATE OR REPLACE FUNCTION records_attach_partition(p_kind text, p_start bigint) RETURNS boolean
LANGUAGE plpgsql AS $fn$
DECLARE
  width  constant bigint := ${PARTITION_MS};
  parent text := 'records_' || p_kind;
  part   text := parent || '_' || to_char(to_timestamp(p_start / 1000.0) AT TIME ZONE 'UTC', 'YYYYMMDD');
BEGIN
  IF to_regclass(part) IS NOT NULL THEN
    RETURN false;
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, parent);
  EXECUTE format(
    'WITH moved AS (DELETE FROM %I WHERE ts >= %s AND ts < %s RETURNING *) INSERT INTO %I SELECT * FROM moved',
    parent || '_default', p_start, p_start + width, part);
  EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)',
    parent, part, p_start, p_start + width);
  RETURN true;
END
$fn$;`;

/**
 * Rebuilds the records table as the partitioned tree above, in the migration's transaction. Existing
 * rows are copied over; on a large table this takes a while, and the hub logs the migration's start and end.
 */
export const RECORDS_PARTITION_MIGRATION_PG = `
ALTER TABLE records RENAME TO records_unpartitioned;
ALTER TABLE records_unpartitioned RENAME CONSTRAINT records_pkey TO records_unpartitioned_pkey;
ALTER INDEX records_ts RENAME TO records_unpartitioned_ts;
ALTER INDEX records_room_ts RENAME TO records_unpartitioned_room_ts;
CREATE TABLE records (
  agent       TEXT NOT NULL,
  seq         BIGINT NOT NULL,
  kind        TEXT NOT NULL,
  source      TEXT,
  ts          BIGINT NOT NULL,
  end_ts      BIGINT,
  room        TEXT,
  type        TEXT,
  historical  INTEGER NOT NULL DEFAULT 0,
  received_at BIGINT NOT NULL,
  body        TEXT NOT NULL,
  PRIMARY KEY (agent, seq, kind, ts)
) PARTITION BY LIST (kind);
CREATE TABLE records_capture PARTITION OF records FOR VALUES IN ('capture') PARTITION BY RANGE (ts);
CREATE TABLE records_event PARTITION OF records FOR VALUES IN ('event') PARTITION BY RANGE (ts);
CREATE TABLE records_capture_default PARTITION OF records_capture DEFAULT;
CREATE TABLE records_event_default PARTITION OF records_event DEFAULT;
CREATE INDEX records_ts ON records (ts, agent, seq);
CREATE INDEX records_room_ts ON records (room, ts);
${ATTACH_FUNCTION}
DO $mig$
DECLARE
  width  constant bigint := ${PARTITION_MS};
  now_ms bigint := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
  first  bigint;
  w      bigint;
BEGIN
  SELECT min(ts) INTO first FROM records_unpartitioned;
  first := greatest(coalesce(first, now_ms), now_ms - ${BACK_MS});
  w := (first / width) * width;
  WHILE w <= now_ms + ${AHEAD_MS} LOOP
    PERFORM records_attach_partition('capture', w);
    PERFORM records_attach_partition('event', w);
    w := w + width;
  END LOOP;
END
$mig$;
INSERT INTO records SELECT * FROM records_unpartitioned;
DROP TABLE records_unpartitioned;
`;

/** Creates the partitions from the current week to AHEAD_MS ahead (several hubs may race: idempotent). */
export async function ensurePartitions(db: Db, now: number): Promise<string[]> {
  const created: string[] = [];
  for (let w = partitionStart(now); w <= now + AHEAD_MS; w += PARTITION_MS) {
    for (const kind of RECORD_KINDS) {
      try {
        const row = await db.get<{ created: boolean }>('SELECT records_attach_partition(?, ?) AS created', [
          kind,
          w,
        ]);
        if (row?.created) created.push(partitionName(kind, w));
      } catch (err) {
        // Another hub created the same partition between our check and our CREATE: it exists now.
        if ((err as { code?: string }).code !== '42P07') throw err;
      }
    }
  }
  return created;
}

export function partitionName(kind: RecordKind, start: number): string {
  const d = new Date(start).toISOString().slice(0, 10).replace(/-/g, '');
  return `records_${kind}_${d}`;
}

export interface RangePartition {
  name: string;
  from: number;
  to: number;
}

/** The range partitions of records_<kind>, oldest first (the default partition is not listed). */
export async function listPartitions(db: Db, kind: RecordKind): Promise<RangePartition[]> {
  const rows = await db.all<{ name: string; bound: string }>(
    `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = to_regclass(?)`,
    [`records_${kind}`],
  );
  const out: RangePartition[] = [];
  for (const r of rows) {
    const m = /FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)/.exec(r.bound);
    if (m) out.push({ name: r.name, from: Number(m[1]), to: Number(m[2]) });
  }
  return out.sort((a, b) => a.from - b.from);
}

/** Whether records is the partitioned tree (false only before the migration, or on SQLite). */
export async function isPartitioned(db: Db): Promise<boolean> {
  const row = await db.get<{ k: string | null }>(
    "SELECT c.relkind::text AS k FROM pg_class c WHERE c.oid = to_regclass('records')",
  );
  return row?.k === 'p';
}
