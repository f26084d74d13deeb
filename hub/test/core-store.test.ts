// The SQLite Db wrapper: serialised transactions, migrations, and a second writer (the CLI) on the same file.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Accounts } from '../src/auth/accounts.js';
import { canPublish, canSubscribe } from '../src/auth/acl.js';
import { migrateCore } from '../src/store/schema.js';
import { SqliteDb } from '../src/store/sqlite.js';
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
