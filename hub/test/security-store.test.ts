// The store side of the secrets and bounds (docs/hub.md "Secrets", "Per-agent bounds") on both backends,
// the SQLite file and a real PostgreSQL 15 started by this test: the rotated admin token, disabling and
// re-keying an account, the journal the running hub polls, and the dead-letter row caps.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetAgentPassword, setAgentDisabled } from '../src/agents/control.js';
import { AccountDisabledError, Accounts } from '../src/auth/accounts.js';
import { AdminToken, rotateAdminToken, storedAdminToken } from '../src/auth/admin-token.js';
import { SecurityWatch } from '../src/auth/watch.js';
import { systemClock } from '../src/context.js';
import { pruneDeadLetters } from '../src/ingest/deadletter-limits.js';
import { openStore, type Store } from '../src/store/open.js';
import { migrateCore } from '../src/store/schema.js';
import { tempDir } from './core-helpers.js';
import { startPostgres, type TestPostgres } from './pg-helpers.js';

const log = pino({ level: 'silent' });
let pgServer: TestPostgres;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  pgServer = await startPostgres();
}, 60_000);

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await pgServer?.stop();
});

let n = 0;
const backends: Array<[string, () => Promise<Store>]> = [
  [
    'sqlite',
    async () => {
      const t = tempDir('hub-secstore-');
      const db = await openStore({ dataDir: t.dir });
      cleanups.push(async () => {
        await db.close();
        t.remove();
      });
      return db;
    },
  ],
  [
    'postgres',
    async () => {
      const db = await openStore({
        dataDir: '/nonexistent',
        database: await pgServer.createDatabase(`sec_${++n}`),
      });
      cleanups.push(() => db.close());
      return db;
    },
  ],
];

for (const [name, open] of backends) {
  describe(`secrets in the store: ${name}`, () => {
    let db: Store;
    beforeAll(async () => {
      db = await open();
      await migrateCore(db);
    });

    it('rotates the admin token: only its hash is stored, and a watching hub swaps to it', async () => {
      const holder = new AdminToken('configured-token-0123456789');
      const closed: string[] = [];
      const watch = new SecurityWatch({
        db,
        clock: systemClock,
        log,
        adminToken: holder,
        broker: {
          disconnectUser: (u) => {
            closed.push(u);
            return 1;
          },
        },
        pollMs: 60_000,
      });
      await watch.start();
      try {
        expect(await storedAdminToken(db)).toBeNull();
        const token = await rotateAdminToken(db, []);
        const stored = await storedAdminToken(db);
        expect(stored?.hash).toMatch(/^[0-9a-f]{64}$/);
        expect(JSON.stringify(await db.all('SELECT * FROM admin_token'))).not.toContain(token);
        expect(holder.matches(token)).toBe(false);
        await watch.poll();
        expect(holder.matches(token)).toBe(true);
        expect(holder.matches('configured-token-0123456789')).toBe(false);

        // Disable and reset reach the broker through the same journal.
        const accounts = new Accounts(db);
        const creds = await accounts.addAgent({ agent: 'box-s', room: 'S1' });
        await setAgentDisabled(db, 'box-s', true);
        await expect(accounts.authenticate('box-s', creds.password)).rejects.toBeInstanceOf(
          AccountDisabledError,
        );
        // A wrong password is just refused: being disabled is told only to who knows the password.
        expect(await accounts.authenticate('box-s', 'wrong-password')).toBeNull();
        await setAgentDisabled(db, 'box-s', false);
        expect(await accounts.authenticate('box-s', creds.password)).toMatchObject({ username: 'box-s' });
        const fresh = await resetAgentPassword(db, 'box-s');
        expect(await accounts.authenticate('box-s', creds.password)).toBeNull();
        expect(await accounts.authenticate('box-s', fresh.password)).toMatchObject({ username: 'box-s' });
        await watch.poll();
        expect(closed).toEqual(['box-s', 'box-s']);
        await expect(setAgentDisabled(db, 'nobody', true)).rejects.toThrow(/no agent "nobody"/);
      } finally {
        await watch.stop();
      }
    });

    it('prunes dead letters by per-agent and overall caps and by age, oldest first', async () => {
      for (let i = 0; i < 10; i++) {
        for (const agent of ['a', 'b', null]) {
          await db.run(
            'INSERT INTO dead_letters (ts, reason, detail, topic, agent, size, payload, encoding) VALUES (?,?,?,?,?,?,?,?)',
            [1000 + i, 'invalid', '', 't', agent, 1, `${agent ?? '-'}${i}`, 'utf8'],
          );
        }
      }
      expect(await pruneDeadLetters(db, { maxRowsPerAgent: 4, agents: ['a', null] })).toBe(12);
      const left = async () =>
        (await db.all<{ payload: string }>('SELECT payload FROM dead_letters ORDER BY id')).map(
          (r) => r.payload,
        );
      expect((await left()).filter((p) => p.startsWith('a'))).toEqual(['a6', 'a7', 'a8', 'a9']);
      expect((await left()).filter((p) => p.startsWith('-'))).toEqual(['-6', '-7', '-8', '-9']);
      expect((await left()).filter((p) => p.startsWith('b'))).toHaveLength(10);
      expect(await pruneDeadLetters(db, { maxRows: 5 })).toBe(13);
      expect(await left()).toEqual(['b8', '-8', 'a9', 'b9', '-9']);
      expect(await pruneDeadLetters(db, { olderThan: 1009 })).toBe(2);
      expect(await left()).toEqual(['a9', 'b9', '-9']);
    });
  });
}
