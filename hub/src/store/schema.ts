// The core's tables. Feature modules register their own migrations through Db.migrate.
// Most DDL is shared; where SQLite and PostgreSQL differ (BLOB/BYTEA, WITHOUT ROWID, AUTOINCREMENT vs
// identity, 64-bit integers) a migration gives one text per dialect.
import { SECURITY_MIGRATIONS } from '../auth/schema.js';
import type { Db } from '../context.js';
import { RECORDS_PARTITION_MIGRATION_PG } from '../retention/partitions.js';

type Migration = [name: string, sql: string | { sqlite: string; postgres: string }];

// BIGINT for epoch-ms columns: INTEGER affinity in SQLite (same storage), 64 bits in PostgreSQL.
export const CORE_MIGRATIONS: ReadonlyArray<Migration> = [
  [
    'core-001-accounts',
    `CREATE TABLE accounts (
       username    TEXT PRIMARY KEY,
       role        TEXT NOT NULL CHECK (role IN ('agent', 'platform')),
       room        TEXT,
       name        TEXT,
       secret_hash TEXT NOT NULL,
       created_at  BIGINT NOT NULL,
       updated_at  BIGINT NOT NULL
     );`,
  ],
  [
    // Last known registry state, so that after a restart agents are listed as `unknown` with their room.
    'core-002-agents',
    `CREATE TABLE agents (
       agent        TEXT PRIMARY KEY,
       room         TEXT,
       birth        TEXT,
       session      BIGINT,
       availability TEXT NOT NULL,
       since        BIGINT NOT NULL,
       last_seen    BIGINT
     );`,
  ],
  [
    // (agent, seq) is the dedupe key of DESIGN.md: INSERT … ON CONFLICT DO NOTHING drops a resend.
    'core-003-records',
    {
      sqlite: `CREATE TABLE records (
       agent       TEXT NOT NULL,
       seq         INTEGER NOT NULL,
       kind        TEXT NOT NULL,
       source      TEXT,
       ts          INTEGER NOT NULL,
       end_ts      INTEGER,
       room        TEXT,
       type        TEXT,
       historical  INTEGER NOT NULL DEFAULT 0,
       received_at INTEGER NOT NULL,
       body        TEXT NOT NULL,
       PRIMARY KEY (agent, seq)
     ) WITHOUT ROWID;
     CREATE INDEX records_ts ON records (ts, agent, seq);
     CREATE INDEX records_room_ts ON records (room, ts);`,
      postgres: `CREATE TABLE records (
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
       PRIMARY KEY (agent, seq)
     );
     CREATE INDEX records_ts ON records (ts, agent, seq);
     CREATE INDEX records_room_ts ON records (room, ts);`,
    },
  ],
  [
    'core-004-dead-letters',
    {
      sqlite: `CREATE TABLE dead_letters (
       id       INTEGER PRIMARY KEY AUTOINCREMENT,
       ts       INTEGER NOT NULL,
       reason   TEXT NOT NULL,
       detail   TEXT NOT NULL,
       topic    TEXT NOT NULL,
       agent    TEXT,
       size     INTEGER NOT NULL,
       payload  TEXT NOT NULL,
       encoding TEXT NOT NULL
     );
     CREATE INDEX dead_letters_ts ON dead_letters (ts);`,
      postgres: `CREATE TABLE dead_letters (
       id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
       ts       BIGINT NOT NULL,
       reason   TEXT NOT NULL,
       detail   TEXT NOT NULL,
       topic    TEXT NOT NULL,
       agent    TEXT,
       size     INTEGER NOT NULL,
       payload  TEXT NOT NULL,
       encoding TEXT NOT NULL
     );
     CREATE INDEX dead_letters_ts ON dead_letters (ts);`,
    },
  ],
  [
    // Retained messages the hub publishes (hub/state, configs, room summaries) survive a restart here.
    'core-005-retained',
    {
      sqlite: `CREATE TABLE retained (
       topic      TEXT PRIMARY KEY,
       payload    BLOB NOT NULL,
       qos        INTEGER NOT NULL,
       updated_at INTEGER NOT NULL
     );`,
      postgres: `CREATE TABLE retained (
       topic      TEXT PRIMARY KEY,
       payload    BYTEA NOT NULL,
       qos        INTEGER NOT NULL,
       updated_at BIGINT NOT NULL
     );`,
    },
  ],
  [
    // The records table as an ordinary rowid table. WITHOUT ROWID keeps each whole row (≈ 400 bytes of
    // body) inside the primary-key B-tree, which SQLite advises against for rows this wide: an insert
    // cost 2.3× as much (74 vs 32 µs a record, bench/ measurements in docs/hub-perf.md). Rebuilt once,
    // in the migration's transaction; PostgreSQL tables have no such option.
    'core-006-records-rowid',
    {
      sqlite: `CREATE TABLE records_rowid (
       agent       TEXT NOT NULL,
       seq         INTEGER NOT NULL,
       kind        TEXT NOT NULL,
       source      TEXT,
       ts          INTEGER NOT NULL,
       end_ts      INTEGER,
       room        TEXT,
       type        TEXT,
       historical  INTEGER NOT NULL DEFAULT 0,
       received_at INTEGER NOT NULL,
       body        TEXT NOT NULL,
       PRIMARY KEY (agent, seq)
     );
     INSERT INTO records_rowid
       SELECT agent, seq, kind, source, ts, end_ts, room, type, historical, received_at, body
       FROM records ORDER BY ts, agent, seq;
     DROP TABLE records;
     ALTER TABLE records_rowid RENAME TO records;
     CREATE INDEX records_ts ON records (ts, agent, seq);
     CREATE INDEX records_room_ts ON records (room, ts);`,
      postgres: 'SELECT 1;',
    },
  ],
  [
    // The serial of the one client certificate a box may log in with (docs/hub.md "Client
    // certificates"); issuing a new one replaces it, which revokes the old one without a CRL.
    'core-accounts-cert-serial',
    'ALTER TABLE accounts ADD COLUMN cert_serial TEXT;',
  ],
  [
    // Named staff accounts of the HTTP API (docs/hub-people.md, "Staff accounts"); passwords as scrypt.
    'core-007-staff-users',
    `CREATE TABLE staff_users (
       name        TEXT PRIMARY KEY,
       role        TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
       secret_hash TEXT NOT NULL,
       disabled_at BIGINT,
       created_at  BIGINT NOT NULL,
       updated_at  BIGINT NOT NULL
     );`,
  ],
  [
    // Server-side sessions: the SHA-256 of the cookie's id, so they can be ended from any hub.
    'core-008-staff-sessions',
    `CREATE TABLE staff_sessions (
       id_hash    TEXT PRIMARY KEY,
       name       TEXT NOT NULL,
       created_at BIGINT NOT NULL,
       expires_at BIGINT NOT NULL,
       ip         TEXT,
       user_agent TEXT
     );
     CREATE INDEX staff_sessions_name ON staff_sessions (name);`,
  ],
  [
    // Who did what, when and from where (docs/hub-people.md, "Audit log"); only ever inserted into.
    'core-009-audit-log',
    {
      sqlite: `CREATE TABLE audit_log (
       id     INTEGER PRIMARY KEY AUTOINCREMENT,
       ts     INTEGER NOT NULL,
       actor  TEXT NOT NULL,
       role   TEXT NOT NULL,
       action TEXT NOT NULL,
       target TEXT,
       detail TEXT NOT NULL,
       ip     TEXT
     );
     CREATE INDEX audit_log_ts ON audit_log (ts);
     CREATE INDEX audit_log_actor ON audit_log (actor, id);
     CREATE INDEX audit_log_action ON audit_log (action, id);`,
      postgres: `CREATE TABLE audit_log (
       id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
       ts     BIGINT NOT NULL,
       actor  TEXT NOT NULL,
       role   TEXT NOT NULL,
       action TEXT NOT NULL,
       target TEXT,
       detail TEXT NOT NULL,
       ip     TEXT
     );
     CREATE INDEX audit_log_ts ON audit_log (ts);
     CREATE INDEX audit_log_actor ON audit_log (actor, id);
     CREATE INDEX audit_log_action ON audit_log (action, id);`,
    },
  ],
  [
    // PostgreSQL: records in declarative partitions by kind and week, so retention drops whole partitions
    // (retention/partitions.ts, docs/hub-postgres.md). SQLite deletes in batches and vacuums instead.
    'core-010-records-partitioned',
    { sqlite: 'SELECT 1;', postgres: RECORDS_PARTITION_MIGRATION_PG },
  ],
];

/** Names of the migrations already applied (none on a new database). */
async function appliedMigrations(db: Db): Promise<Set<string>> {
  try {
    return new Set((await db.all<{ name: string }>('SELECT name FROM schema_migrations')).map((r) => r.name));
  } catch {
    return new Set(); // no bookkeeping table yet
  }
}

/**
 * Applies the core migrations. `onProgress` hears of each one that still has work to do, before and
 * after it runs: rebuilding a large table (core-006) can take a while at start-up.
 */
export async function migrateCore(
  db: Db,
  onProgress?: (e: { name: string; done: boolean; ms?: number }) => void,
): Promise<void> {
  const applied = onProgress ? await appliedMigrations(db) : new Set<string>();
  for (const [name, sql] of [...CORE_MIGRATIONS, ...SECURITY_MIGRATIONS]) {
    const pending = onProgress !== undefined && !applied.has(name);
    const t0 = Date.now();
    if (pending) onProgress({ name, done: false });
    await db.migrate(name, typeof sql === 'string' ? sql : sql[db.dialect]);
    if (pending) onProgress({ name, done: true, ms: Date.now() - t0 });
  }
}
