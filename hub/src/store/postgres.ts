// PostgreSQL implementation of the hub's Db contract (context.ts), selected by `--database postgres://…`
// (DESIGN.md: several hubs may share one database; each record is still stored once).
// It keeps the SQLite store's semantics: writes are applied one after another in the order they were
// issued (so two upserts of the same row never swap), a transaction runs on its own client and nobody
// else's statement lands inside it, and reads outside a transaction see committed data only.
import { AsyncLocalStorage } from 'node:async_hooks';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Db } from '../context.js';

/** Postgres type OIDs whose text form we parse to JS numbers. */
const INT8_OID = 20;
const NUMERIC_OID = 1700;

/**
 * Timestamps (ms) and seqs are BIGINT; node-postgres returns those as strings by default because
 * they may exceed 2^53. Ours never do (DESIGN.md: seq is a JS safe integer, times are epoch ms), and
 * every module expects numbers, as SQLite gives them. SUM()/AVG() of BIGINT are NUMERIC: same.
 */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

/**
 * Rewrites SQLite-style `?` placeholders to `$1, $2, …`. Question marks inside string literals,
 * quoted identifiers and comments are left alone; `??` is not special (we use no jsonb `?` operators).
 */
export function toPgPlaceholders(sql: string): string {
  let out = '';
  let n = 0;
  let i = 0;
  while (i < sql.length) {
    const c = sql[i] as string;
    if (c === "'" || c === '"') {
      // A quoted run ends at the next unescaped quote; a doubled quote is an escaped one.
      let j = i + 1;
      while (j < sql.length) {
        if (sql[j] === c) {
          if (sql[j + 1] === c) j += 2;
          else break;
        } else j++;
      }
      out += sql.slice(i, j + 1);
      i = j + 1;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      const j = end === -1 ? sql.length : end;
      out += sql.slice(i, j);
      i = j;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      const j = end === -1 ? sql.length : end + 2;
      out += sql.slice(i, j);
      i = j;
    } else if (c === '?') {
      n++;
      out += `$${n}`;
      i++;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Translated SQL by source text: the hub issues a few hundred distinct statements at most. */
const translated = new Map<string, string>();
function translate(sql: string): string {
  let t = translated.get(sql);
  if (t === undefined) {
    t = toPgPlaceholders(sql);
    if (translated.size < 10_000) translated.set(sql, t);
  }
  return t;
}

function wrapErr(err: unknown, sql: string): Error {
  const e = err as Error & { code?: unknown };
  const wrapped = new Error(`${e.message} (while running: ${sql.replace(/\s+/g, ' ').slice(0, 160)})`, {
    cause: err,
  });
  (wrapped as Error & { code?: unknown }).code = e.code;
  return wrapped;
}

/** Key of the advisory lock that serialises migrations across every hub sharing the database. */
const MIGRATION_LOCK = 0x636c7373; // "clss"

/** Hides the password of a connection URL in logs and errors. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

export interface PgDbOptions {
  /** Pool size: readers (HTTP, auth) run concurrently; writes use one client at a time. */
  max?: number;
  /** Application name shown in pg_stat_activity. */
  applicationName?: string;
  /** Where connection errors of idle clients are reported. */
  log?: Logger;
}

/** A write waits this long for a connection before failing (and the batch is not acked). */
const CONNECT_TIMEOUT_MS = 10_000;

export class PgDb implements Db {
  readonly dialect = 'postgres' as const;
  private pool: pg.Pool | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  /**
   * The transaction the current async context runs in. `open` turns false at COMMIT/ROLLBACK, so a
   * promise started inside a transaction but running after it (fire-and-forget) goes through the
   * queue and the pool, never through a client that has gone back to the pool.
   */
  private readonly tx = new AsyncLocalStorage<{ client: pg.PoolClient; open: boolean }>();

  private current(): pg.PoolClient | undefined {
    const t = this.tx.getStore();
    return t?.open ? t.client : undefined;
  }

  constructor(
    readonly url: string,
    private readonly opts: PgDbOptions = {},
  ) {}

  /** Connects and checks the server answers, so a wrong URL fails at start with a clear message. */
  async open(): Promise<void> {
    const pool = new pg.Pool({
      connectionString: this.url,
      max: this.opts.max ?? 8,
      application_name: this.opts.applicationName ?? 'classroom-hub',
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      keepAlive: true,
      types,
    });
    // An idle client that loses its connection emits 'error' on the pool; without a listener that
    // would crash the process. The pool drops that client and the next query gets a fresh one.
    pool.on('error', (err) =>
      this.opts.log?.warn(
        { err: err.message, database: redactUrl(this.url) },
        'idle PostgreSQL connection lost',
      ),
    );
    try {
      await pool.query('SELECT 1');
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new Error(`cannot connect to PostgreSQL at ${redactUrl(this.url)}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.pool = pool;
  }

  private p(): pg.Pool {
    if (!this.pool) throw new Error(`database ${redactUrl(this.url)} is closed`);
    return this.pool;
  }

  private async query(sql: string, params?: unknown[]): Promise<pg.QueryResult> {
    const text = params && params.length > 0 ? translate(sql) : sql;
    const on = this.current() ?? this.p();
    try {
      return await on.query(text, params && params.length > 0 ? params : undefined);
    } catch (err) {
      throw wrapErr(err, sql);
    }
  }

  /** Runs fn after every write queued before it; the queue continues even if fn fails. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private write<T>(fn: () => Promise<T>): Promise<T> {
    return this.current() ? fn() : this.serial(fn);
  }

  run(sql: string, params?: unknown[]): Promise<{ changes: number; lastID: number }> {
    // lastID has no portable meaning in PostgreSQL (use RETURNING); nothing in the hub reads it.
    return this.write(async () => ({ changes: (await this.query(sql, params)).rowCount ?? 0, lastID: 0 }));
  }

  async get<T>(sql: string, params?: unknown[]): Promise<T | undefined> {
    return (await this.query(sql, params)).rows[0] as T | undefined;
  }

  async all<T>(sql: string, params?: unknown[]): Promise<T[]> {
    return (await this.query(sql, params)).rows as T[];
  }

  /** One statement queued like a write, returning its rows (INSERT … RETURNING on the ingest path). */
  allWrite<T>(sql: string, params?: unknown[]): Promise<T[]> {
    return this.write(async () => (await this.query(sql, params)).rows as T[]);
  }

  exec(sql: string): Promise<void> {
    // Without parameters node-postgres uses the simple protocol, which accepts several statements.
    return this.write(async () => {
      await this.query(sql);
    });
  }

  transaction<T>(fn: () => Promise<T>): Promise<T> {
    if (this.current()) return fn(); // nested: join the outer transaction
    return this.serial(async () => {
      const client = await this.p().connect();
      const state = { client, open: true };
      let broken = false;
      try {
        await client.query('BEGIN');
        try {
          const result = await this.tx.run(state, fn);
          state.open = false;
          await client.query('COMMIT');
          return result;
        } catch (err) {
          state.open = false;
          await client.query('ROLLBACK').catch(() => {
            broken = true; // the connection is gone: do not hand it back to the pool
          });
          throw err;
        }
      } finally {
        client.release(broken);
        // Transactions run one at a time: none is open now, so context tracking can stop (see SqliteDb).
        this.tx.disable();
      }
    });
  }

  async migrate(name: string, sql: string): Promise<void> {
    // Several hubs may start at once against one database: the advisory lock (held until COMMIT)
    // makes each migration, and the creation of the bookkeeping table, run once.
    await this.transaction(async () => {
      await this.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await this.query(
        'CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)',
      );
      const done = await this.get<{ name: string }>('SELECT name FROM schema_migrations WHERE name = ?', [
        name,
      ]);
      if (done) return;
      await this.query(sql);
      await this.query('INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)', [
        name,
        Date.now(),
      ]);
    });
  }

  /** Waits for queued writes, then closes the pool. */
  async close(): Promise<void> {
    await this.queue;
    const pool = this.pool;
    this.pool = null;
    if (pool) await pool.end();
  }
}
