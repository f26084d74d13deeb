#!/usr/bin/env node
// Writes the upgrade fixtures of one release (docs/operations.md "Upgrade"): the databases that
// release's own code wrote, as SQL text, for the upgrade tests of the next releases to migrate.
//
//   git checkout v0.1.0 && npm install && npx tsc -b
//   node scripts/upgrade-fixtures.mjs --out test/fixtures/upgrade/0.1.0
//
// It runs the built hub (dist/) of the checked-out release on SQLite and on a throwaway PostgreSQL,
// drives it through its real MQTT and HTTP interfaces (agents, records, events and the alarms they
// raise, a dead letter, commands and their results, a remote config, a webhook target that is down,
// a timetable, a maintenance flag, an acked alarm), stops it, and dumps the store: `sqlite3 .dump`
// and `pg_dump --inserts`. It also runs the agent offline until its outbox holds windows and dumps
// agent.db. Needs the sqlite3 CLI, Debian's PostgreSQL server binaries and ffmpeg.
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt from 'mqtt';
import pg from 'pg';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const args = process.argv.slice(2);
const outArg = args.indexOf('--out');
if (outArg < 0 || !args[outArg + 1]) {
  console.error('Usage: node scripts/upgrade-fixtures.mjs --out DIR');
  process.exit(2);
}
const OUT = resolve(args[outArg + 1]);
const TOKEN = 'fixture-admin-token-0123456789';
const log = (m) => process.stderr.write(`[upgrade-fixtures] ${m}\n`);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what, fn, ms = 30_000) {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out: ${what}`);
    await sleep(100);
  }
}
function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

const ROOMS = { 'box-a101': 'A101', 'box-a102': 'A102', 'box-b201': 'B201' };
/** A fixed, whole-hour base time, so the fixture's rollup buckets are whole. */
const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 6 * 3_600_000;

function birth(agent, session) {
  const room = ROOMS[agent];
  return {
    v: 1,
    session,
    ts: Date.now(),
    agentVersion: '0.1.0',
    room: { id: room, name: `Room ${room}`, building: room[0], floor: room[1], campus: 'North' },
    sources: [
      {
        id: 'cam',
        kind: 'camera',
        label: 'Front camera',
        probe: { codec: 'h264', width: 1280, height: 720, fps: 25 },
      },
      { id: 'mic', kind: 'microphone', label: 'Ceiling mic', probe: { sampleRate: 48000, channels: 1 } },
    ],
    configVersion: 0,
    telemetryIntervalS: 30,
  };
}

function capture(seq, source, start) {
  const r = { seq, kind: 'capture', source, start, end: start + 10_000 };
  if (source === 'cam') {
    r.video = {
      fps: 25,
      width: 1280,
      height: 720,
      keyframes: 5,
      bitrateKbps: 2000 + seq,
      blackRatio: 0,
      frozenRatio: 0,
      motion: 0.12,
    };
    r.audio = { rmsDb: -32.5, peakDb: -8.1, loudnessLufs: -28.4, silenceRatio: 0.1 };
    r.occupancy = { people: 12 + (seq % 5), peak: 18, samples: 2 };
  } else {
    r.audio = { rmsDb: -40 + (seq % 7), peakDb: -12, loudnessLufs: -35.2, silenceRatio: 0.3 };
  }
  return r;
}

async function driveHub(hubOptions) {
  process.env.CLASSROOM_HUB_ALARM_RAISE_S = '1';
  process.env.CLASSROOM_HUB_ALARM_CLEAR_S = '1';
  const { startHub } = await import(join(ROOT, 'hub/dist/app.js'));
  const hub = await startHub({
    host: '127.0.0.1',
    httpPort: 0,
    mqttPort: 0,
    adminToken: TOKEN,
    logLevel: 'silent',
    ...hubOptions,
  });
  const api = async (method, path, body) => {
    const res = await fetch(`http://127.0.0.1:${hub.httpPort}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const clients = [];
  try {
    await api('POST', '/api/accounts', { account: 'tsp', role: 'platform' });
    for (const [agent, room] of Object.entries(ROOMS)) {
      const { password } = await api('POST', '/api/agents', { agent, room, name: `Room ${room}` });
      const c = mqtt.connect(`mqtt://127.0.0.1:${hub.mqttPort}`, {
        clientId: agent,
        username: agent,
        password,
        reconnectPeriod: 0,
        will: {
          topic: `classroom/v1/${agent}/state`,
          payload: JSON.stringify({ v: 1, state: 'lost', session: 3, ts: Date.now() }),
          qos: 1,
          retain: true,
        },
      });
      await new Promise((res, rej) => {
        c.once('connect', res);
        c.once('error', rej);
      });
      clients.push([agent, c]);
      const acked = new Set();
      c.on('message', (topic, payload) => {
        const m = JSON.parse(payload.toString());
        if (topic.endsWith('/ack')) for (const [a, b] of m.ranges) for (let s = a; s <= b; s++) acked.add(s);
        if (topic.endsWith('/cmd')) {
          const answer =
            m.name === 'restart-source'
              ? { status: 'error', error: 'no such source: tv' }
              : { status: 'ok', data: { reborn: true } };
          c.publish(
            `classroom/v1/${agent}/cmd/result`,
            JSON.stringify({ v: 1, id: m.id, status: 'accepted' }),
            { qos: 1 },
          );
          c.publish(`classroom/v1/${agent}/cmd/result`, JSON.stringify({ v: 1, id: m.id, ...answer }), {
            qos: 1,
          });
        }
      });
      await c.subscribeAsync(
        [`classroom/v1/${agent}/ack`, `classroom/v1/${agent}/cmd`, `classroom/v1/${agent}/config`],
        { qos: 1 },
      );
      const pub = (leaf, body, opts = { qos: 1 }) =>
        c.publishAsync(`classroom/v1/${agent}/${leaf}`, JSON.stringify({ v: 1, ...body }), opts);
      await pub('state', { state: 'online', session: 3, ts: Date.now() }, { qos: 1, retain: true });
      await pub('birth', birth(agent, 3));
      await pub(
        'telemetry',
        {
          session: 3,
          ts: Date.now(),
          cpuLoad: 0.21,
          memUsedBytes: 2e8,
          memTotalBytes: 2e9,
          diskFreeBytes: 5e10,
          diskTotalBytes: 6.4e10,
          temperatureC: 48.5,
          uptimeS: 86_400,
          clockOffsetMs: 3,
          outboxPending: 0,
        },
        { qos: 0 },
      );
      // A replay of yesterday's windows (historical), then live ones, in seq order.
      let seq = 0;
      const records = [];
      for (let i = 0; i < 30; i++) {
        records.push(capture(++seq, 'cam', T0 + i * 10_000), capture(++seq, 'mic', T0 + i * 10_000));
      }
      await pub('records', { session: 3, historical: true, records: records.slice(0, 40) });
      await pub('records', { session: 3, records: records.slice(40) });
      const events = [
        {
          seq: ++seq,
          kind: 'event',
          source: 'cam',
          ts: Date.now(),
          type: 'video.black.start',
          detail: { blackRatio: 0.99 },
        },
      ];
      if (agent !== 'box-a101')
        events.push({
          seq: ++seq,
          kind: 'event',
          source: 'mic',
          ts: Date.now(),
          type: 'audio.silence.start',
          detail: {},
        });
      await pub('records', { session: 3, records: events });
      await waitFor(`${agent} acks`, async () => acked.size === seq);
      clients[clients.length - 1].push(pub, () => seq, acked);
    }
    // Malformed input: dead-lettered with its reason.
    await clients[0][1].publishAsync('classroom/v1/box-a101/records', 'not json at all', { qos: 1 });
    await clients[0][1].publishAsync(
      'classroom/v1/box-a101/records',
      JSON.stringify({ v: 1, session: 3, records: [{ seq: 'x' }] }),
      { qos: 1 },
    );
    await waitFor(
      'alarms raised',
      async () => (await api('GET', '/api/alarms?state=active')).alarms?.length >= 5,
    );
    // One alarm clears (its condition ends), one is acknowledged.
    const [, , pubB, seqB, ackedB] = clients[2];
    const end = seqB() + 1;
    await pubB('records', {
      session: 3,
      records: [
        { seq: end, kind: 'event', source: 'cam', ts: Date.now(), type: 'video.black.end', detail: {} },
      ],
    });
    await waitFor('end acked', async () => ackedB.has(end));
    const active = (await api('GET', '/api/alarms?state=active')).alarms;
    await api('POST', `/api/alarms/${active[0].id}/ack`, { who: 'duty-officer', note: 'camera cap on' });
    await waitFor(
      'alarm cleared',
      async () => (await api('GET', '/api/alarms?state=cleared')).alarms?.length >= 1,
      20_000,
    );
    // Commands with results, a remote config, a webhook whose target is down, a timetable, maintenance.
    const ok = await api('POST', '/api/agents/box-a101/commands', { name: 'rebirth' });
    const bad = await api('POST', '/api/agents/box-a102/commands', {
      name: 'restart-source',
      args: { source: 'tv' },
    });
    await waitFor(
      'command results',
      async () =>
        (await api('GET', `/api/commands/${ok.id}`)).status === 'ok' &&
        (await api('GET', `/api/commands/${bad.id}`)).status === 'error',
    );
    await api('PUT', '/api/agents/box-a101/config', {
      windowS: 10,
      telemetryIntervalS: 60,
      thresholds: { silenceDb: -45 },
    });
    await api('POST', '/api/webhooks', {
      url: 'http://127.0.0.1:9/classroom-hook',
      secret: 'fixture-webhook-secret',
    });
    const day = new Date(T0).toISOString().slice(0, 10);
    await api('PUT', '/api/rooms/A101/schedule', {
      format: 'csv',
      content: `date,start,end,title\n${day},08:00,08:45,Physics\n${day},09:00,09:45,Maths\n`,
    });
    await api('PUT', '/api/rooms/B201/maintenance', { on: true, who: 'facilities', note: 'projector swap' });
    // One box stops cleanly, the others drop (their wills say lost).
    await clients[0][2]('state', { state: 'offline', session: 3, ts: Date.now() }, { qos: 1, retain: true });
    for (const [, c] of clients) c.end(true);
    await sleep(500);
  } finally {
    for (const [, c] of clients) c.end(true);
    await hub.stop();
  }
}

async function startPostgres() {
  const base = '/usr/lib/postgresql';
  const v = readdirSync(base)
    .filter((d) => existsSync(join(base, d, 'bin/postgres')))
    .sort((a, b) => b - a)[0];
  const BIN = join(base, v, 'bin');
  const asRoot = process.getuid() === 0;
  const as = (cmd) => (asRoot ? ['runuser', ['-u', 'postgres', '--', ...cmd]] : [cmd[0], cmd.slice(1)]);
  const dir = mkdtempSync(join(tmpdir(), 'fixture-pg-'));
  if (asRoot)
    chownSync(
      dir,
      Number(execFileSync('id', ['-u', 'postgres'])),
      Number(execFileSync('id', ['-g', 'postgres'])),
    );
  execFileSync(
    ...as([
      `${BIN}/initdb`,
      '-D',
      `${dir}/data`,
      '-U',
      'postgres',
      '--auth=trust',
      '-E',
      'UTF8',
      '--no-sync',
    ]),
    { stdio: 'ignore' },
  );
  const port = await freePort();
  const p = spawn(
    ...as([`${BIN}/postgres`, '-D', `${dir}/data`, '-h', '127.0.0.1', '-p', String(port), '-k', dir]),
    { stdio: 'ignore', detached: true },
  );
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await waitFor('postgres', async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.end();
    return true;
  });
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query('CREATE DATABASE classroom');
  await c.end();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/classroom`,
    port,
    BIN,
    async stop() {
      process.kill(-p.pid, 'SIGINT');
      await new Promise((r) => p.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function agentOutbox(dir) {
  const port = await freePort(); // nobody listens: the agent stays offline and buffers
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'agent.json');
  writeFileSync(
    config,
    JSON.stringify({
      agent: 'box-a101',
      room: { id: 'A101', name: 'Room A101', building: 'A', floor: '1', campus: 'North' },
      broker: { url: `mqtt://127.0.0.1:${port}`, username: 'box-a101', password: 'fixture' },
      dataDir: join(dir, 'data'),
      sources: [{ id: 'cam', kind: 'camera', input: 'lavfi:testsrc2=s=160x90:r=5' }],
      windowS: 1,
    }),
  );
  const a = spawn(process.execPath, [join(ROOT, 'agent/bin/classroom-agent.js'), '--config', config], {
    stdio: 'ignore',
  });
  const { openAgentDb, rememberCommand } = await import(join(ROOT, 'agent/dist/store/agent-db.js'));
  await sleep(12_000);
  a.kill('SIGTERM');
  await new Promise((r) => a.once('exit', r));
  const db = await openAgentDb(join(dir, 'data'));
  await rememberCommand(db, 'cmd-fixture-1', Date.now());
  await rememberCommand(db, 'cmd-fixture-2', Date.now());
  await db.close();
  return join(dir, 'data/agent.db');
}

const work = mkdtempSync(join(tmpdir(), 'upgrade-fixtures-'));
mkdirSync(OUT, { recursive: true });
try {
  log('hub on SQLite');
  await driveHub({ dataDir: join(work, 'sqlite') });
  writeFileSync(
    join(OUT, 'hub-sqlite.sql'),
    execFileSync('sqlite3', [join(work, 'sqlite/hub.db'), '.dump'], { maxBuffer: 1 << 28 }),
  );
  log('hub on PostgreSQL');
  const pgs = await startPostgres();
  try {
    await driveHub({ dataDir: join(work, 'pg'), database: pgs.url });
    const dump = execFileSync(
      `${pgs.BIN}/pg_dump`,
      ['--inserts', '--no-owner', '--no-privileges', '--no-comments', pgs.url],
      { maxBuffer: 1 << 28 },
    );
    // pg_dump ≥ 15.14 wraps the dump in psql-only \restrict lines; the fixture is plain SQL.
    const plain = dump
      .toString()
      .split('\n')
      .filter((l) => !/^\\(un)?restrict /.test(l))
      .join('\n');
    writeFileSync(join(OUT, 'hub-postgres.sql'), plain);
  } finally {
    await pgs.stop();
  }
  log('agent outbox');
  const agentDb = await agentOutbox(join(work, 'agent'));
  writeFileSync(join(OUT, 'agent-sqlite.sql'), execFileSync('sqlite3', [agentDb, '.dump']));
  log(`wrote ${OUT}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exit(0);
