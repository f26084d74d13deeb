// Retention on PostgreSQL (docs/hub-postgres.md "Partitions"), on the real PostgreSQL 15 the pg tests
// start: an existing unpartitioned records table is migrated into partitions with every row kept, a pass
// drops whole partitions past their cutoff (captures and events each by their own), clears the default
// partition row by row, and ingest dedupes by (agent, seq) on the partitioned table.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { RecordT } from '@classroom/protocol';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningHub, startHub } from '../src/app.js';
import { listPartitions, PARTITION_MS, partitionStart } from '../src/retention/partitions.js';
import { PgDb } from '../src/store/postgres.js';
import { CORE_MIGRATIONS } from '../src/store/schema.js';
import {
  ackCollector,
  apiFor,
  birth,
  capture,
  connectAgent,
  range,
  TOKEN,
  tempDir,
  waitFor,
} from './core-helpers.js';
import { startPostgres, type TestPostgres } from './pg-helpers.js';

const DAY = 86_400_000;
const run = promisify(execFile);
const BIN = new URL('../bin/classroom-hub.js', import.meta.url).pathname;

/** A client binary of the newest installed PostgreSQL (pg_dump, pg_restore). */
function pgTool(name: string): string {
  const base = '/usr/lib/postgresql';
  const v = readdirSync(base)
    .filter((d) => existsSync(join(base, d, 'bin', name)))
    .sort((a, b) => Number(b) - Number(a))[0];
  if (!v) throw new Error(`no ${name} under ${base}`);
  return join(base, v, 'bin', name);
}
const now = Date.now();

let pgServer: TestPostgres;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  pgServer = await startPostgres();
}, 60_000);

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await pgServer?.stop();
}, 60_000);

function event(seq: number, ts: number): RecordT {
  return { seq, kind: 'event', source: 'cam', ts, type: 'video.black.start', detail: {} };
}

async function hubOn(database: string): Promise<RunningHub> {
  const t = tempDir('hub-pg-ret-');
  const hub = await startHub({
    dataDir: t.dir,
    database,
    httpPort: 0,
    mqttPort: 0,
    adminToken: TOKEN,
    logLevel: process.env.TEST_LOG ?? 'silent',
    retention: { schedule: { firstMs: 3_600_000 } },
  });
  cleanups.push(async () => {
    await hub.stop();
    t.remove();
  });
  return hub;
}

/** Publishes the records through the hub's broker as the box would, and waits for every ack. */
const credentials = new Map<string, { username: string; password: string }>();
async function send(hub: RunningHub, agent: string, records: RecordT[]): Promise<void> {
  const api = apiFor(hub.httpPort, TOKEN);
  let creds = credentials.get(agent);
  if (!creds) {
    creds = (await api<{ username: string; password: string }>('POST', '/api/agents', { agent, room: 'r1' }))
      .body;
    credentials.set(agent, creds);
  }
  const c: MqttClient = await connectAgent(
    `mqtt://127.0.0.1:${hub.mqttPort}`,
    creds.username,
    creds.password,
    {
      clientId: agent,
    },
  );
  try {
    const acked = await ackCollector(c, agent);
    await c.publishAsync(`classroom/v1/${agent}/birth`, JSON.stringify(birth(agent, 'r1')), { qos: 1 });
    for (let i = 0; i < records.length; i += 200) {
      await c.publishAsync(
        `classroom/v1/${agent}/records`,
        JSON.stringify({ v: 1, session: 1, records: records.slice(i, i + 200) }),
        { qos: 1 },
      );
    }
    await waitFor(`acks of ${agent}`, () => records.every((r) => acked.has(r.seq)), 30_000);
  } finally {
    c.end(true);
  }
}

describe('records in partitions on PostgreSQL', () => {
  it('migrates an existing records table, keeps every row, and a pass drops whole old partitions', async () => {
    const url = await pgServer.createDatabase('retention_migrate');
    // A database from before core-010: every earlier core migration, records unpartitioned.
    const old = new PgDb(url);
    await old.open();
    for (const [name, sql] of CORE_MIGRATIONS) {
      if (name === 'core-010-records-partitioned') continue;
      await old.migrate(name, typeof sql === 'string' ? sql : sql.postgres);
    }
    const rows: unknown[][] = [];
    const put = (seq: number, kind: string, ts: number) =>
      rows.push([
        'box-m',
        seq,
        kind,
        'cam',
        ts,
        null,
        'r1',
        kind === 'event' ? 'video.black.start' : null,
        0,
        ts,
        '{}',
      ]);
    for (let s = 1; s <= 100; s++) put(s, 'capture', now - 200 * DAY + s * 60_000); // past 180 d
    for (let s = 101; s <= 200; s++) put(s, 'capture', now - 30 * DAY + s * 60_000); // kept
    for (let s = 201; s <= 210; s++) put(s, 'event', now - 200 * DAY); // events keep 365 d
    for (let s = 211; s <= 220; s++) put(s, 'event', now - 390 * DAY); // past 365 d
    for (const r of rows) {
      await old.run(
        `INSERT INTO records (agent, seq, kind, source, ts, end_ts, room, type, historical, received_at, body)
         VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
        r,
      );
    }
    expect(
      (await old.get<{ k: string }>("SELECT relkind::text AS k FROM pg_class WHERE relname = 'records'"))?.k,
    ).toBe('r');
    await old.close();

    const hub = await hubOn(url);
    const db = hub.ctx.db;
    expect(
      (await db.get<{ k: string }>("SELECT relkind::text AS k FROM pg_class WHERE relname = 'records'"))?.k,
    ).toBe('p');
    expect(Number((await db.get<{ n: number }>('SELECT count(*) AS n FROM records'))?.n)).toBe(220);
    const captures = await listPartitions(db, 'capture');
    expect(captures.some((p) => p.from <= now - 200 * DAY && p.to > now - 200 * DAY)).toBe(true);
    expect(captures.at(-1)!.to).toBeGreaterThan(now + PARTITION_MS); // created ahead of time
    // Every migrated row sits in a range partition, none in the default one.
    expect(
      Number((await db.get<{ n: number }>('SELECT count(*) AS n FROM records_capture_default'))?.n),
    ).toBe(0);

    // Live ingest into the partitioned table; a resend of the same records is stored once.
    const fresh = range(300, 340).map((s) => capture(s, now - DAY + s * 10_000));
    await send(hub, 'box-m2', fresh);
    await send(hub, 'box-m2', fresh);
    expect(
      Number((await db.get<{ n: number }>("SELECT count(*) AS n FROM records WHERE agent = 'box-m2'"))?.n),
    ).toBe(41);

    const report = await hub.retention!.runNow();
    // Whole partitions only: a partition that holds rows on both sides of the cutoff stays.
    const dropped = report.partitionsDropped.map((p) => p.name);
    expect(dropped.length).toBeGreaterThan(0);
    expect(dropped.every((n) => /^records_(capture|event)_\d{8}$/.test(n))).toBe(true);
    expect(report.deleted.records.capture).toBe(100);
    expect(report.deleted.records.event).toBe(10);
    const left = await db.all<{ seq: number }>("SELECT seq FROM records WHERE agent = 'box-m' ORDER BY seq");
    expect(left.map((r) => r.seq)).toEqual([...range(101, 200), ...range(201, 210)]);
    for (const name of dropped) {
      expect((await db.get<{ t: string | null }>('SELECT to_regclass(?)::text AS t', [name]))?.t).toBeNull();
    }
    const api = apiFor(hub.httpPort, TOKEN);
    const page = await api<{ records: unknown[] }>('GET', `/api/records?agent=box-m2&limit=100`);
    expect(page.body.records).toHaveLength(41);
  });

  it('deletes old rows that fell into the default partition, row by row', async () => {
    const url = await pgServer.createDatabase('retention_default');
    const hub = await hubOn(url);
    const db = hub.ctx.db;
    // A fresh database has partitions from this week on: a replay from 200 days ago lands in default.
    expect((await listPartitions(db, 'capture'))[0]!.from).toBe(partitionStart(now));
    await send(hub, 'box-d', [
      ...range(1, 30).map((s) => capture(s, now - 200 * DAY + s * 10_000)),
      ...range(31, 40).map((s) => capture(s, now + s * 10_000)), // this week: a range partition
      ...range(41, 45).map((s) => event(s, now - 200 * DAY)),
    ]);
    expect(
      Number((await db.get<{ n: number }>('SELECT count(*) AS n FROM records_capture_default'))?.n),
    ).toBe(30);
    const report = await hub.retention!.runNow();
    expect(report.partitionsDropped).toEqual([]);
    expect(report.deleted.records).toEqual({ capture: 30, event: 0 });
    // `classroom-hub retention run --database` beside the running hub: the events' turn (shorter limit).
    const cli = await run(process.execPath, [
      BIN,
      'retention',
      'run',
      '--database',
      url,
      '--retain-events-days',
      '100',
    ]);
    const out = JSON.parse(cli.stdout) as {
      deleted: { records: { capture: number; event: number } };
      partitionsCreated: string[];
      vacuum: unknown;
    };
    expect(out.deleted.records).toEqual({ capture: 0, event: 5 });
    expect(out.vacuum).toBeNull();
    expect(
      Number((await db.get<{ n: number }>("SELECT count(*) AS n FROM records WHERE agent = 'box-d'"))?.n),
    ).toBe(10);
  });
});

describe('backup and restore on PostgreSQL', () => {
  it('pg_dump of a live hub, pg_restore into a fresh database, and a hub there serves the records', async () => {
    const src = await pgServer.createDatabase('backup_src');
    const hub = await hubOn(src);
    const records = [
      ...range(1, 150).map((s) => capture(s, now - 3 * DAY + s * 10_000)),
      ...range(151, 160).map((s) => event(s, now - DAY)),
    ];
    await send(hub, 'box-b', records);
    const t = tempDir('hub-pg-dump-');
    cleanups.push(() => t.remove());
    const dump = join(t.dir, 'hub.dump');
    // As docs/hub-postgres.md says: the custom format, taken while the hub runs (one snapshot).
    await run(pgTool('pg_dump'), ['-Fc', '-f', dump, src]);
    const dst = await pgServer.createDatabase('backup_restored');
    await run(pgTool('pg_restore'), ['--no-owner', '-d', dst, dump]);
    const restored = await hubOn(dst);
    const api = apiFor(restored.httpPort, TOKEN);
    const page = await api<{ records: Array<{ record: { seq: number } }> }>(
      'GET',
      '/api/records?agent=box-b&limit=1000',
    );
    expect(page.status).toBe(200);
    expect(page.body.records.map((r) => r.record.seq).sort((a, b) => a - b)).toEqual(range(1, 160));
    // The partitions came back too, and the restored hub keeps deduping and creating them.
    expect((await listPartitions(restored.ctx.db, 'capture')).length).toBeGreaterThan(0);
    // The box's account came back with the data: it connects to the restored hub with its old password,
    // a resend is deduped and a new record is stored.
    await send(restored, 'box-b', [...records.slice(0, 10), capture(161, now)]);
    const n = await restored.ctx.db.get<{ n: number }>(
      "SELECT count(*) AS n FROM records WHERE agent = 'box-b'",
    );
    expect(Number(n?.n)).toBe(161);
    const report = await restored.retention!.runNow();
    expect(report.deleted.records).toEqual({ capture: 0, event: 0 });
  }, 120_000);
});
