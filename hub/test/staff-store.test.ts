// Staff users, sessions and the audit log on both stores (SQLite file and a real PostgreSQL 15), plus
// the `classroom-hub users` CLI, whose provisioning is audited as `cli` (docs/hub-people.md).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../src/audit/log.js';
import type { Clock } from '../src/context.js';
import { systemClock } from '../src/context.js';
import { StaffSessions } from '../src/staff/sessions.js';
import { LoginThrottle } from '../src/staff/throttle.js';
import { StaffUsers } from '../src/staff/users.js';
import { openStore, type Store } from '../src/store/open.js';
import { migrateCore } from '../src/store/schema.js';
import { tempDir } from './core-helpers.js';
import { startPostgres, type TestPostgres } from './pg-helpers.js';

const run = promisify(execFile);
const BIN = new URL('../bin/classroom-hub.js', import.meta.url).pathname;

let pgServer: TestPostgres;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  pgServer = await startPostgres();
}, 60_000);

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await pgServer?.stop();
});

/** A clock the test moves by hand. */
function manualClock(start: number): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    ...systemClock,
    now: () => now,
    advance: (ms) => {
      now += ms;
    },
  };
}

let n = 0;
const stores: Record<string, () => Promise<Store>> = {
  sqlite: async () => {
    const t = tempDir('hub-staff-');
    const db = await openStore({ dataDir: t.dir });
    cleanups.push(async () => {
      await db.close();
      t.remove();
    });
    return db;
  },
  postgres: async () => {
    const db = await openStore({
      dataDir: '/nonexistent',
      database: await pgServer.createDatabase(`staff_${++n}`),
    });
    cleanups.push(() => db.close());
    return db;
  },
};

for (const [dialect, open] of Object.entries(stores)) {
  describe(`staff store on ${dialect}`, () => {
    it('verifies passwords, expires and revokes sessions, and queries the audit log', async () => {
      const db = await open();
      await migrateCore(db);
      const clock = manualClock(1_800_000_000_000);
      const users = new StaffUsers(db);
      const sessions = new StaffSessions(db, clock, 60_000);
      const audit = new AuditLog(db, clock);
      const { password } = await users.add({ name: 'duty.wang', role: 'operator' });
      expect(await users.verify('duty.wang', password)).toMatchObject({
        name: 'duty.wang',
        role: 'operator',
      });
      expect(await users.verify('duty.wang', `${password}x`)).toBeNull();
      expect(await users.verify('nobody', password)).toBeNull();

      const s = await sessions.open('duty.wang', { ip: '127.0.0.2', userAgent: 'test' });
      expect(await sessions.resolve(s.id)).toMatchObject({
        name: 'duty.wang',
        role: 'operator',
        via: 'session',
      });
      clock.advance(60_001);
      expect(await sessions.resolve(s.id)).toBeNull(); // expired
      const s2 = await sessions.open('duty.wang', { ip: '127.0.0.2', userAgent: 'test' });
      await users.disable('duty.wang');
      expect(await sessions.resolve(s2.id)).toBeNull(); // revoked with the account
      expect(await users.verify('duty.wang', password)).toBeNull();

      for (const [i, action] of ['alarm.ack', 'command.send', 'alarm.ack', 'patrol.view'].entries()) {
        clock.advance(1000);
        await audit.record({
          actor: i % 2 ? 'b' : 'a',
          role: 'operator',
          action,
          target: `t${i}`,
          ip: '127.0.0.3',
        });
      }
      const t = clock.now();
      expect((await audit.query({ limit: 10, action: 'alarm.' })).map((e) => e.target)).toEqual(['t2', 't0']);
      expect((await audit.query({ limit: 10, actor: 'b' })).map((e) => e.target)).toEqual(['t3', 't1']);
      expect((await audit.query({ limit: 10, from: t - 1000, to: t + 1 })).map((e) => e.target)).toEqual([
        't3',
        't2',
      ]);
      const [newest] = await audit.query({ limit: 1 });
      expect((await audit.query({ limit: 10, beforeId: newest?.id })).length).toBe(3);
    });
  });
}

describe('login throttle', () => {
  it('holds a name from an address after 5 failures, an address after 20, and lets go after the window', () => {
    const clock = manualClock(0);
    const th = new LoginThrottle(clock);
    for (let i = 0; i < 5; i++) th.fail('127.0.0.1', 'a');
    expect(th.retryAfterMs('127.0.0.1', 'a')).toBe(15 * 60_000);
    expect(th.retryAfterMs('127.0.0.2', 'a')).toBe(0);
    expect(th.retryAfterMs('127.0.0.1', 'b')).toBe(0);
    for (let i = 0; i < 15; i++) th.fail('127.0.0.1', `n${i % 3}`);
    expect(th.retryAfterMs('127.0.0.1', 'fresh')).toBeGreaterThan(0);
    clock.advance(15 * 60_000 + 1);
    expect(th.retryAfterMs('127.0.0.1', 'a')).toBe(0);
  });
});

describe('classroom-hub users (CLI)', () => {
  it('prints {"name","role","password"}, refuses a bad role, and audits provisioning as cli', async () => {
    const t = tempDir('hub-staff-cli-');
    cleanups.push(() => t.remove());
    const out = await run(process.execPath, [
      BIN,
      'users',
      'add',
      '--name',
      'av.tech',
      '--role',
      'operator',
      '--data-dir',
      t.dir,
    ]);
    const c = JSON.parse(out.stdout) as Record<string, string>;
    expect(Object.keys(c)).toEqual(['name', 'role', 'password']);
    expect(c).toMatchObject({ name: 'av.tech', role: 'operator' });
    const bad = await run(process.execPath, [
      BIN,
      'users',
      'add',
      '--name',
      'x',
      '--role',
      'root',
      '--data-dir',
      t.dir,
    ]).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).not.toBe(0);
    expect((bad as { stderr: string }).stderr).toMatch(/viewer, operator, admin/);
    const dup = await run(process.execPath, [
      BIN,
      'users',
      'add',
      '--name',
      'av.tech',
      '--role',
      'viewer',
      '--data-dir',
      t.dir,
    ]).catch((e: { code: number; stderr: string }) => e);
    expect((dup as { code: number }).code).toBe(2);
    expect((dup as { stderr: string }).stderr).toMatch(/already exists/);
    await run(process.execPath, [
      BIN,
      'agents',
      'add',
      '--agent',
      'box-9',
      '--room',
      'R9',
      '--data-dir',
      t.dir,
    ]);
    await run(process.execPath, [BIN, 'users', 'disable', '--name', 'av.tech', '--data-dir', t.dir]);
    const list = await run(process.execPath, [BIN, 'users', 'list', '--data-dir', t.dir]);
    expect(JSON.parse(list.stdout.trim())).toMatchObject({
      name: 'av.tech',
      role: 'operator',
      disabled: true,
    });

    const db = await openStore({ dataDir: t.dir });
    try {
      const entries = await new AuditLog(db, systemClock).query({ limit: 10 });
      expect(entries.map((e) => `${e.actor} ${e.role} ${e.action} ${e.target}`)).toEqual([
        'cli admin user.disable av.tech',
        'cli admin agent.provision box-9',
        'cli admin user.add av.tech',
      ]);
      expect(entries[2]?.detail).toEqual({ role: 'operator', rotate: false });
      expect(JSON.stringify(entries)).not.toContain(c.password);
    } finally {
      await db.close();
    }
  });
});
