// One retention pass (docs/hub.md "Retention"): deletes what is older than its cutoff in small batches,
// each its own short write, so that ingest commits queued behind the store's writer run between them
// and a pass never holds up an ack for long. On PostgreSQL whole record partitions are dropped instead.
import { statSync } from 'node:fs';
import type { Clock, Db } from '../context.js';
import type { Store } from '../store/open.js';
import {
  ensurePartitions,
  isPartitioned,
  listPartitions,
  RECORD_KINDS,
  type RecordKind,
} from './partitions.js';
import { type Cutoffs, cutoffs, type RetentionPolicy } from './policy.js';
import { autoVacuumMode } from './vacuum.js';

/** Rows per delete statement: a few milliseconds of writer time each. */
export const BATCH_ROWS = 500;
/** Free pages given back to the file system per incremental_vacuum step (4 MiB at 4 KiB pages). */
export const VACUUM_PAGES = 1024;

export interface RetentionReport {
  /** Rows deleted per table (records split by kind, as each kind has its own retention). */
  deleted: {
    records: { capture: number; event: number };
    dead_letters: number;
    commands: number;
    alarm_history: number;
  };
  /** PostgreSQL: the record partitions dropped whole, with their row counts (included in `deleted`). */
  partitionsDropped: Array<{ name: string; rows: number }>;
  /** PostgreSQL: partitions created ahead of time. */
  partitionsCreated: string[];
  /** SQLite: pages given back by incremental vacuum, and the file size before and after. */
  vacuum: { pages: number; fileBytesBefore: number; fileBytesAfter: number } | null;
  cutoffs: Cutoffs;
  ms: number;
}

export interface SweepDeps {
  db: Store;
  clock: Clock;
  policy: RetentionPolicy;
  /** The SQLite file, for its size in the report (null on PostgreSQL). */
  file: string | null;
  /** Stops a pass between two batches (hub shutdown). */
  aborted?: () => boolean;
  /** Between batches: lets other writers run. Default: wait as long as the last batch took (≤ 50 ms). */
  pause?: (lastBatchMs: number) => Promise<void>;
}

export class PassAborted extends Error {}

function fileSize(file: string | null): number {
  if (!file) return 0;
  let total = 0;
  for (const f of [file, `${file}-wal`]) {
    try {
      total += statSync(f).size;
    } catch {
      // no WAL file (checkpointed and removed)
    }
  }
  return total;
}

export async function tableExists(db: Db, table: string): Promise<boolean> {
  if (db.dialect === 'sqlite') {
    return Boolean(
      await db.get("SELECT 1 AS x FROM sqlite_master WHERE type = 'table' AND name = ?", [table]),
    );
  }
  return Boolean((await db.get<{ t: string | null }>('SELECT to_regclass(?)::text AS t', [table]))?.t);
}

/** Indexes the cutoff scans need; created once, on tables other modules own (if those exist yet). */
const AGE_INDEXES: Array<[table: string, sql: string]> = [
  ['commands', 'CREATE INDEX IF NOT EXISTS commands_created_at ON commands (created_at)'],
  ['alarm_history', 'CREATE INDEX IF NOT EXISTS alarm_history_ts ON alarm_history (ts)'],
];

export async function runPass(d: SweepDeps): Promise<RetentionReport> {
  const started = d.clock.now();
  const t0 = performance.now();
  const cut = cutoffs(d.policy, started);
  const { db } = d;
  const pause =
    d.pause ??
    ((ms: number) => new Promise<void>((r) => d.clock.setTimeout(r, Math.min(50, Math.max(1, ms)))));
  const report: RetentionReport = {
    deleted: { records: { capture: 0, event: 0 }, dead_letters: 0, commands: 0, alarm_history: 0 },
    partitionsDropped: [],
    partitionsCreated: [],
    vacuum: null,
    cutoffs: cut,
    ms: 0,
  };
  const fileBytesBefore = fileSize(d.file);

  /** Runs `one()` (a delete of at most BATCH_ROWS) until it deletes fewer; returns the total. */
  const batches = async (one: () => Promise<number>): Promise<number> => {
    let total = 0;
    for (;;) {
      if (d.aborted?.()) throw new PassAborted('retention pass stopped');
      const b0 = performance.now();
      const n = await one();
      total += n;
      if (n < BATCH_ROWS) return total;
      await pause(performance.now() - b0);
    }
  };
  // Row identity for "delete these N rows": rowid in SQLite, ctid in PostgreSQL. Each batch starts at
  // the newest time the previous one deleted, so rows that stay (events older than the capture cutoff)
  // are not scanned again by every batch.
  const deleteOlder = (table: string, column: string, cutoff: number, extra = '', params: unknown[] = []) => {
    const where = `${column} >= ? AND ${column} < ?${extra}`;
    const sql =
      db.dialect === 'sqlite'
        ? `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${where} ORDER BY ${column} LIMIT ${BATCH_ROWS}) RETURNING ${column} AS t`
        : `DELETE FROM ${table} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${table} WHERE ${where} ORDER BY ${column} LIMIT ${BATCH_ROWS})) RETURNING ${column} AS t`;
    let from = Number.MIN_SAFE_INTEGER;
    return batches(async () => {
      const rows = await db.allWrite<{ t: number }>(sql, [from, cutoff, ...params]);
      for (const r of rows) if (Number(r.t) > from) from = Number(r.t);
      return rows.length;
    });
  };

  for (const [table, sql] of AGE_INDEXES) if (await tableExists(db, table)) await db.exec(sql);

  if (db.dialect === 'postgres' && (await isPartitioned(db))) {
    report.partitionsCreated = await ensurePartitions(db, started);
    for (const kind of RECORD_KINDS) {
      const cutoff = kind === 'capture' ? cut.capture : cut.event;
      for (const p of await listPartitions(db, kind)) {
        if (p.to > cutoff) continue; // some of it is still young enough
        if (d.aborted?.()) throw new PassAborted('retention pass stopped');
        const rows = await dropPartition(db, kind, p.name);
        report.partitionsDropped.push({ name: p.name, rows });
        report.deleted.records[kind] += rows;
      }
      // The default partition holds what fell outside every range (clocks far off): row by row.
      report.deleted.records[kind] += await deleteOlder(`records_${kind}_default`, 'ts', cutoff);
    }
  } else {
    for (const kind of RECORD_KINDS) {
      const cutoff = kind === 'capture' ? cut.capture : cut.event;
      report.deleted.records[kind] = await deleteOlder('records', 'ts', cutoff, ' AND kind = ?', [kind]);
    }
  }
  report.deleted.dead_letters = await deleteOlder('dead_letters', 'ts', cut.deadLetters);
  if (await tableExists(db, 'commands'))
    report.deleted.commands = await deleteOlder('commands', 'created_at', cut.commands);
  if (await tableExists(db, 'alarm_history'))
    report.deleted.alarm_history = await deleteOlder('alarm_history', 'ts', cut.alarmHistory);

  if (db.dialect === 'sqlite') {
    const pages = await incrementalVacuum(db, d, pause);
    report.vacuum = { pages, fileBytesBefore, fileBytesAfter: fileSize(d.file) };
  }
  report.ms = Math.round(performance.now() - t0);
  return report;
}

/** Drops one partition, counting its rows first; waits at most 5 s for the lock, so it never queues inserts. */
async function dropPartition(db: Db, kind: RecordKind, name: string): Promise<number> {
  const quoted = `"${name.replace(/"/g, '""')}"`;
  return db.transaction(async () => {
    // DROP needs an exclusive lock on records_<kind>; a long report query holding it would otherwise make
    // every insert wait behind the DROP. Failing here only postpones the drop to the next pass.
    await db.exec("SET LOCAL lock_timeout = '5s'");
    const row = await db.get<{ n: number }>(`SELECT count(*) AS n FROM ${quoted}`);
    await db.exec(`ALTER TABLE records_${kind} DETACH PARTITION ${quoted}; DROP TABLE ${quoted}`);
    return Number(row?.n ?? 0);
  });
}

/** Gives free pages back to the file system in steps; returns how many (0 unless auto_vacuum=INCREMENTAL). */
async function incrementalVacuum(
  db: Db,
  d: SweepDeps,
  pause: (ms: number) => Promise<void>,
): Promise<number> {
  if ((await autoVacuumMode(db)) !== 2) return 0;
  let freed = 0;
  for (;;) {
    if (d.aborted?.()) throw new PassAborted('retention pass stopped');
    const free = (await db.get<{ freelist_count: number }>('PRAGMA freelist_count'))?.freelist_count ?? 0;
    if (free === 0) break;
    const step = Math.min(free, VACUUM_PAGES);
    const b0 = performance.now();
    await db.exec(`PRAGMA incremental_vacuum(${step})`);
    freed += step;
    await pause(performance.now() - b0);
  }
  // The WAL holds the moved pages until a checkpoint; TRUNCATE gives its space back too. A reader still
  // inside an old snapshot makes this a partial checkpoint, which is harmless.
  await db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  return freed;
}
