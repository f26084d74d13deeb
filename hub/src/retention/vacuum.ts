// SQLite gives deleted space back to the file system only with auto_vacuum=INCREMENTAL (the retention
// pass then runs `PRAGMA incremental_vacuum`). New databases are created that way (store/sqlite.ts);
// a database created before has auto_vacuum=NONE, and switching it needs one full VACUUM, which rewrites
// the file: it needs as much free space again, so it runs only when the disk has it (docs/hub.md "Retention").
import { statfsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { Db } from '../context.js';

export type VacuumMigration =
  | { status: 'already' }
  | { status: 'converted'; ms: number; bytesBefore: number; bytesAfter: number }
  | { status: 'postponed'; reason: string };

function size(file: string): number {
  let n = 0;
  for (const f of [file, `${file}-wal`]) {
    try {
      n += statSync(f).size;
    } catch {}
  }
  return n;
}

/**
 * auto_vacuum as the writer connection sees it (0 none, 1 full, 2 incremental). The reader connection
 * may still hold the header it read before a VACUUM, so it is not asked.
 */
export function autoVacuumMode(db: Db): Promise<number | undefined> {
  return db.transaction(
    async () => (await db.get<{ auto_vacuum: number }>('PRAGMA auto_vacuum'))?.auto_vacuum,
  );
}

export async function ensureIncrementalVacuum(db: Db, file: string, log: Logger): Promise<VacuumMigration> {
  if (db.dialect !== 'sqlite' || file === ':memory:') return { status: 'already' };
  const mode = await autoVacuumMode(db);
  if (mode === 2) return { status: 'already' };
  const bytesBefore = size(file);
  const fs = statfsSync(dirname(file));
  const free = fs.bavail * fs.bsize;
  // VACUUM writes a full copy (into the WAL) before it replaces the old pages; keep 64 MiB on top.
  const needed = bytesBefore + 64 * 1024 * 1024;
  if (free < needed) {
    const reason = `switching ${file} to auto_vacuum=INCREMENTAL needs ${needed} bytes free, the disk has ${free}; deleted rows are reused but the file does not shrink until then`;
    log.warn({ file, free, needed }, reason);
    return { status: 'postponed', reason };
  }
  log.info({ file, bytes: bytesBefore }, 'switching the database to incremental vacuum (one full VACUUM)');
  const t0 = Date.now();
  await db.exec('PRAGMA auto_vacuum = INCREMENTAL; VACUUM; PRAGMA wal_checkpoint(TRUNCATE);');
  const after = await autoVacuumMode(db);
  if (after !== 2) throw new Error(`VACUUM left ${file} at auto_vacuum=${after}, expected 2 (INCREMENTAL)`);
  const res = { status: 'converted' as const, ms: Date.now() - t0, bytesBefore, bytesAfter: size(file) };
  log.info({ file, ...res }, 'database switched to incremental vacuum');
  return res;
}
