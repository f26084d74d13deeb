// Upgrade of the hub (docs/operations.md "Upgrade"): the store that hub 0.1.0 wrote, on SQLite and on
// PostgreSQL (test/fixtures/upgrade/0.1.0/, made by scripts/upgrade-fixtures.mjs with that release's
// code through its real MQTT and HTTP interfaces), is opened by this hub. Its migrations run, and
// every row of every 0.1.0 table is still there with the same values; the API serves the old
// records, alarms and commands.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import sqlite3 from 'sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFor, type SpawnedHub, spawnHub, TOKEN, tempDir } from './core-helpers.js';
import { startPostgres, type TestPostgres } from './pg-helpers.js';

const FIXTURES = new URL('../../test/fixtures/upgrade/0.1.0/', import.meta.url).pathname;

/**
 * The fixture's records are as old as the fixture: keep every age so that a retention pass at start
 * (DESIGN.md "Hub": `--retain-*-days`) cannot be what removed a row.
 */
/**
 * The fixture's webhook target is on loopback, which hubs after 0.1.0 refuse unless told otherwise
 * (docs/hub-people.md "Webhooks"); a refused delivery is dropped, not kept, so allow it here.
 */
const SERVE_ARGS = ['--webhook-allow-private'];
const KEEP_EVERYTHING = {
  CLASSROOM_HUB_RETAIN_RECORDS_DAYS: '36500',
  CLASSROOM_HUB_RETAIN_EVENTS_DAYS: '36500',
  CLASSROOM_HUB_RETAIN_DEADLETTERS_DAYS: '36500',
  CLASSROOM_HUB_RETAIN_COMMANDS_DAYS: '36500',
  CLASSROOM_HUB_RETAIN_ALARM_HISTORY_DAYS: '36500',
};

/**
 * Columns a running hub rewrites by design, so their 0.1.0 value is not expected to survive a start:
 * availability is `unknown` until an agent is heard from again (DESIGN.md "Agent availability"), and
 * the retained hub state and room summaries are republished with fresh times, and a pending webhook
 * delivery (its target is down in the fixture) is retried (docs/hub-people.md "Webhooks").
 */
const LIVE_COLUMNS: Record<string, string[]> = {
  agents: ['availability', 'since'],
  retained: ['payload', 'updated_at'],
  webhook_outbox: ['attempts', 'next_at'],
};

type Row = Record<string, unknown>;
type Snapshot = Map<string, Row[]>;

interface Store {
  tables(): Promise<string[]>;
  rows(table: string): Promise<Row[]>;
  close(): Promise<void>;
}

function sqliteStore(file: string): Store {
  const db = new sqlite3.Database(file);
  const all = (sql: string) =>
    new Promise<Row[]>((res, rej) => db.all(sql, (err, rows) => (err ? rej(err) : res(rows as Row[]))));
  return {
    tables: async () =>
      (await all("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")).map(
        (r) => r.name as string,
      ),
    rows: (t) => all(`SELECT * FROM "${t}"`),
    close: () => new Promise<void>((res, rej) => db.close((err) => (err ? rej(err) : res()))),
  };
}

async function pgStore(url: string): Promise<Store> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  return {
    // Partitions (if records are partitioned) are read through their parent.
    tables: async () =>
      (
        await c.query(
          `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition`,
        )
      ).rows.map((r) => r.relname as string),
    rows: async (t) => (await c.query(`SELECT * FROM public."${t}"`)).rows as Row[],
    close: () => c.end(),
  };
}

async function snapshot(store: Store): Promise<Snapshot> {
  const s: Snapshot = new Map();
  for (const t of await store.tables()) s.set(t, await store.rows(t));
  return s;
}

const canon = (v: unknown) => (Buffer.isBuffer(v) ? `bytes:${v.toString('base64')}` : JSON.stringify(v));

/** Every row of every table in `before` is in `after`, equal in each column it had (new columns may exist). */
function expectNothingLost(before: Snapshot, after: Snapshot): void {
  for (const [table, rows] of before) {
    if (table === 'schema_migrations') continue;
    const now = after.get(table);
    expect(now, `table ${table} is gone`).toBeDefined();
    const live = new Set(LIVE_COLUMNS[table] ?? []);
    const key = (r: Row, cols: string[]) => cols.map((c) => canon(r[c])).join('|');
    for (const row of rows) {
      const cols = Object.keys(row).filter((c) => !live.has(c));
      const have = new Set((now ?? []).map((r) => key(r, cols)));
      expect(
        have.has(key(row, cols)),
        `${table}: row lost or changed: ${JSON.stringify(row).slice(0, 300)}`,
      ).toBe(true);
    }
  }
  // The schema_migrations bookkeeping keeps every migration that had run.
  const applied = new Set((after.get('schema_migrations') ?? []).map((r) => r.name));
  for (const r of before.get('schema_migrations') ?? []) expect(applied.has(r.name)).toBe(true);
}

async function allRecords(
  api: ReturnType<typeof apiFor>,
): Promise<Array<{ agent: string; record: { seq: number } }>> {
  const out: Array<{ agent: string; record: { seq: number } }> = [];
  let cursor: string | null = null;
  do {
    const q = `/api/records?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const r = await api<{ records: typeof out; nextCursor: string | null }>('GET', q);
    expect(r.status).toBe(200);
    out.push(...r.body.records);
    cursor = r.body.nextCursor;
  } while (cursor);
  return out;
}

/** What the upgraded hub's API must still serve, read from the 0.1.0 rows. */
async function expectApiServesOldData(hub: SpawnedHub, before: Snapshot): Promise<void> {
  const api = apiFor(hub.httpPort, TOKEN);
  const oldRecords = before.get('records') ?? [];
  expect(oldRecords.length).toBeGreaterThan(100);
  const served = await allRecords(api);
  const byKey = new Map(served.map((r) => [`${r.agent}/${r.record.seq}`, r.record]));
  for (const row of oldRecords) {
    expect(byKey.get(`${row.agent}/${Number(row.seq)}`), `record ${row.agent}/${row.seq}`).toEqual(
      JSON.parse(row.body as string),
    );
  }
  expect(served.length).toBe(oldRecords.length);
  const history = before.get('alarm_history') ?? [];
  for (const a of before.get('alarms') ?? []) {
    const r = await api<{ alarm: { type: string; state: string }; history: unknown[] }>(
      'GET',
      `/api/alarms/${a.id}`,
    );
    expect(r.status).toBe(200);
    expect(r.body.alarm).toMatchObject({ type: a.type, state: a.state });
    expect(r.body.history.length).toBeGreaterThanOrEqual(history.filter((h) => h.alarm_id === a.id).length);
  }
  for (const c of before.get('commands') ?? []) {
    const r = await api<{ status: string }>('GET', `/api/commands/${c.id}`);
    expect(r.status).toBe(200);
    expect(r.body.status).toBe(c.status);
  }
  const agents = await api<{ agents: Array<{ agent: string }> }>('GET', '/api/agents');
  expect(agents.body.agents.map((a) => a.agent).sort()).toEqual(
    (before.get('agents') ?? []).map((a) => a.agent).sort(),
  );
}

describe('hub upgrade from 0.1.0', () => {
  it('SQLite: migrates hub.db in place with every row kept', async () => {
    const t = tempDir('hub-upgrade-sqlite-');
    try {
      const file = join(t.dir, 'hub.db');
      const load = new sqlite3.Database(file);
      await new Promise<void>((res, rej) =>
        load.exec(readFileSync(join(FIXTURES, 'hub-sqlite.sql'), 'utf8'), (err) => (err ? rej(err) : res())),
      );
      await new Promise<void>((res) => load.close(() => res()));
      const old = sqliteStore(file);
      const before = await snapshot(old);
      await old.close();
      expect(before.size).toBeGreaterThan(10);

      const hub = await spawnHub(t.dir, SERVE_ARGS, KEEP_EVERYTHING);
      try {
        await expectApiServesOldData(hub, before);
      } finally {
        expect(await hub.terminate()).toBe(0);
      }
      const now = sqliteStore(file);
      try {
        expectNothingLost(before, await snapshot(now));
      } finally {
        await now.close();
      }
    } finally {
      t.remove();
    }
  }, 120_000);

  describe('PostgreSQL', () => {
    let pgs: TestPostgres;
    beforeAll(async () => {
      pgs = await startPostgres();
    }, 60_000);
    afterAll(async () => {
      await pgs?.stop();
    });

    it('migrates the database in place with every row kept', async () => {
      const url = await pgs.createDatabase('upgrade_010');
      const load = new pg.Client({ connectionString: url });
      await load.connect();
      try {
        await load.query(readFileSync(join(FIXTURES, 'hub-postgres.sql'), 'utf8'));
      } finally {
        await load.end();
      }
      const old = await pgStore(url);
      const before = await snapshot(old);
      await old.close();
      expect(before.size).toBeGreaterThan(10);

      const t = tempDir('hub-upgrade-pg-');
      try {
        const hub = await spawnHub(t.dir, ['--database', url, ...SERVE_ARGS], KEEP_EVERYTHING);
        try {
          await expectApiServesOldData(hub, before);
        } finally {
          expect(await hub.terminate()).toBe(0);
        }
      } finally {
        t.remove();
      }
      const now = await pgStore(url);
      try {
        expectNothingLost(before, await snapshot(now));
      } finally {
        await now.close();
      }
    }, 120_000);
  });
});
