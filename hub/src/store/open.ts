// Chooses the store from the configuration: the SQLite file in the data dir, or PostgreSQL when
// `--database postgres://…` is given (DESIGN.md). Used by the server and by the CLI commands that write
// to the store directly (`agents add`, `accounts add`, `schedule import`).

import type { Logger } from 'pino';
import { ConfigError, databaseFile } from '../config.js';
import type { Db } from '../context.js';
import { ensurePrivateDir, ensurePrivateFile } from './permissions.js';
import { PgDb, redactUrl } from './postgres.js';
import { SqliteDb } from './sqlite.js';

/** The Db contract plus what the hub's own plumbing needs (ingest hot path, shutdown). */
export interface Store extends Db {
  /** One write statement returning rows (INSERT … RETURNING), queued like any other write. */
  allWrite<T>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

export async function openStore(o: {
  dataDir: string;
  database?: string | null | undefined;
  /** Logger of the store (PostgreSQL connection problems). */
  log?: Logger | undefined;
}): Promise<Store> {
  if (o.database && !isPostgresUrl(o.database)) {
    throw new ConfigError(
      `--database: expected a postgres:// or postgresql:// URL, got ${redactUrl(o.database)}`,
    );
  }
  if (!o.database) {
    const file = databaseFile(o.dataDir);
    ensurePrivateDir(o.dataDir);
    ensurePrivateFile(file);
    const db = new SqliteDb(file);
    await db.open();
    return db;
  }
  const db = new PgDb(o.database, o.log ? { log: o.log } : {});
  try {
    await db.open();
  } catch (err) {
    // Unreachable server, wrong password, missing database: a configuration problem, exit 2.
    throw new ConfigError((err as Error).message);
  }
  return db;
}
