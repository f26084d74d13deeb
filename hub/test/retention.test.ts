// Retention on SQLite (docs/hub.md "Retention"): age is the row's own time, each class has its own
// cutoff, rollups stay, the file shrinks by incremental vacuum, an old database is converted to
// auto_vacuum=INCREMENTAL, and `classroom-hub retention run` works beside a running hub.
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { RecordT } from '@classroom/protocol';
import type { MqttClient } from 'mqtt';
import sqlite3 from 'sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Db } from '../src/context.js';
import { DEFAULT_RETENTION, parseDays } from '../src/retention/policy.js';
import { autoVacuumMode } from '../src/retention/vacuum.js';
import {
  ackCollector,
  birth,
  capture,
  connectAgent,
  type InProcessHub,
  inProcessHub,
  range,
  spawnHub,
  TOKEN,
  tempDir,
  waitFor,
} from './core-helpers.js';

const run = promisify(execFile);
const BIN = new URL('../bin/classroom-hub.js', import.meta.url).pathname;
const DAY = 86_400_000;
const now = Date.now();

const hubs: InProcessHub[] = [];
const clients: MqttClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.end(true);
  for (const h of hubs.splice(0)) await h.stop();
});

function event(seq: number, ts: number): RecordT {
  return { seq, kind: 'event', source: 'cam', ts, type: 'video.black.start', detail: {} };
}

/** A box that publishes records through the real broker and waits for every ack. */
async function boxSends(h: InProcessHub, agent: string, records: RecordT[]): Promise<void> {
  const creds = (
    await h.api<{ username: string; password: string }>('POST', '/api/agents', {
      agent,
      room: `room-${agent}`,
    })
  ).body;
  const c = await connectAgent(h.mqttUrl, creds.username, creds.password, { clientId: agent });
  clients.push(c);
  const acked = await ackCollector(c, agent);
  await c.publishAsync(`classroom/v1/${agent}/birth`, JSON.stringify(birth(agent, `room-${agent}`)), {
    qos: 1,
  });
  for (let i = 0; i < records.length; i += 200) {
    await c.publishAsync(
      `classroom/v1/${agent}/records`,
      JSON.stringify({ v: 1, session: 1, records: records.slice(i, i + 200) }),
      { qos: 1 },
    );
  }
  await waitFor(`acks of ${agent}`, () => records.every((r) => acked.has(r.seq)), 30_000);
}

async function count(db: Db, sql: string, params: unknown[] = []): Promise<number> {
  return Number((await db.get<{ n: number }>(sql, params))?.n ?? 0);
}

/** Rows of the tables other modules own, old and young, as those modules write them. */
async function seedOtherTables(db: Db): Promise<void> {
  for (const [ts, tag] of [
    [now - 40 * DAY, 'old'],
    [now - 2 * DAY, 'young'],
  ] as const) {
    await db.run(
      'INSERT INTO dead_letters (ts, reason, detail, topic, agent, size, payload, encoding) VALUES (?,?,?,?,?,?,?,?)',
      [ts, 'bad_json', tag, 'classroom/v1/x/records', 'x', 1, '{', 'utf8'],
    );
    await db.run(
      `INSERT INTO commands (id, agent, name, args, created_at, expires_at, status, data, updated_at)
       VALUES (?,?,?,?,?,?,?,?,?)`,
      [`cmd-${tag}`, 'x', 'snapshot', '{}', ts, ts + 60_000, 'ok', '{"jpeg":"/9j/AAAA"}', ts],
    );
  }
  for (const [ts, tag] of [
    [now - 400 * DAY, 'old'],
    [now - 300 * DAY, 'young'],
  ] as const) {
    await db.run('INSERT INTO alarm_history (alarm_id, ts, from_state, to_state, note) VALUES (?,?,?,?,?)', [
      'a1',
      ts,
      null,
      'active',
      tag,
    ]);
    await db.run('INSERT INTO rollups (room, bucket, start, online_ms) VALUES (?,?,?,?)', [
      'room-x',
      'day',
      ts,
      1000,
    ]);
  }
}

describe('retention policy', () => {
  it('has the documented defaults and refuses nonsense days', () => {
    expect(DEFAULT_RETENTION).toEqual({
      recordsDays: 180,
      eventsDays: 365,
      deadLettersDays: 30,
      commandsDays: 30,
      alarmHistoryDays: 365,
    });
    expect(parseDays('--retain-records-days', '0.5')).toBe(0.5);
    for (const bad of ['0', '-3', 'abc', '', '99999'])
      expect(() => parseDays('--retain-records-days', bad)).toThrow(/--retain-records-days must be/);
  });
});

describe('a retention pass on SQLite', () => {
  it('deletes each class by its own age, keeps rollups, and the records API no longer serves them', async () => {
    const h = await inProcessHub({ retention: { schedule: { firstMs: 3_600_000 } } });
    hubs.push(h);
    const records: RecordT[] = [
      ...range(1, 50).map((s) => capture(s, now - 200 * DAY + s * 10_000)), // older than 180 d: deleted
      ...range(51, 100).map((s) => capture(s, now - 100 * DAY + s * 10_000)), // kept
      ...range(101, 110).map((s) => event(s, now - 200 * DAY)), // events keep 365 d: kept
      ...range(111, 120).map((s) => event(s, now - 400 * DAY)), // deleted
    ];
    await boxSends(h, 'box-r1', records);
    await seedOtherTables(h.hub.ctx.db);
    const report = await h.hub.retention!.runNow();
    expect(report.deleted).toEqual({
      records: { capture: 50, event: 10 },
      dead_letters: 1,
      commands: 1,
      alarm_history: 1,
    });
    const db = h.hub.ctx.db;
    const seqs = (
      await db.all<{ seq: number }>("SELECT seq FROM records WHERE agent = 'box-r1' ORDER BY seq")
    ).map((r) => r.seq);
    expect(seqs).toEqual(range(51, 110));
    expect(await count(db, "SELECT count(*) AS n FROM dead_letters WHERE detail = 'young'")).toBe(1);
    expect(await count(db, 'SELECT count(*) AS n FROM dead_letters')).toBe(1);
    expect(await count(db, "SELECT count(*) AS n FROM commands WHERE id = 'cmd-young'")).toBe(1);
    expect(await count(db, 'SELECT count(*) AS n FROM commands')).toBe(1);
    expect(await count(db, "SELECT count(*) AS n FROM alarm_history WHERE note = 'young'")).toBe(1);
    // Rollups stay forever, even at 400 days. Only the seeded room is counted: the rollups module flushes
    // the box's own buckets every ROLLUP_FLUSH_MS, so how many of those exist depends on the machine's pace.
    expect(await count(db, "SELECT count(*) AS n FROM rollups WHERE room = 'room-x'")).toBe(2);
    const api = await h.api<{ records: Array<{ record: { seq: number } }> }>(
      'GET',
      `/api/records?agent=box-r1&from=${now - 500 * DAY}&to=${now}&limit=1000`,
    );
    expect(api.status).toBe(200);
    expect(api.body.records.map((r) => r.record.seq).sort((a, b) => a - b)).toEqual(range(51, 110));
    // A second pass finds nothing more.
    const again = await h.hub.retention!.runNow();
    expect(again.deleted.records).toEqual({ capture: 0, event: 0 });
  });

  it('honours shorter retention from options, in many batches, and the file shrinks', async () => {
    const h = await inProcessHub({ retention: { recordsDays: 10, schedule: { firstMs: 3_600_000 } } });
    hubs.push(h);
    const db = h.hub.ctx.db;
    // 6,000 wide rows (many batches of 500) written as the ingest writes them, then one young one.
    await db.exec('BEGIN');
    for (let s = 1; s <= 6000; s++) {
      const r = capture(s, now - 20 * DAY + s * 1000);
      await db.run(
        `INSERT INTO records (agent, seq, kind, source, ts, end_ts, room, type, historical, received_at, body)
         VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
        [
          'box-v',
          s,
          'capture',
          'cam',
          r.kind === 'capture' ? r.start : 0,
          null,
          'r',
          null,
          0,
          now,
          JSON.stringify({ ...r, pad: 'x'.repeat(400) }),
        ],
      );
    }
    await db.exec('COMMIT');
    await boxSends(h, 'box-v2', [capture(1, now - 5 * DAY)]);
    await db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    const file = join(h.dir, 'hub.db');
    const before = statSync(file).size;
    const report = await h.hub.retention!.runNow();
    expect(report.deleted.records.capture).toBe(6000);
    expect(report.vacuum?.pages).toBeGreaterThan(100);
    const after = statSync(file).size;
    expect(after).toBeLessThan(before * 0.6);
    expect(await count(db, 'SELECT count(*) AS n FROM records')).toBe(1);
    expect(await autoVacuumMode(db)).toBe(2);
  });
});

function rawExec(file: string, sql: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const d = new sqlite3.Database(file, (err) => {
      if (err) return reject(err);
      d.exec(sql, (e) => d.close(() => (e ? reject(e) : resolve())));
    });
  });
}

function rawGet<T>(file: string, sql: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const d = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (err) => {
      if (err) return reject(err);
      d.get(sql, (e, row) => d.close(() => (e ? reject(e) : resolve(row as T))));
    });
  });
}

describe('a database made before incremental vacuum', () => {
  it('is converted at start, with every record kept', async () => {
    const t = tempDir('hub-retention-old-');
    try {
      let h = await inProcessHub({ dataDir: t.dir, retention: { schedule: { firstMs: 3_600_000 } } });
      await boxSends(
        h,
        'box-old',
        range(1, 300).map((s) => capture(s, now - DAY + s * 10_000)),
      );
      await h.hub.stop();
      // What databases created by earlier versions look like: auto_vacuum=NONE.
      const file = join(t.dir, 'hub.db');
      await rawExec(file, 'PRAGMA auto_vacuum = NONE; VACUUM;');
      expect((await rawGet<{ auto_vacuum: number }>(file, 'PRAGMA auto_vacuum')).auto_vacuum).toBe(0);
      h = await inProcessHub({ dataDir: t.dir, retention: { schedule: { firstMs: 3_600_000 } } });
      hubs.push({ ...h, stop: () => h.hub.stop() });
      expect(await autoVacuumMode(h.hub.ctx.db)).toBe(2);
      expect(await count(h.hub.ctx.db, "SELECT count(*) AS n FROM records WHERE agent = 'box-old'")).toBe(
        300,
      );
    } finally {
      for (const h of hubs.splice(0)) await h.stop();
      t.remove();
    }
  });
});

describe('classroom-hub retention run', () => {
  const t = tempDir('hub-retention-cli-');
  afterAll(() => t.remove());

  it('runs a pass beside the running hub and prints what it deleted per table', async () => {
    const hub = await spawnHub(t.dir);
    try {
      const h = {
        api: (await import('./core-helpers.js')).apiFor(hub.httpPort, TOKEN),
        mqttUrl: `mqtt://127.0.0.1:${hub.mqttPort}`,
      } as InProcessHub;
      await boxSends(h, 'box-cli', [
        ...range(1, 20).map((s) => capture(s, now - 50 * DAY + s * 10_000)),
        ...range(21, 30).map((s) => capture(s, now - DAY + s * 10_000)),
      ]);
      const { stdout } = await run(process.execPath, [BIN, 'retention', 'run', '--data-dir', t.dir], {
        env: { ...process.env, CLASSROOM_HUB_RETAIN_RECORDS_DAYS: '30' },
      });
      const out = JSON.parse(stdout) as {
        policy: { recordsDays: number };
        deleted: { records: { capture: number; event: number }; dead_letters: number };
      };
      expect(out.policy.recordsDays).toBe(30);
      expect(out.deleted.records).toEqual({ capture: 20, event: 0 });
      expect(out.deleted.dead_letters).toBe(0);
      // The flag wins over the environment; the hub keeps serving what is left.
      const again = JSON.parse(
        (
          await run(
            process.execPath,
            [BIN, 'retention', 'run', '--data-dir', t.dir, '--retain-records-days', '0.5'],
            {
              env: { ...process.env, CLASSROOM_HUB_RETAIN_RECORDS_DAYS: '30' },
            },
          )
        ).stdout,
      ) as { deleted: { records: { capture: number } } };
      expect(again.deleted.records.capture).toBe(10);
      const health = await h.api<{ status: string }>('GET', '/api/health');
      expect(health.body.status).toBe('ok');
      const bad = await run(process.execPath, [
        BIN,
        'retention',
        'run',
        '--data-dir',
        t.dir,
        '--retain-events-days',
        'x',
      ]).catch((e: { code: number; stderr: string }) => e);
      expect((bad as { code: number }).code).toBe(1);
      expect((bad as { stderr: string }).stderr).toMatch(/--retain-events-days must be a number of days/);
    } finally {
      await hub.terminate();
    }
  });
});

describe('the retention schedule', () => {
  it('runs its first pass after firstMs and then every everyMs of the injected clock', async () => {
    const { RetentionModule } = await import('../src/retention/module.js');
    const { SqliteDb } = await import('../src/store/sqlite.js');
    const { migrateCore } = await import('../src/store/schema.js');
    const pino = (await import('pino')).default;
    const t = tempDir('hub-retention-clock-');
    const db = new SqliteDb(join(t.dir, 'hub.db'));
    await db.open();
    await migrateCore(db);
    // A manual clock: timers fire only when the test says so, at the time it says.
    let clockNow = now;
    const timers: Array<{ at: number; fn: () => void }> = [];
    const clock = {
      now: () => clockNow,
      setTimeout: (fn: () => void, ms: number) => {
        const t0 = { at: clockNow + ms, fn };
        timers.push(t0);
        return { unref() {} } as unknown as NodeJS.Timeout;
      },
      clearTimeout: () => undefined,
      setInterval: () => ({}) as NodeJS.Timeout,
      clearInterval: () => undefined,
    };
    const passes: number[] = [];
    const m = new RetentionModule({
      log: pino({ level: 'silent' }),
      clock,
      db,
      policy: { ...DEFAULT_RETENTION, deadLettersDays: 1 },
      file: join(t.dir, 'hub.db'),
      schedule: { firstMs: 60_000, everyMs: 3_600_000 },
      onPass: (r) => passes.push(r.deleted.dead_letters),
    });
    /** Advances the clock to the next timer and fires it (the pass's own pauses included). */
    const fireNext = () => {
      timers.sort((a, b) => a.at - b.at);
      const next = timers.shift();
      if (!next) return false;
      clockNow = Math.max(clockNow, next.at);
      next.fn();
      return true;
    };
    try {
      await m.start();
      expect(timers.map((x) => x.at - now)).toEqual([60_000]);
      await db.run(
        'INSERT INTO dead_letters (ts, reason, detail, topic, agent, size, payload, encoding) VALUES (?,?,?,?,?,?,?,?)',
        [now - 2 * DAY, 'bad_json', '', 't', null, 1, '{', 'utf8'],
      );
      fireNext();
      await waitFor('first pass', () => passes.length === 1 || (fireNext() && false));
      expect(passes).toEqual([1]);
      // The next pass is armed an hour of clock time after the first ran.
      await waitFor('re-armed', () => timers.some((x) => x.at >= now + 60_000 + 3_600_000));
      await db.run(
        'INSERT INTO dead_letters (ts, reason, detail, topic, agent, size, payload, encoding) VALUES (?,?,?,?,?,?,?,?)',
        [clockNow - 2 * DAY, 'bad_json', '', 't', null, 1, '{', 'utf8'],
      );
      fireNext();
      await waitFor('second pass', () => passes.length === 2 || (fireNext() && false));
      expect(passes).toEqual([1, 1]);
    } finally {
      await m.stop();
      await db.close();
      t.remove();
    }
  });
});
