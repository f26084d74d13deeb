// The hub on PostgreSQL (`--database postgres://…`, DESIGN.md), with a real PostgreSQL 15 started here:
// ingest from a real MQTT client with acks and duplicates; the CLI writing to the same database while
// the built bin serves from it; and two hub instances sharing one mosquitto (MQTT 5 shared
// subscription) and one database, where every record is stored exactly once.
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningHub, startHub } from '../src/app.js';
import type { HubEvents } from '../src/context.js';
import {
  ackCollector,
  announce,
  apiFor,
  batch,
  birth,
  connectAgent,
  range,
  spawnHub,
  TOKEN,
  tempDir,
  waitFor,
} from './core-helpers.js';
import { freePort, startMosquitto, startPostgres, type TestPostgres } from './pg-helpers.js';

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
}, 60_000);

async function hubOnPg(database: string, extra: { broker?: string } = {}): Promise<RunningHub> {
  const t = tempDir('hub-pg-data-');
  const hub = await startHub({
    dataDir: t.dir,
    database,
    httpPort: 0,
    mqttPort: 0,
    adminToken: TOKEN,
    logLevel: process.env.TEST_LOG ?? 'silent',
    ...extra,
  });
  let stopped = false;
  const stopHub = hub.stop;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await stopHub();
    t.remove();
  };
  cleanups.push(stop);
  return Object.assign(hub, { stop });
}

const countRecords = async (h: RunningHub, agent: string) =>
  (await h.ctx.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM records WHERE agent = ?', [agent]))?.n;

describe('hub on PostgreSQL', () => {
  it('ingests with acks after commit, drops duplicates, serves the records API, and keeps all over a restart', async () => {
    const database = await pgServer.createDatabase('e2e');
    let hub = await hubOnPg(database);
    expect(hub.ctx.db.dialect).toBe('postgres');
    let api = apiFor(hub.httpPort, hub.adminToken);
    const creds = (
      await api<{ username: string; password: string }>('POST', '/api/agents', {
        agent: 'box-pg',
        room: 'R-pg',
      })
    ).body;
    const committed: HubEvents['records.committed'][] = [];
    hub.ctx.bus.on('records.committed', (e) => committed.push(e));

    const client: MqttClient = await connectAgent(
      `mqtt://127.0.0.1:${hub.mqttPort}`,
      creds.username,
      creds.password,
    );
    cleanups.push(() => void client.end(true));
    const acked = await ackCollector(client, 'box-pg');
    await client.publishAsync('classroom/v1/box-pg/birth', JSON.stringify(birth('box-pg', 'R-pg')), {
      qos: 1,
    });
    for (let i = 0; i < 10; i++) {
      await client.publishAsync('classroom/v1/box-pg/records', batch(range(i * 10 + 1, i * 10 + 10)), {
        qos: 1,
      });
    }
    // Resends of stored records, and an overlapping batch, are acked again but not stored again.
    await client.publishAsync('classroom/v1/box-pg/records', batch(range(1, 10)), { qos: 1 });
    await client.publishAsync('classroom/v1/box-pg/records', batch(range(95, 110), 1, true), { qos: 1 });
    await waitFor('all 110 acked', () => acked.size === 110, 30_000);
    expect(await countRecords(hub, 'box-pg')).toBe(110);
    const fresh = committed.flatMap((e) => e.records.map((r) => r.seq)).sort((a, b) => a - b);
    expect(fresh).toEqual(range(1, 110));

    const page = await api<{
      records: Array<{
        agent: string;
        room: string;
        historical: boolean;
        receivedAt: number;
        record: { seq: number };
      }>;
      nextCursor: string | null;
    }>('GET', '/api/records?agent=box-pg&limit=60');
    expect(page.status).toBe(200);
    expect(page.body.records).toHaveLength(60);
    expect(page.body.records[0]).toMatchObject({ agent: 'box-pg', room: 'R-pg', historical: false });
    expect(typeof page.body.records[0]?.receivedAt).toBe('number');
    const next = await api<{
      records: Array<{ historical: boolean; record: { seq: number } }>;
      nextCursor: string | null;
    }>('GET', `/api/records?agent=box-pg&limit=60&cursor=${encodeURIComponent(page.body.nextCursor ?? '')}`);
    expect(next.body.records.map((r) => r.record.seq)).toEqual(range(61, 110));
    expect(next.body.records.at(-1)?.historical).toBe(true);
    expect(next.body.nextCursor).toBeNull();
    client.end(true);

    // A new instance on the same database (fresh data dir) knows the agent and its records.
    await hub.stop();
    hub = await hubOnPg(database);
    api = apiFor(hub.httpPort, hub.adminToken);
    const agent = await api<{ agent: string; room: { id: string } | null }>('GET', '/api/agents/box-pg');
    expect(agent.status).toBe(200);
    expect(agent.body.room?.id).toBe('R-pg');
    const again = await connectAgent(`mqtt://127.0.0.1:${hub.mqttPort}`, creds.username, creds.password);
    cleanups.push(() => void again.end(true));
    const acked2 = await ackCollector(again, 'box-pg');
    await again.publishAsync('classroom/v1/box-pg/records', batch(range(100, 120)), { qos: 1 });
    await waitFor('resend acked', () => acked2.size === 21, 30_000);
    expect(await countRecords(hub, 'box-pg')).toBe(120);
  }, 60_000);

  it('CLI `agents add --database` provisions into the database the served bin uses', async () => {
    const database = await pgServer.createDatabase('cli');
    const t = tempDir('hub-pg-cli-');
    cleanups.push(() => t.remove());
    const out = await run(process.execPath, [BIN, 'agents', 'add', '--agent', 'box-cli', '--room', 'R-cli'], {
      env: { ...process.env, CLASSROOM_HUB_DATABASE: database, CLASSROOM_HUB_DATA_DIR: t.dir },
    });
    const creds = JSON.parse(out.stdout) as { username: string; password: string };
    const hub = await spawnHub(t.dir, ['--database', database]);
    cleanups.push(() => hub.kill9());
    const c = await connectAgent(`mqtt://127.0.0.1:${hub.mqttPort}`, creds.username, creds.password);
    cleanups.push(() => void c.end(true));
    const acked = await ackCollector(c, 'box-cli');
    await announce(c, 'box-cli', 'R-cli');
    await c.publishAsync('classroom/v1/box-cli/records', batch(range(1, 5)), { qos: 1 });
    await waitFor('acked', () => acked.size === 5, 30_000);
    // Provisioning while the hub runs works at once, as with SQLite.
    const out2 = await run(process.execPath, [
      BIN,
      'agents',
      'add',
      '--agent',
      'box-cli2',
      '--room',
      'R-cli',
      '--database',
      database,
    ]);
    const creds2 = JSON.parse(out2.stdout) as { username: string; password: string };
    const c2 = await connectAgent(`mqtt://127.0.0.1:${hub.mqttPort}`, creds2.username, creds2.password);
    c2.end(true);
    // The records are in PostgreSQL, not in a SQLite file in the data dir.
    const api = apiFor(hub.httpPort, TOKEN);
    const rec = await api<{ records: unknown[] }>('GET', '/api/records?agent=box-cli');
    expect(rec.body.records).toHaveLength(5);
    // `schedule import --database` writes the timetable where the hub reads it.
    const csv = join(t.dir, 'r.csv');
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    writeFileSync(csv, `date,start,end,title\n${tomorrow},08:00,08:45,Maths\n`);
    const imp = await run(process.execPath, [
      BIN,
      'schedule',
      'import',
      '--room',
      'R-cli',
      '--file',
      csv,
      '--database',
      database,
    ]);
    expect(JSON.parse(imp.stdout)).toMatchObject({ room: 'R-cli', periods: 1 });
    const sched = await api<{ periods: Array<{ title: string }> }>('GET', '/api/rooms/R-cli/schedule');
    expect(sched.status).toBe(200);
    expect(sched.body.periods.map((p) => p.title)).toEqual(['Maths']);
    expect(await hub.terminate()).toBe(0);
    expect(existsSync(join(t.dir, 'hub.db'))).toBe(false);
    // An unreachable server stops `serve` with exit code 2, without printing the password.
    const closed = await freePort();
    const down = await run(process.execPath, [
      BIN,
      'serve',
      '--data-dir',
      t.dir,
      '--http-port',
      '0',
      '--mqtt-port',
      '0',
      '--database',
      `postgres://u:hunter2@127.0.0.1:${closed}/x`,
    ]).catch((e: { code: number; stderr: string }) => e);
    expect((down as { code: number }).code).toBe(2);
    expect((down as { stderr: string }).stderr).toMatch(/cannot connect to PostgreSQL/);
    expect((down as { stderr: string }).stderr).not.toContain('hunter2');
    // A URL that is not PostgreSQL is refused with exit code 2 and a clear message.
    const bad = await run(process.execPath, [
      BIN,
      'agents',
      'add',
      '--agent',
      'x',
      '--room',
      'y',
      '--database',
      'mysql://h/db',
    ]).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).toBe(2);
    expect((bad as { stderr: string }).stderr).toMatch(/postgres:\/\//);
  }, 60_000);
});

describe('two hubs sharing one mosquitto and one PostgreSQL database', () => {
  it('stores every record exactly once and acks every record', async () => {
    const broker = await startMosquitto();
    cleanups.push(() => broker.stop());
    const database = await pgServer.createDatabase('shared');
    // Started together: the migrations must not collide.
    const [a, b] = await Promise.all([
      hubOnPg(database, { broker: broker.url }),
      hubOnPg(database, { broker: broker.url }),
    ]);
    const committedBy = new Map<RunningHub, number>([
      [a, 0],
      [b, 0],
    ]);
    for (const h of [a, b]) {
      h.ctx.bus.on('records.committed', (e) =>
        committedBy.set(h, (committedBy.get(h) ?? 0) + e.records.length),
      );
    }
    const agents = ['box-s1', 'box-s2', 'box-s3'];
    const clients: Array<{ agent: string; client: MqttClient; acked: Set<number> }> = [];
    for (const agent of agents) {
      const client = mqtt.connect(broker.url, { clientId: agent, reconnectPeriod: 0 });
      cleanups.push(() => void client.end(true));
      await new Promise<void>((resolve) => client.once('connect', () => resolve()));
      clients.push({ agent, client, acked: await ackCollector(client, agent) });
      await client.publishAsync(`classroom/v1/${agent}/birth`, JSON.stringify(birth(agent, `R-${agent}`)), {
        qos: 1,
      });
    }
    // Every batch is sent twice back to back (a box resending before its ack): the shared
    // subscription may hand the two copies to different hubs, which then race on the same keys.
    await Promise.all(
      clients.map(async ({ agent, client }) => {
        for (let i = 0; i < 25; i++) {
          const body = batch(range(i * 20 + 1, i * 20 + 20));
          await Promise.all([
            client.publishAsync(`classroom/v1/${agent}/records`, body, { qos: 1 }),
            client.publishAsync(`classroom/v1/${agent}/records`, body, { qos: 1 }),
          ]);
        }
      }),
    );
    for (const { agent, acked } of clients) {
      await waitFor(`${agent}: all 500 acked`, () => acked.size === 500, 45_000);
    }
    const dupes = await a.ctx.db.all<{ agent: string; seq: number; n: number }>(
      'SELECT agent, seq, COUNT(*) AS n FROM records GROUP BY agent, seq HAVING COUNT(*) > 1',
    );
    expect(dupes).toEqual([]);
    for (const agent of agents) expect(await countRecords(b, agent)).toBe(500);
    // Each record was new to exactly one hub, and both did part of the work.
    const byA = committedBy.get(a) ?? 0;
    const byB = committedBy.get(b) ?? 0;
    expect(byA + byB).toBe(1500);
    expect(byA).toBeGreaterThan(0);
    expect(byB).toBeGreaterThan(0);
    // Both instances keep the full registry, from the same births.
    for (const h of [a, b]) {
      await waitFor('births seen by both', () =>
        agents.every((ag) => h.ctx.registry.agent(ag)?.room?.id === `R-${ag}`),
      );
    }
    const migrations = await a.ctx.db.all<{ name: string }>('SELECT name FROM schema_migrations');
    expect(new Set(migrations.map((m) => m.name)).size).toBe(migrations.length);
  }, 90_000);
});
