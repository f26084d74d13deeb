// The SQLite Db wrapper: serialised transactions, migrations, and a second writer (the CLI) on the same file.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Accounts } from '../src/auth/accounts.js';
import { canPublish, canSubscribe } from '../src/auth/acl.js';
import { SECURITY_MIGRATIONS } from '../src/auth/schema.js';
import { INSERT_JSON_SQL } from '../src/ingest/commit.js';
import { CORE_MIGRATIONS, migrateCore } from '../src/store/schema.js';
import { SqliteDb, sqliteAtLeast } from '../src/store/sqlite.js';
import { tempDir } from './core-helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function openDb(file?: string): Promise<SqliteDb> {
  const t = tempDir('hub-store-');
  const db = new SqliteDb(file ?? join(t.dir, 'hub.db'));
  await db.open();
  cleanups.push(() => t.remove());
  cleanups.push(() => db.close());
  return db;
}

describe('SqliteDb', () => {
  it('never lets a statement of someone else land inside a transaction that rolls back', async () => {
    const db = await openDb();
    await db.exec('CREATE TABLE t (v INTEGER)');
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const tx = db.transaction(async () => {
      await db.run('INSERT INTO t VALUES (1)');
      await gate;
      throw new Error('roll back');
    });
    const outside = db.run('INSERT INTO t VALUES (2)');
    release();
    await expect(tx).rejects.toThrow('roll back');
    await outside;
    expect(await db.all<{ v: number }>('SELECT v FROM t')).toEqual([{ v: 2 }]);
  });

  it('tracks transactions again after one ended (context tracking is switched off in between)', async () => {
    const db = await openDb();
    await db.exec('CREATE TABLE t (v INTEGER)');
    for (let i = 1; i <= 3; i++) {
      // The second statement runs after an await inside the transaction: it must still join it.
      await db.transaction(async () => {
        await db.run('INSERT INTO t VALUES (?)', [i]);
        await new Promise((r) => setImmediate(r));
        await db.run('INSERT INTO t VALUES (?)', [i * 10]);
      });
    }
    await expect(
      db.transaction(async () => {
        await db.run('INSERT INTO t VALUES (99)');
        await new Promise((r) => setImmediate(r));
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    const rows = await db.all<{ v: number }>('SELECT v FROM t ORDER BY v');
    expect(rows.map((r) => r.v)).toEqual([1, 2, 3, 10, 20, 30]);
  });

  it('rebuilds a records table created WITHOUT ROWID into a rowid table, keeping every row', async () => {
    const db = await openDb();
    // A database from before core-006: the first five migrations and some records.
    for (const [name, sql] of CORE_MIGRATIONS.slice(0, 5))
      await db.migrate(name, typeof sql === 'string' ? sql : sql.sqlite);
    const schemaOf = async () =>
      (await db.get<{ sql: string }>("SELECT sql FROM sqlite_master WHERE name = 'records'"))?.sql ?? '';
    expect(await schemaOf()).toMatch(/WITHOUT ROWID/);
    const row = (agent: string, seq: number) => [
      agent,
      seq,
      'capture',
      'cam',
      1000 + seq,
      2000 + seq,
      'R1',
      null,
      0,
      5,
      { seq },
    ];
    await db.allWrite(INSERT_JSON_SQL, [JSON.stringify([row('a', 1), row('a', 2), row('b', 1)])]);
    const progress: string[] = [];
    await migrateCore(db, (e) => progress.push(`${e.name} ${e.done ? 'done' : 'start'}`));
    // Only the migrations with work left are reported (core-006 and those after it, then the secrets
    // tables that migrateCore also applies), before and after each.
    expect(progress).toEqual(
      [...CORE_MIGRATIONS.slice(5), ...SECURITY_MIGRATIONS].flatMap(([name]) => [
        `${name} start`,
        `${name} done`,
      ]),
    );
    expect(progress[0]).toBe('core-006-records-rowid start');
    expect(await schemaOf()).not.toMatch(/WITHOUT ROWID/);
    expect(
      await db.all('SELECT agent, seq, ts, end_ts, room, body FROM records ORDER BY agent, seq'),
    ).toEqual([
      { agent: 'a', seq: 1, ts: 1001, end_ts: 2001, room: 'R1', body: '{"seq":1}' },
      { agent: 'a', seq: 2, ts: 1002, end_ts: 2002, room: 'R1', body: '{"seq":2}' },
      { agent: 'b', seq: 1, ts: 1001, end_ts: 2001, room: 'R1', body: '{"seq":1}' },
    ]);
    const indexes = await db.all<{ name: string }>(
      "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    );
    expect(indexes.map((i) => i.name)).toEqual(['records_room_ts', 'records_ts']);
    // Dedupe by (agent, seq) still holds: only the new key comes back from the insert.
    const got = await db.allWrite(INSERT_JSON_SQL, [JSON.stringify([row('a', 2), row('a', 3)])]);
    expect(got).toEqual([{ agent: 'a', seq: 3 }]);
  });

  it('needs SQLite 3.45 or newer (JSONB), which the bundled library is', async () => {
    expect(sqliteAtLeast('3.52.0', 3, 45)).toBe(true);
    expect(sqliteAtLeast('3.45.0', 3, 45)).toBe(true);
    expect(sqliteAtLeast('3.44.2', 3, 45)).toBe(false);
    expect(sqliteAtLeast('4.0.0', 3, 45)).toBe(true);
    const db = await openDb();
    const v = await db.get<{ v: string }>('SELECT sqlite_version() AS v');
    expect(sqliteAtLeast(v!.v, 3, 45)).toBe(true);
  });

  it('runs a migration once', async () => {
    const db = await openDb();
    await db.migrate('m1', 'CREATE TABLE once (x INTEGER)');
    await db.migrate('m1', 'CREATE TABLE once (x INTEGER)');
    expect(
      await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM schema_migrations WHERE name = 'm1'"),
    ).toEqual({ n: 1 });
  });

  it('lets a second connection provision while the first is writing (busy_timeout)', async () => {
    const t = tempDir('hub-store-');
    cleanups.push(() => t.remove());
    const file = join(t.dir, 'hub.db');
    const a = new SqliteDb(file);
    await a.open();
    cleanups.push(() => a.close());
    await migrateCore(a);
    const b = new SqliteDb(file);
    await b.open();
    cleanups.push(() => b.close());
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const holding = a.transaction(async () => {
      await a.run("INSERT INTO retained (topic, payload, qos, updated_at) VALUES ('x', 'y', 1, 0)");
      await gate;
    });
    const adding = new Accounts(b).addAgent({ agent: 'late-box', room: 'R1' });
    setTimeout(release, 200);
    await holding;
    const creds = await adding;
    expect(await new Accounts(a).authenticate('late-box', creds.password)).toEqual({
      username: 'late-box',
      role: 'agent',
      room: 'R1',
    });
    expect(await new Accounts(a).authenticate('late-box', 'nope')).toBeNull();
  });
});

describe('ACL rules', () => {
  const agent = { username: 'box-1', role: 'agent' as const };
  const platform = { username: 'p1', role: 'platform' as const };
  it('agent publishes only to its own agent→hub leaves', () => {
    for (const leaf of ['state', 'birth', 'telemetry', 'records', 'cmd/result']) {
      expect(canPublish(agent, `classroom/v1/box-1/${leaf}`).ok).toBe(true);
    }
    for (const t of [
      'classroom/v1/box-2/records',
      'classroom/v1/box-1/ack',
      'classroom/v1/box-1/config',
      'classroom/v1/hub/state',
      'classroom/v1/rooms/R1/summary',
      'classroom/v1/box-1/records/x',
    ]) {
      expect(canPublish(agent, t).ok).toBe(false);
    }
    expect(canPublish(platform, 'classroom/v1/rooms/R1/summary').ok).toBe(false);
  });
  it('subscriptions: agent to its hub→agent leaves and hub/state; platform to rooms/ only', () => {
    for (const t of [
      'classroom/v1/box-1/ack',
      'classroom/v1/box-1/cmd',
      'classroom/v1/box-1/config',
      'classroom/v1/hub/state',
    ]) {
      expect(canSubscribe(agent, t).ok).toBe(true);
    }
    for (const t of [
      'classroom/v1/box-1/#',
      'classroom/v1/+/cmd',
      'classroom/v1/box-1/records',
      'classroom/v1/rooms/#',
      '#',
    ]) {
      expect(canSubscribe(agent, t).ok).toBe(false);
    }
    expect(canSubscribe(platform, 'classroom/v1/rooms/#').ok).toBe(true);
    expect(canSubscribe(platform, 'classroom/v1/rooms/+/summary').ok).toBe(true);
    for (const t of [
      'classroom/v1/#',
      'classroom/v1/+/summary',
      'classroom/v1/box-1/records',
      'classroom/v1/hub/state',
    ]) {
      expect(canSubscribe(platform, t).ok).toBe(false);
    }
  });
});

describe('FrameScanner', () => {
  it('follows packet boundaries across chunks and flags an oversized announcement', async () => {
    const { FrameScanner } = await import('../src/broker/frame-guard.js');
    const s = new FrameScanner(1000);
    // Two packets (lengths 3 and 200, the second with a 2-byte length) split at awkward places.
    const bytes = Buffer.concat([
      Buffer.from([0x30, 3, 1, 2, 3, 0x30, 0xc8]),
      Buffer.from([0x01]),
      Buffer.alloc(200),
      Buffer.from([0xc0, 0]),
    ]);
    for (let i = 0; i < bytes.length; i += 5) expect(s.feed(bytes.subarray(i, i + 5))).toBeNull();
    expect(s.feed(Buffer.from([0x30, 0xe9, 0x07]))).toMatch(/1001 bytes exceeds 1000/);
    expect(new FrameScanner(1000).feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff]))).toMatch(/malformed/);
  });
});
