// The store contract (context.ts `Db`) run against both backends: the SQLite file and a real
// PostgreSQL 15 started by this test. One describe factory, so both must behave the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../src/context.js';
import { GroupCommitter } from '../src/ingest/commit.js';
import { createMetrics } from '../src/metrics.js';
import { migrateRollups, RollupAccumulator } from '../src/rollups/accumulator.js';
import { openStore, type Store } from '../src/store/open.js';
import { toPgPlaceholders } from '../src/store/postgres.js';
import { CORE_MIGRATIONS, migrateCore } from '../src/store/schema.js';
import { capture, tempDir } from './core-helpers.js';
import { startPostgres, type TestPostgres } from './pg-helpers.js';

let pgServer: TestPostgres;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  pgServer = await startPostgres();
}, 60_000);

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await pgServer?.stop();
});

let dbCount = 0;
async function sqliteStore(): Promise<Store> {
  const t = tempDir('hub-store-');
  const db = await openStore({ dataDir: t.dir });
  cleanups.push(async () => {
    await db.close();
    t.remove();
  });
  return db;
}

async function pgStore(): Promise<Store> {
  const url = await pgServer.createDatabase(`store_${++dbCount}`);
  const db = await openStore({ dataDir: '/nonexistent', database: url });
  cleanups.push(() => db.close());
  return db;
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

function storeContract(name: 'sqlite' | 'postgres', open: () => Promise<Store>) {
  describe(`store contract: ${name}`, () => {
    let db: Store;
    beforeAll(async () => {
      db = await open();
      await migrateCore(db);
    });

    it('reports its dialect', () => {
      expect(db.dialect).toBe(name);
    });

    it('applies a migration once, however often it is registered', async () => {
      const sql = 'CREATE TABLE t_once (id TEXT PRIMARY KEY, n BIGINT NOT NULL)';
      await db.migrate('test-once', sql);
      await db.migrate('test-once', sql); // would fail "already exists" if run again
      await Promise.all([db.migrate('test-once', sql), db.migrate('test-once', sql)]);
      await migrateCore(db);
      const rows = await db.all<{ name: string }>(
        "SELECT name FROM schema_migrations WHERE name = 'test-once'",
      );
      expect(rows).toHaveLength(1);
      // Every core migration once, whatever its prefix (core-…, tls-…).
      const applied = new Set(
        (await db.all<{ name: string }>('SELECT name FROM schema_migrations')).map((r) => r.name),
      );
      expect(CORE_MIGRATIONS.filter(([name]) => !applied.has(name))).toEqual([]);
    });

    it('binds ? placeholders, but not a ? inside a string literal', async () => {
      const row = await db.get<{ a: string; q: string; b: string }>("SELECT ? AS a, 'it''s ?' AS q, ? AS b", [
        'x',
        'y',
      ]);
      expect(row).toEqual({ a: 'x', q: "it's ?", b: 'y' });
    });

    it('returns 64-bit epoch-ms columns and aggregates as numbers', async () => {
      await db.run('INSERT INTO t_once (id, n) VALUES (?, ?), (?, ?)', ['a', 1_763_700_000_123, 'b', 5]);
      const row = await db.get<{ n: number }>('SELECT n FROM t_once WHERE id = ?', ['a']);
      expect(row?.n).toBe(1_763_700_000_123);
      const agg = await db.get<{ c: number; s: number }>('SELECT COUNT(*) AS c, SUM(n) AS s FROM t_once');
      expect(agg).toEqual({ c: 2, s: 1_763_700_000_128 });
    });

    it('counts changed rows', async () => {
      const res = await db.run('UPDATE t_once SET n = n + 1 WHERE id IN (?, ?)', ['a', 'b']);
      expect(res.changes).toBe(2);
      const none = await db.run('DELETE FROM t_once WHERE id = ?', ['zzz']);
      expect(none.changes).toBe(0);
    });

    it('keeps binary payloads intact (retained messages)', async () => {
      const payload = Buffer.from([0, 1, 2, 255, 254, 10, 13]);
      for (let i = 0; i < 2; i++) {
        await db.run(
          `INSERT INTO retained (topic, payload, qos, updated_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (topic) DO UPDATE SET payload = excluded.payload, qos = excluded.qos, updated_at = excluded.updated_at`,
          ['t/x', payload, 1, Date.now()],
        );
      }
      const row = await db.get<{ payload: Buffer; qos: number }>(
        'SELECT payload, qos FROM retained WHERE topic = ?',
        ['t/x'],
      );
      expect(Buffer.from(row?.payload ?? []).equals(payload)).toBe(true);
      expect(row?.qos).toBe(1);
    });

    it('assigns dead-letter ids itself', async () => {
      for (let i = 0; i < 2; i++) {
        await db.run(
          'INSERT INTO dead_letters (ts, reason, detail, topic, agent, size, payload, encoding) VALUES (?,?,?,?,?,?,?,?)',
          [Date.now(), 'schema', 'bad', 't', null, 3, 'abc', 'utf8'],
        );
      }
      const rows = await db.all<{ id: number }>('SELECT id FROM dead_letters ORDER BY id');
      expect(rows.map((r) => r.id)).toEqual([1, 2]);
    });

    it('rolls a failed transaction back and rethrows', async () => {
      await db.migrate('test-tx', 'CREATE TABLE t_tx (k TEXT PRIMARY KEY, v BIGINT NOT NULL)');
      await expect(
        db.transaction(async () => {
          await db.run('INSERT INTO t_tx (k, v) VALUES (?, ?)', ['rolled', 1]);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await db.get('SELECT k FROM t_tx WHERE k = ?', ['rolled'])).toBeUndefined();
      // A failing statement inside a transaction also undoes the statements before it.
      await expect(
        db.transaction(async () => {
          await db.run('INSERT INTO t_tx (k, v) VALUES (?, ?)', ['first', 1]);
          await db.run('INSERT INTO t_tx (k, v) VALUES (?, ?)', ['first', 2]);
        }),
      ).rejects.toThrow();
      expect(await db.get('SELECT k FROM t_tx WHERE k = ?', ['first'])).toBeUndefined();
    });

    it('serialises transactions: read-modify-write never loses an update', async () => {
      await db.run('INSERT INTO t_tx (k, v) VALUES (?, ?)', ['counter', 0]);
      await Promise.all(
        Array.from({ length: 20 }, () =>
          db.transaction(async () => {
            const r = await db.get<{ v: number }>('SELECT v FROM t_tx WHERE k = ?', ['counter']);
            await delay(1);
            await db.run('UPDATE t_tx SET v = ? WHERE k = ?', [Number(r?.v) + 1, 'counter']);
          }),
        ),
      );
      expect((await db.get<{ v: number }>('SELECT v FROM t_tx WHERE k = ?', ['counter']))?.v).toBe(20);
    });

    it('keeps a write issued elsewhere during a transaction out of it', async () => {
      let outside: Promise<unknown> = Promise.resolve();
      // Scheduled outside the transaction (like an MQTT handler), it fires while the transaction runs.
      const fired = new Promise<void>((resolve) =>
        setTimeout(() => {
          outside = db.run('INSERT INTO t_tx (k, v) VALUES (?, ?)', ['outside', 1]);
          resolve();
        }, 5),
      );
      await expect(
        db.transaction(async () => {
          await db.run('INSERT INTO t_tx (k, v) VALUES (?, ?)', ['inside', 1]);
          await fired;
          await delay(5);
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      await outside;
      expect(await db.get('SELECT k FROM t_tx WHERE k = ?', ['inside'])).toBeUndefined();
      expect(await db.get('SELECT k FROM t_tx WHERE k = ?', ['outside'])).toEqual({ k: 'outside' });
    });

    it('queues a write started inside a transaction but running after it, out of the next one', async () => {
      let late: Promise<unknown> = Promise.resolve();
      let lateIssued!: () => void;
      const issued = new Promise<void>((resolve) => {
        lateIssued = resolve;
      });
      await db.transaction(async () => {
        await db.run('INSERT INTO t_tx (k, v) VALUES (?, ?)', ['tx-a', 1]);
        // Fire-and-forget from inside the transaction: it runs once the next transaction is open.
        setTimeout(() => {
          late = db.run('INSERT INTO t_tx (k, v) VALUES (?, ?)', ['late', 1]);
          lateIssued();
        }, 20);
      });
      await expect(
        db.transaction(async () => {
          await db.run('INSERT INTO t_tx (k, v) VALUES (?, ?)', ['tx-b', 1]);
          await issued;
          await delay(20);
          throw new Error('roll b back');
        }),
      ).rejects.toThrow('roll b back');
      await late;
      expect(await db.get('SELECT k FROM t_tx WHERE k = ?', ['tx-b'])).toBeUndefined();
      expect(await db.get('SELECT k FROM t_tx WHERE k = ?', ['late'])).toEqual({ k: 'late' });
    });

    it('applies writes in the order they were issued', async () => {
      const writes = Array.from({ length: 30 }, (_, i) =>
        db.run('INSERT INTO t_tx (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v', [
          'order',
          i,
        ]),
      );
      await Promise.all(writes);
      expect((await db.get<{ v: number }>('SELECT v FROM t_tx WHERE k = ?', ['order']))?.v).toBe(29);
    });

    it("adds up the rollups module's multi-row upserts", async () => {
      await migrateRollups(db);
      const acc = new RollupAccumulator(db);
      const hour = 3_600_000;
      const t0 = 1_763_683_200_000; // a UTC midnight
      for (let round = 0; round < 2; round++) {
        // 150 hourly buckets: more than one statement's worth of rows.
        for (let h = 0; h < 150; h++) acc.addSpan('R-roll', 'online_ms', t0 + h * hour, t0 + h * hour + 1000);
        await acc.flush();
      }
      const rows = await db.all<{ bucket: string; n: number; total: number }>(
        'SELECT bucket, COUNT(*) AS n, SUM(online_ms) AS total FROM rollups WHERE room = ? GROUP BY bucket ORDER BY bucket',
        ['R-roll'],
      );
      expect(rows).toEqual([
        { bucket: 'day', n: 7, total: 300_000 },
        { bucket: 'hour', n: 150, total: 300_000 },
      ]);
    });

    it('keeps the larger people peak and sums the counted minutes across flushes (GREATEST)', async () => {
      await migrateRollups(db);
      const acc = new RollupAccumulator(db);
      const t0 = 1_763_690_400_000; // a whole UTC hour
      const window = (seq: number, people: number, peak: number) => ({
        ...capture(seq, t0 + seq * 60_000),
        end: t0 + (seq + 1) * 60_000,
        occupancy: { people, peak, samples: 6 },
      });
      acc.addCapture('R-peak', window(0, 30, 34));
      await acc.flush();
      acc.addCapture('R-peak', window(1, 0, 0));
      acc.addCapture('R-peak', window(2, 10, 12));
      await acc.flush();
      const row = await db.get<{
        people_peak: number | string;
        counted_ms: number | string;
        occupied_ms: number | string;
        people_ms: number | string;
      }>(
        "SELECT people_peak, counted_ms, occupied_ms, people_ms FROM rollups WHERE room = ? AND bucket = 'hour'",
        ['R-peak'],
      );
      expect([row?.people_peak, row?.counted_ms, row?.occupied_ms, row?.people_ms].map(Number)).toEqual([
        34,
        180_000,
        120_000,
        40 * 60_000,
      ]);
    });

    it('stores each (agent, seq) once through the group commit and reports only new records', async () => {
      const committer = new GroupCommitter(db, systemClock, createMetrics(), {
        windowMs: 2,
        maxRecords: 5000,
      });
      const base = { room: 'R1', historical: false, receivedAt: Date.now() };
      const first = await committer.submit({
        ...base,
        agent: 'box-1',
        records: [1, 2, 3].map((s) => capture(s)),
      });
      expect(first.map((r) => r.seq)).toEqual([1, 2, 3]);
      // Resend overlapping the stored ones, plus the same seqs of another agent, in one group.
      const [again, otherAgent, dupInGroup] = await Promise.all([
        committer.submit({ ...base, agent: 'box-1', records: [2, 3, 4].map((s) => capture(s)) }),
        committer.submit({ ...base, agent: 'box-2', records: [1, 2].map((s) => capture(s)) }),
        committer.submit({ ...base, agent: 'box-1', records: [4, 5].map((s) => capture(s)) }),
      ]);
      expect(again.map((r) => r.seq)).toEqual([4]);
      expect(otherAgent.map((r) => r.seq)).toEqual([1, 2]);
      expect(dupInGroup.map((r) => r.seq)).toEqual([5]);
      const rows = await db.all<{ agent: string; seq: number; ts: number; historical: number; body: string }>(
        'SELECT agent, seq, ts, historical, body FROM records ORDER BY agent, seq',
      );
      expect(rows.map((r) => `${r.agent}:${r.seq}`)).toEqual([
        'box-1:1',
        'box-1:2',
        'box-1:3',
        'box-1:4',
        'box-1:5',
        'box-2:1',
        'box-2:2',
      ]);
      expect(rows[0]?.ts).toBe(capture(1).kind === 'capture' ? (capture(1) as { start: number }).start : 0);
      expect(rows[0]?.historical).toBe(0);
      expect(JSON.parse(rows[0]?.body ?? '{}')).toEqual(capture(1));
      // A group larger than one statement goes through a transaction: still once each.
      const big = Array.from({ length: 12_000 }, (_, i) => capture(i + 1));
      const fresh = await committer.submit({ ...base, agent: 'box-3', records: big });
      expect(fresh).toHaveLength(12_000);
      expect(await committer.submit({ ...base, agent: 'box-3', records: big.slice(0, 100) })).toEqual([]);
      const n = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM records WHERE agent = ?', ['box-3']);
      expect(n?.n).toBe(12_000);
    });
  });
}

storeContract('sqlite', sqliteStore);
storeContract('postgres', pgStore);

describe('placeholder translation', () => {
  it('numbers ? in order and skips literals, quoted identifiers and comments', () => {
    expect(toPgPlaceholders(`SELECT ?, '?', "a?b", ? -- ?\n, /* ? */ ?::json`)).toBe(
      `SELECT $1, '?', "a?b", $2 -- ?\n, /* ? */ $3::json`,
    );
    expect(toPgPlaceholders("SELECT 'it''s ?', ?")).toBe("SELECT 'it''s ?', $1");
  });
});
