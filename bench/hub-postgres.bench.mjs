// Replay storm on PostgreSQL (`--database`): boxes replay records in batches of 100 as fast as the hub
// acks them, with the hub storing in PostgreSQL. Baselines in the same run, on the same throwaway
// PostgreSQL 15 (default durability settings): raw node-postgres writing the same rows, one
// multi-row INSERT … ON CONFLICT DO NOTHING per batch; and the same hub on its default SQLite store.
// Loopback only; PostgreSQL is started here as the `postgres` user (the bench must run as root).
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHub } from '@classroom/hub';
import pg from 'pg';
import { captureRecord, connectBoxes } from './lib/hub-boxes.mjs';

const BOXES = Number(process.env.BENCH_PG_BOXES ?? 50);
const PER_BOX = Number(process.env.BENCH_PG_RECORDS ?? 1000);
const BATCH = 100;
const WINDOW = 4;
const TOKEN = 'bench-admin-token-0123456789';
const TOTAL = BOXES * PER_BOX;
const PG_BASE = '/usr/lib/postgresql';
const PG_VERSION = readdirSync(PG_BASE)
  .filter((v) => existsSync(join(PG_BASE, v, 'bin', 'postgres')))
  .sort((a, b) => Number(b) - Number(a))[0];
const BIN = join(PG_BASE, PG_VERSION, 'bin');

const batches = [];
for (let b = 0; b < BOXES; b++) {
  for (let i = 0; i < PER_BOX; i += BATCH)
    batches.push([b, Array.from({ length: BATCH }, (_, k) => captureRecord(i + k + 1))]);
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startPostgres() {
  const root = mkdtempSync(join(tmpdir(), 'bench-pg-'));
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
  chownSync(root, uid, gid);
  const data = join(root, 'data');
  const as = (args) => ['-u', 'postgres', '--', ...args];
  execFileSync('runuser', as([`${BIN}/initdb`, '-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']), {
    stdio: 'ignore',
  });
  const port = await freePort();
  const proc = spawn(
    'runuser',
    as([`${BIN}/postgres`, '-D', data, '-h', '127.0.0.1', '-p', String(port), '-k', root]),
    {
      stdio: 'ignore',
      detached: true,
    },
  );
  const admin = `postgres://postgres@127.0.0.1:${port}/postgres`;
  for (let i = 0; ; i++) {
    const c = new pg.Client(admin);
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.end();
      break;
    } catch {
      if (i > 300) throw new Error('postgres did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  let n = 0;
  return {
    async database() {
      const name = `bench_${++n}`;
      const c = new pg.Client(admin);
      await c.connect();
      await c.query(`CREATE DATABASE ${name}`);
      await c.end();
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      const exited = new Promise((r) => proc.once('exit', r));
      process.kill(-proc.pid, 'SIGINT');
      await exited;
      rmSync(root, { recursive: true, force: true });
    },
  };
}

async function rawPg(url) {
  // Same schema as the hub's, created by the hub's own migrations.
  const dir = mkdtempSync(join(tmpdir(), 'bench-pg-raw-'));
  const h = await startHub({
    dataDir: dir,
    database: url,
    httpPort: 0,
    mqttPort: 0,
    adminToken: TOKEN,
    logLevel: 'silent',
    features: false,
  });
  await h.stop();
  rmSync(dir, { recursive: true, force: true });
  const c = new pg.Client(url);
  await c.connect();
  const marks = Array.from(
    { length: BATCH },
    (_, r) => `(${Array.from({ length: 11 }, (_, k) => `$${r * 11 + k + 1}`).join(',')})`,
  ).join(',');
  const sql = `INSERT INTO records (agent, seq, kind, source, ts, end_ts, room, type, historical, received_at, body) VALUES ${marks} ON CONFLICT DO NOTHING`;
  const now = Date.now();
  const params = batches.map(([b, recs]) =>
    recs.flatMap((r) => [
      `box-${b}`,
      r.seq,
      r.kind,
      r.source,
      r.start,
      r.end,
      `R${b}`,
      null,
      1,
      now,
      JSON.stringify(r),
    ]),
  );
  const t0 = performance.now();
  for (const p of params) await c.query(sql, p);
  const ms = performance.now() - t0;
  await c.end();
  return (TOTAL / ms) * 1000;
}

async function hub(database) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-pg-hub-'));
  const h = await startHub({
    dataDir: dir,
    database,
    httpPort: 0,
    mqttPort: 0,
    adminToken: TOKEN,
    logLevel: 'silent',
    features: false,
  });
  const clients = await connectBoxes(h, TOKEN, BOXES);
  const payloads = new Map();
  for (const [b, recs] of batches) {
    if (!payloads.has(b)) payloads.set(b, []);
    payloads.get(b).push(JSON.stringify({ v: 1, session: 1, historical: true, records: recs }));
  }
  const t0 = performance.now();
  await Promise.all(
    clients.map(
      (c, b) =>
        new Promise((resolve) => {
          const queue = payloads.get(b);
          let next = 0;
          let acked = 0;
          const send = () => c.publish(`classroom/v1/box-${b}/records`, queue[next++], { qos: 1 });
          c.on('message', (_t, payload) => {
            for (const [a, z] of JSON.parse(payload.toString()).ranges) acked += z - a + 1;
            if (acked >= PER_BOX) resolve();
            else if (next < queue.length) send();
          });
          for (let i = 0; i < WINDOW && next < queue.length; i++) send();
        }),
    ),
  );
  const ms = performance.now() - t0;
  const { n } = await h.ctx.db.get('SELECT COUNT(*) AS n FROM records');
  for (const c of clients) c.end(true);
  await h.stop();
  rmSync(dir, { recursive: true, force: true });
  if (n !== TOTAL) throw new Error(`hub stored ${n} records, expected ${TOTAL}`);
  return (TOTAL / ms) * 1000;
}

const server = await startPostgres();
try {
  const raw = await rawPg(await server.database());
  const onPg = await hub(await server.database());
  const onSqlite = await hub(null);
  console.log(
    `Replay storm on PostgreSQL ${PG_VERSION}: ${BOXES} boxes × ${PER_BOX} records, batches of ${BATCH}, ${WINDOW} in flight per box (loopback, shared loaded 2-core machine, PostgreSQL default durability).\n`,
  );
  console.log('| path | records/s | ratio vs raw node-postgres |');
  console.log('|---|---:|---:|');
  console.log(
    `| raw node-postgres: INSERT … ON CONFLICT DO NOTHING, ${BATCH} rows per statement | ${raw.toFixed(0)} | 1.00 |`,
  );
  console.log(
    `| hub core on PostgreSQL (MQTT + validate + dedupe + group commit + ack after commit) | ${onPg.toFixed(0)} | ${(onPg / raw).toFixed(2)} |`,
  );
  console.log(
    `| hub core on SQLite (default store), same run | ${onSqlite.toFixed(0)} | ${(onSqlite / raw).toFixed(2)} |`,
  );
  console.log('\n(every record was stored exactly once in both hub runs)');
} finally {
  await server.stop();
}
process.exit(0);
