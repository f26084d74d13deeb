import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Db } from './db.js';

export type Durability = 'full' | 'normal';

/**
 * Opens (and migrates) the agent's one SQLite file in dataDir: outbox, counters, seen command ids.
 * WAL keeps readers off the writer's path. synchronous=FULL by default because a seq that was
 * published must never be handed out again after a power cut (DESIGN.md "Records": a seq is never reused).
 */
export async function openAgentDb(dataDir: string, durability: Durability = 'full'): Promise<Db> {
  mkdirSync(dataDir, { recursive: true });
  const db = await Db.open(join(dataDir, 'agent.db'));
  await db.exec(`
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'};
    PRAGMA busy_timeout = 5000;
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS outbox (
      seq INTEGER PRIMARY KEY,
      kind TEXT NOT NULL,
      bytes INTEGER NOT NULL,
      json TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS outbox_kind_seq ON outbox (kind, seq);
    CREATE TABLE IF NOT EXISTS cmd_seen (id TEXT PRIMARY KEY, ts INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS cmd_seen_ts ON cmd_seen (ts);
  `);
  db.synchronous = durability === 'full' ? 'FULL' : 'NORMAL';
  return db;
}

export async function readMeta(db: Db, key: string): Promise<number> {
  const row = await db.get<{ value: number }>('SELECT value FROM meta WHERE key = ?', [key]);
  return row?.value ?? 0;
}

export async function writeMeta(db: Db, key: string, value: number): Promise<void> {
  await db.run(
    'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    [key, value],
  );
}

/** Adds 1 to the persisted session counter and returns the new value (one per connect attempt). */
export function nextSession(db: Db): Promise<number> {
  return db.transaction(async () => {
    const next = (await readMeta(db, 'session')) + 1;
    await writeMeta(db, 'session', next);
    return next;
  });
}

/**
 * Remembers a command id. Returns false if it was seen before. Keeps the newest `keep` ids, which
 * outlives any sane command expiry (DESIGN.md "Commands": a seen id is refused, also across restarts).
 */
export function rememberCommand(db: Db, id: string, now: number, keep = 1000): Promise<boolean> {
  return db.transaction(async () => {
    const r = await db.run('INSERT OR IGNORE INTO cmd_seen (id, ts) VALUES (?, ?)', [id, now]);
    if (r.changes === 0) return false;
    await db.run(
      'DELETE FROM cmd_seen WHERE id NOT IN (SELECT id FROM cmd_seen ORDER BY ts DESC, rowid DESC LIMIT ?)',
      [keep],
    );
    return true;
  });
}
