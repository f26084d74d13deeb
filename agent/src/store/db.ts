import sqlite3 from 'sqlite3';

export type SqlParam = string | number | null | Buffer;

/**
 * A promise wrapper over one sqlite3 connection. Transactions are serialised by a queue so
 * that interleaved async callers never nest BEGINs on the shared connection.
 */
export class Db {
  private tail: Promise<unknown> = Promise.resolve();
  /** The connection's synchronous mode, restored after a relaxed transaction. */
  synchronous: 'FULL' | 'NORMAL' = 'FULL';

  private constructor(private readonly db: sqlite3.Database) {}

  static open(file: string): Promise<Db> {
    return new Promise((resolve, reject) => {
      const db = new sqlite3.Database(file, (err) => {
        if (err) reject(new Error(`cannot open sqlite database ${file}: ${err.message}`));
        else resolve(new Db(db));
      });
    });
  }

  exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.db.exec(sql, (err) => (err ? reject(err) : resolve()));
    });
  }

  run(sql: string, params: SqlParam[] = []): Promise<{ changes: number; lastID: number }> {
    return new Promise((resolve, reject) => {
      this.db.run(sql, params, function (this: sqlite3.RunResult, err: Error | null) {
        if (err) reject(err);
        else resolve({ changes: this.changes, lastID: this.lastID });
      });
    });
  }

  all<T>(sql: string, params: SqlParam[] = []): Promise<T[]> {
    return new Promise((resolve, reject) => {
      this.db.all(sql, params, (err, rows) => (err ? reject(err) : resolve(rows as T[])));
    });
  }

  async get<T>(sql: string, params: SqlParam[] = []): Promise<T | undefined> {
    const rows = await this.all<T>(sql, params);
    return rows[0];
  }

  /**
   * Runs `fn` inside BEGIN IMMEDIATE … COMMIT, after every earlier transaction has finished.
   * `relaxed` commits without an fsync (synchronous=NORMAL) for work that is safe to lose.
   */
  transaction<T>(fn: () => Promise<T>, opts: { relaxed?: boolean } = {}): Promise<T> {
    const relax = opts.relaxed === true && this.synchronous === 'FULL';
    const next = this.tail.then(async () => {
      if (relax) await this.exec('PRAGMA synchronous = NORMAL');
      try {
        await this.exec('BEGIN IMMEDIATE');
        try {
          const out = await fn();
          await this.exec('COMMIT');
          return out;
        } catch (err) {
          await this.exec('ROLLBACK').catch(() => undefined);
          throw err;
        }
      } finally {
        if (relax) await this.exec('PRAGMA synchronous = FULL');
      }
    });
    this.tail = next.catch(() => undefined);
    return next;
  }

  /** Prepared statement for hot loops inside a transaction. */
  prepare(sql: string): Statement {
    return new Statement(this.db.prepare(sql));
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.db.close((err) => (err ? reject(err) : resolve()));
    });
  }
}

export class Statement {
  constructor(private readonly stmt: sqlite3.Statement) {}

  run(params: SqlParam[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.stmt.run(params, (err: Error | null) => (err ? reject(err) : resolve()));
    });
  }

  finalize(): Promise<void> {
    return new Promise((resolve) => this.stmt.finalize(() => resolve()));
  }
}
