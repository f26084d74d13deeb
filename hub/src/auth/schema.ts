// Tables of the hub's secrets that CLI commands change while the hub runs (docs/hub.md "Secrets"):
// the rotated admin token, the disabled flag of an account, and the journal of changes that the running
// hub polls to apply them (auth/watch.ts); and the index that keeps the dead-letter cap per agent cheap
// (ingest/deadletter-limits.ts).
type Migration = [name: string, sql: string | { sqlite: string; postgres: string }];

export const SECURITY_MIGRATIONS: ReadonlyArray<Migration> = [
  ['accounts-disabled', 'ALTER TABLE accounts ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;'],
  [
    // Only a SHA-256 of the token is kept: the token is 24 random bytes, so a fast hash loses nothing.
    'admin-token',
    `CREATE TABLE admin_token (
       id         INTEGER PRIMARY KEY CHECK (id = 1),
       token_hash TEXT NOT NULL,
       rotated_at BIGINT NOT NULL
     );`,
  ],
  [
    'account-changes',
    {
      sqlite: `CREATE TABLE account_changes (
       id       INTEGER PRIMARY KEY AUTOINCREMENT,
       ts       INTEGER NOT NULL,
       username TEXT,
       action   TEXT NOT NULL
     );`,
      postgres: `CREATE TABLE account_changes (
       id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
       ts       BIGINT NOT NULL,
       username TEXT,
       action   TEXT NOT NULL
     );`,
    },
  ],
  ['dead-letters-agent', 'CREATE INDEX dead_letters_agent ON dead_letters (agent, id);'],
];
