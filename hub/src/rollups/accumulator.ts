// In-memory deltas of rollup counters, flushed to the store as multi-row upserts, so
// rollups are maintained incrementally as records arrive (docs/hub-people.md "Rollups") and never by scanning history.
import type { CaptureRecord } from '@classroom/protocol';
import type { Db } from '../context.js';
import { occupancyOf } from '../utilization/occupancy.js';
import { type BucketKind, splitSpan } from './buckets.js';

/** The columns of the first rollups table (people-004-rollups); later ones come by ALTER TABLE. */
const BASE_FIELDS = [
  'online_ms',
  'down_ms',
  'video_ms',
  'video_ok_ms',
  'audio_ms',
  'audio_active_ms',
  'capture_ms',
  'scheduled_ms',
  'healthy_ms',
] as const;

/**
 * People counted by the boxes (docs/hub-people.md "Occupancy"): people × ms of counted windows, the ms
 * counted, and the ms with at least one person; the mean is people_ms / counted_ms.
 */
const OCCUPANCY_FIELDS = ['people_ms', 'counted_ms', 'occupied_ms'] as const;

/** Summed counters; `people_peak` is the one kept as a maximum instead. */
export const ROLLUP_FIELDS = [...BASE_FIELDS, ...OCCUPANCY_FIELDS] as const;
export type RollupField = (typeof ROLLUP_FIELDS)[number] | 'people_peak';
export type RollupCounters = Record<RollupField, number>;
const ALL_FIELDS: RollupField[] = [...ROLLUP_FIELDS, 'people_peak'];

export const ROLLUPS_MIGRATION = `
CREATE TABLE IF NOT EXISTS rollups (
  room TEXT NOT NULL,
  bucket TEXT NOT NULL,
  start BIGINT NOT NULL,
  ${BASE_FIELDS.map((f) => `${f} BIGINT NOT NULL DEFAULT 0`).join(',\n  ')},
  PRIMARY KEY (room, bucket, start)
);`;

export const ROLLUPS_OCCUPANCY_MIGRATION = [...OCCUPANCY_FIELDS, 'people_peak']
  .map((f) => `ALTER TABLE rollups ADD COLUMN ${f} BIGINT NOT NULL DEFAULT 0;`)
  .join('\n');

export async function migrateRollups(db: Db): Promise<void> {
  await db.migrate('people-004-rollups', ROLLUPS_MIGRATION);
  await db.migrate('rollups-002-occupancy', ROLLUPS_OCCUPANCY_MIGRATION);
}

/** A capture window counts as video-ok when at most this share of it was black or frozen. */
export const VIDEO_BAD_RATIO = 0.5;

const BUCKETS: BucketKind[] = ['hour', 'day'];

/** Rows per upsert statement: 16 parameters a row stays far below SQLite's and PostgreSQL's limits. */
export const FLUSH_ROWS = 100;

const upsertCache = new Map<string, string>();
/**
 * `INSERT … VALUES (…), (…) ON CONFLICT … DO UPDATE` adding each row's deltas (keys in one are unique)
 * and keeping the larger peak (SQLite's two-argument MAX is PostgreSQL's GREATEST).
 */
function upsertSql(rows: number, dialect: Db['dialect']): string {
  const key = `${dialect}:${rows}`;
  let sql = upsertCache.get(key);
  if (sql) return sql;
  const cols = ALL_FIELDS.join(', ');
  const tuple = `(?, ?, ?, ${ALL_FIELDS.map(() => '?').join(', ')})`;
  const max = dialect === 'postgres' ? 'GREATEST' : 'MAX';
  const sets = [
    ...ROLLUP_FIELDS.map((f) => `${f} = rollups.${f} + excluded.${f}`),
    `people_peak = ${max}(rollups.people_peak, excluded.people_peak)`,
  ].join(', ');
  sql = `INSERT INTO rollups (room, bucket, start, ${cols}) VALUES ${Array(rows).fill(tuple).join(', ')}
      ON CONFLICT (room, bucket, start) DO UPDATE SET ${sets}`;
  upsertCache.set(key, sql);
  return sql;
}

function zero(): RollupCounters {
  return Object.fromEntries(ALL_FIELDS.map((f) => [f, 0])) as RollupCounters;
}

export class RollupAccumulator {
  private pending = new Map<string, { room: string; bucket: BucketKind; start: number; c: RollupCounters }>();

  constructor(private readonly db: Db) {}

  /** Adds `weight` (0..1) of every millisecond of [from, to) to `field` in each hour and day bucket. */
  addSpan(room: string, field: RollupField, from: number, to: number, weight = 1): void {
    if (weight <= 0) return;
    this.addSpanFields(room, from, to, [[field, weight]]);
  }

  addCapture(room: string, r: CaptureRecord): void {
    // Every field of a window shares its span, so the span is split into buckets once (replays add
    // hundreds of thousands of windows; splitting per field was the feature modules' largest cost).
    const fields: Array<[RollupField, number]> = [];
    if (r.video) {
      fields.push(['video_ms', 1], ['capture_ms', 1]);
      const v = r.video;
      const ok =
        v.fps > 0 && (v.blackRatio ?? 0) <= VIDEO_BAD_RATIO && (v.frozenRatio ?? 0) <= VIDEO_BAD_RATIO;
      if (ok) fields.push(['video_ok_ms', 1]);
    }
    if (r.audio) {
      fields.push(['audio_ms', 1]);
      const active = r.audio.silenceRatio === null ? 0 : 1 - r.audio.silenceRatio;
      if (active > 0) fields.push(['audio_active_ms', active]);
    }
    const occ = occupancyOf(r);
    if (occ) {
      fields.push(['counted_ms', 1]);
      if (occ.people > 0) fields.push(['people_ms', occ.people]);
      if (occ.people >= 1) fields.push(['occupied_ms', 1]);
    }
    if (fields.length > 0) this.addSpanFields(room, r.start, r.end, fields);
    if (occ && occ.peak > 0) this.addPeak(room, r.start, r.end, occ.peak);
  }

  private addPeak(room: string, from: number, to: number, peak: number): void {
    for (const bucket of BUCKETS) {
      for (const [start] of splitSpan(bucket, from, Math.max(to, from + 1))) {
        const c = this.entry(room, bucket, start);
        c.people_peak = Math.max(c.people_peak, peak);
      }
    }
  }

  private addSpanFields(room: string, from: number, to: number, fields: Array<[RollupField, number]>): void {
    if (!(to > from)) return;
    for (const bucket of BUCKETS) {
      for (const [start, ms] of splitSpan(bucket, from, to)) {
        const c = this.entry(room, bucket, start);
        for (const [field, weight] of fields) c[field] += ms * weight;
      }
    }
  }

  get size(): number {
    return this.pending.size;
  }

  /**
   * Writes the pending deltas as multi-row upserts of FLUSH_ROWS rows. Each statement is one short write
   * of its own (no enclosing transaction): a flush of hundreds of rows used to hold the shared write queue
   * for hundreds of round trips, stalling ingest commits (and their acks) behind it. Rows are independent
   * counters, so a partial flush is consistent; deltas not written are put back for the next flush.
   */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending = new Map();
    for (let i = 0; i < batch.length; i += FLUSH_ROWS) {
      const rows = batch.slice(i, i + FLUSH_ROWS);
      try {
        await this.db.run(
          upsertSql(rows.length, this.db.dialect),
          rows.flatMap((p) => [p.room, p.bucket, p.start, ...ALL_FIELDS.map((f) => Math.round(p.c[f]))]),
        );
      } catch (err) {
        // Put the deltas back so a transient store error loses nothing; the next flush retries.
        for (const p of batch.slice(i)) {
          for (const f of ROLLUP_FIELDS) this.addRaw(p.room, p.bucket, p.start, f, p.c[f]);
          const c = this.entry(p.room, p.bucket, p.start);
          c.people_peak = Math.max(c.people_peak, p.c.people_peak);
        }
        throw err;
      }
    }
  }

  private addRaw(
    room: string,
    bucket: BucketKind,
    start: number,
    field: (typeof ROLLUP_FIELDS)[number],
    v: number,
  ): void {
    this.entry(room, bucket, start)[field] += v;
  }

  private entry(room: string, bucket: BucketKind, start: number): RollupCounters {
    const key = `${room}\u0000${bucket}\u0000${start}`;
    let p = this.pending.get(key);
    if (!p) {
      p = { room, bucket, start, c: zero() };
      this.pending.set(key, p);
    }
    return p.c;
  }
}
