// SQLite implementation of the hub's Db contract (context.ts).
// One writer connection, serialised through a promise queue, and one reader connection: in WAL mode
// readers never block the writer, so HTTP queries do not stall ingest commits (docs/hub.md "Ingest").
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import sqlite3 from 'sqlite3';
import type { Db } from '../context.js';

/** How long a statement waits for another process (e.g. `classroom-hub agents add`) to release the write lock. */
export const BUSY_TIMEOUT_MS = 10_000;

function open(file: string, mode: number): Promise<sqlite3.Database> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, mode, (err) => (err ? reject(err) : resolve(db)));
  });
}

/** Whether a SQLite version string (e.g. "3.52.0") is at least major.minor. */
export function sqliteAtLeast(version: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

function wrapErr(err: Error, sql: string): Error {
  const e = new Error(`${err.message} (while running: ${sql.replace(/\s+/g, ' ').slice(0, 160)})`, {
    cause: err,
  });
  (e as Error & { code?: unknown }).code = (err as Error & { code?: unknown }).code;
  return e;
}

export function runOn(conn: sqlite3.Database, sql: string, params: unknown[] = []) {
  return new Promise<{ changes: number; lastID: number }>((resolve, reject) => {
    conn.run(sql, params, function (this: sqlite3.RunResult, err: Error | null) {
      if (err) reject(wrapErr(err, sql));
      else resolve({ changes: this.changes, lastID: this.lastID });
    });
  });
}

export function allOn<T>(conn: sqlite3.Database, sql: string, params: unknown[] = []): Promise<T[]> {
  return new Promise((resolve, reject) => {
    conn.all(sql, params, (err, rows) => (err ? reject(wrapErr(err, sql)) : resolve(rows as T[])));
  });
}

function getOn<T>(conn: sqlite3.Database, sql: string, params: unknown[] = []): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    conn.get(sql, params, (err, row) => (err ? reject(wrapErr(err, sql)) : resolve(row as T | undefined)));
  });
}

function execOn(conn: sqlite3.Database, sql: string): Promise<void> {
  return new Promise((resolve, reject) => {
    conn.exec(sql, (err) => (err ? reject(wrapErr(err, sql)) : resolve()));
  });
}

function closeConn(conn: sqlite3.Database): Promise<void> {
  return new Promise((resolve, reject) => conn.close((err) => (err ? reject(err) : resolve())));
}

/**
 * Db over a SQLite file. Writes (run/exec/transaction/migrate) go through one queue on the writer
 * connection; a statement issued inside `transaction(fn)` runs directly on that transaction (tracked
 * with AsyncLocalStorage) so that nobody else's statement can land inside it. get/all outside a
 * transaction use the reader connection and see committed data only.
 */
export class SqliteDb implements Db {
  readonly dialect = 'sqlite' as const;
  private writer: sqlite3.Database | null = null;
  private reader: sqlite3.Database | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  /**
   * Whether the current async context is inside a running transaction. `open` turns false at
   * COMMIT/ROLLBACK, so a promise started inside a transaction but running after it goes through the
   * queue instead of landing inside whichever transaction holds the writer then.
   */
  private readonly tx = new AsyncLocalStorage<{ open: boolean }>();

  private inTx(): boolean {
    return this.tx.getStore()?.open === true;
  }

  constructor(readonly file: string) {}

  async open(): Promise<void> {
    if (this.file !== ':memory:') mkdirSync(dirname(this.file), { recursive: true });
    const w = await open(this.file, sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE);
    w.configure('busyTimeout', BUSY_TIMEOUT_MS);
    // The ingest unpacks groups with jsonb_each (SQLite 3.45+). node-sqlite3 bundles a newer SQLite,
    // but a build against an older system library would only fail at the first record: say so now.
    const version = (await getOn<{ v: string }>(w, 'SELECT sqlite_version() AS v'))?.v ?? '0';
    if (!sqliteAtLeast(version, 3, 45)) {
      await closeConn(w);
      throw new Error(
        `SQLite ${version} is too old: the hub needs 3.45 or newer (JSONB); reinstall sqlite3 without --sqlite`,
      );
    }
    // WAL lets the reader connection and other processes read while the hub commits;
    // synchronous=NORMAL in WAL is durable across process crashes (kill -9), which is what an ack promises.
    // auto_vacuum must be chosen before the first table exists: INCREMENTAL lets a retention pass give
    // deleted space back to the file system (retention/vacuum.ts converts databases made before).
    await execOn(
      w,
      'PRAGMA auto_vacuum=INCREMENTAL; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;',
    );
    this.writer = w;
    if (this.file === ':memory:') {
      this.reader = w;
    } else {
      const r = await open(this.file, sqlite3.OPEN_READONLY);
      r.configure('busyTimeout', BUSY_TIMEOUT_MS);
      this.reader = r;
    }
  }

  /** The raw writer connection, for the ingest's hot path (used only inside `transaction`). */
  get writerConnection(): sqlite3.Database {
    if (!this.writer) throw new Error('database is not open');
    return this.writer;
  }

  private w(): sqlite3.Database {
    if (!this.writer) throw new Error(`database ${this.file} is closed`);
    return this.writer;
  }

  private r(): sqlite3.Database {
    if (!this.reader) throw new Error(`database ${this.file} is closed`);
    return this.reader;
  }

  /** Runs fn after every write queued before it; the queue continues even if fn fails. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  run(sql: string, params?: unknown[]) {
    if (this.inTx()) return runOn(this.w(), sql, params);
    return this.serial(() => runOn(this.w(), sql, params));
  }

  get<T>(sql: string, params?: unknown[]): Promise<T | undefined> {
    return getOn<T>(this.inTx() ? this.w() : this.r(), sql, params);
  }

  all<T>(sql: string, params?: unknown[]): Promise<T[]> {
    return allOn<T>(this.inTx() ? this.w() : this.r(), sql, params);
  }

  /**
   * One statement on the writer connection, queued like a write, returning its rows (for
   * INSERT … RETURNING). A single statement is atomic on its own, so this saves the BEGIN/COMMIT
   * round trips of `transaction` on the ingest hot path.
   */
  allWrite<T>(sql: string, params?: unknown[]): Promise<T[]> {
    if (this.inTx()) return allOn<T>(this.w(), sql, params);
    return this.serial(() => allOn<T>(this.w(), sql, params));
  }

  exec(sql: string): Promise<void> {
    if (this.inTx()) return execOn(this.w(), sql);
    return this.serial(() => execOn(this.w(), sql));
  }

  transaction<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inTx()) return fn(); // nested: join the outer transaction
    return this.serial(async () => {
      const conn = this.w();
      // IMMEDIATE takes the write lock up front, so a concurrent CLI writer makes us wait
      // (busy_timeout) instead of failing mid-transaction with SQLITE_BUSY.
      await execOn(conn, 'BEGIN IMMEDIATE');
      try {
        const state = { open: true };
        try {
          const result = await this.tx.run(state, fn);
          state.open = false;
          await execOn(conn, 'COMMIT');
          return result;
        } finally {
          state.open = false;
          // No transaction is open now (they run one at a time): switch the context tracking off.
          // While any AsyncLocalStorage is enabled, Node runs async hooks for every promise in the
          // process, which cost the ingest hot path about 3 % of the main thread (docs/hub-perf.md "Live ingest: what limited it, and what changed").
          this.tx.disable();
        }
      } catch (err) {
        await execOn(conn, 'ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  async migrate(name: string, sql: string): Promise<void> {
    await this.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)',
    );
    await this.transaction(async () => {
      const done = await this.get<{ name: string }>('SELECT name FROM schema_migrations WHERE name = ?', [
        name,
      ]);
      if (done) return;
      await this.exec(sql);
      await this.run('INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)', [name, Date.now()]);
    });
  }

  /** Waits for queued writes, then closes both connections. */
  async close(): Promise<void> {
    await this.queue;
    const { writer, reader } = this;
    this.writer = null;
    this.reader = null;
    if (reader && reader !== writer) await closeConn(reader);
    if (writer) await closeConn(writer);
  }
}
