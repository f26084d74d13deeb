// The core's tables. Feature modules register their own migrations through Db.migrate.
import type { Db } from '../context.js';

export const CORE_MIGRATIONS: ReadonlyArray<[string, string]> = [
  [
    'core-001-accounts',
    `CREATE TABLE accounts (
       username    TEXT PRIMARY KEY,
       role        TEXT NOT NULL CHECK (role IN ('agent', 'platform')),
       room        TEXT,
       name        TEXT,
       secret_hash TEXT NOT NULL,
       created_at  INTEGER NOT NULL,
       updated_at  INTEGER NOT NULL
     );`,
  ],
  [
    // Last known registry state, so that after a restart agents are listed as `unknown` with their room.
    'core-002-agents',
    `CREATE TABLE agents (
       agent        TEXT PRIMARY KEY,
       room         TEXT,
       birth        TEXT,
       session      INTEGER,
       availability TEXT NOT NULL,
       since        INTEGER NOT NULL,
       last_seen    INTEGER
     );`,
  ],
  [
    // (agent, seq) is the dedupe key of DESIGN.md: INSERT OR IGNORE drops a resend.
    'core-003-records',
    `CREATE TABLE records (
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
  ],
  [
    'core-004-dead-letters',
    `CREATE TABLE dead_letters (
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
  ],
  [
    // Retained messages the hub publishes (hub/state, configs, room summaries) survive a restart here.
    'core-005-retained',
    `CREATE TABLE retained (
       topic      TEXT PRIMARY KEY,
       payload    BLOB NOT NULL,
       qos        INTEGER NOT NULL,
       updated_at INTEGER NOT NULL
     );`,
  ],
];

export async function migrateCore(db: Db): Promise<void> {
  for (const [name, sql] of CORE_MIGRATIONS) await db.migrate(name, sql);
}
