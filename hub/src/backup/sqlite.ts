// Online backup of the SQLite store (docs/hub.md "Backup and restore"). `VACUUM INTO` copies the database
// as one read transaction: in WAL mode that is a consistent snapshot of everything committed (and so
// acked) before it began, taken without holding up the hub's writer. The copy is written beside the
// target, synced, checked and only then renamed into place, so a crash never leaves a half backup
// under the target's name.
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import sqlite3 from 'sqlite3';
import { allOn, BUSY_TIMEOUT_MS, runOn } from '../store/sqlite.js';

export interface BackupResult {
  file: string;
  bytes: number;
  ms: number;
  /** Records in the backup (a quick check that it opens and holds what it should). */
  records: number;
  integrity: string;
}

export interface BackupProgress {
  bytes: number;
  /** The expected size: the source's used pages (free pages are not copied). */
  expectedBytes: number;
}

export class BackupError extends Error {}

function openDb(file: string, mode: number): Promise<sqlite3.Database> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, mode, (err) =>
      err ? reject(new BackupError(`cannot open ${file}: ${err.message}`)) : resolve(db),
    );
  });
}

const close = (db: sqlite3.Database) => new Promise<void>((r) => db.close(() => r()));

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export async function backupSqlite(o: {
  source: string;
  to: string;
  force?: boolean;
  /** Runs PRAGMA quick_check on the copy (default true). */
  verify?: boolean;
  onProgress?: (p: BackupProgress) => void;
  progressEveryMs?: number;
}): Promise<BackupResult> {
  if (!existsSync(o.source)) throw new BackupError(`no database at ${o.source}`);
  if (existsSync(o.to) && !o.force) throw new BackupError(`${o.to} exists; pass --force to replace it`);
  const partial = join(dirname(o.to), `.${basename(o.to)}.partial-${process.pid}`);
  rmSync(partial, { force: true });
  const t0 = Date.now();
  const src = await openDb(o.source, sqlite3.OPEN_READWRITE);
  src.configure('busyTimeout', BUSY_TIMEOUT_MS);
  let timer: NodeJS.Timeout | undefined;
  try {
    const [pages] = await allOn<{ n: number }>(
      src,
      'SELECT page_count - freelist_count AS n FROM pragma_page_count, pragma_freelist_count',
    );
    const [size] = await allOn<{ page_size: number }>(src, 'PRAGMA page_size');
    const expectedBytes = (pages?.n ?? 0) * (size?.page_size ?? 4096);
    if (o.onProgress) {
      const report = () => {
        let bytes = 0;
        try {
          bytes = statSync(partial).size;
        } catch {}
        o.onProgress?.({ bytes, expectedBytes });
      };
      timer = setInterval(report, o.progressEveryMs ?? 1000);
    }
    await runOn(src, 'VACUUM INTO ?', [partial]);
  } catch (err) {
    rmSync(partial, { force: true });
    throw err instanceof BackupError ? err : new BackupError(`backup failed: ${(err as Error).message}`);
  } finally {
    clearInterval(timer);
    await close(src);
  }
  let records = 0;
  let integrity = 'not checked';
  try {
    const copy = await openDb(partial, sqlite3.OPEN_READONLY);
    try {
      if (o.verify !== false) {
        const rows = await allOn<{ quick_check: string }>(copy, 'PRAGMA quick_check');
        integrity = rows.map((r) => r.quick_check).join('; ');
        if (integrity !== 'ok') throw new BackupError(`the backup failed its integrity check: ${integrity}`);
      }
      records = Number((await allOn<{ n: number }>(copy, 'SELECT count(*) AS n FROM records'))[0]?.n ?? 0);
    } finally {
      await close(copy);
    }
    fsyncPath(partial);
    renameSync(partial, o.to);
    fsyncPath(dirname(o.to)); // the rename itself survives a power cut only once the directory is synced
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  }
  const bytes = statSync(o.to).size;
  o.onProgress?.({ bytes, expectedBytes: bytes });
  return { file: o.to, bytes, ms: Date.now() - t0, records, integrity };
}
