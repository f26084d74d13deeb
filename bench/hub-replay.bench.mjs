// Replay storm (DESIGN.md "Delivery": a replay is sent in batches and fast; BENCHMARKS.md "Replay storm"): 100 boxes each replay 2,000 records in batches of 100 (historical), as fast
// as the hub acks them. Baseline in the same run: raw sqlite3 writing the same rows, batch by batch,
// with INSERT OR IGNORE in one transaction per batch, into the same schema with the same pragmas.
// Loopback; the hub runs in this process with the MQTT.js clients.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { insertSql, migrateCore, SqliteDb, startHub } from '@classroom/hub';
import sqlite3 from 'sqlite3';
import { captureRecord, connectBoxes } from './lib/hub-boxes.mjs';

const BOXES = Number(process.env.BENCH_REPLAY_BOXES ?? 100);
const PER_BOX = Number(process.env.BENCH_REPLAY_RECORDS ?? 2000);
const BATCH = 100;
const WINDOW = 4; // batches in flight per box, as an agent's replay would pipeline
const TOKEN = 'bench-admin-token-0123456789';
const TOTAL = BOXES * PER_BOX;

const batches = []; // [box, records[]]
for (let b = 0; b < BOXES; b++) {
  for (let i = 0; i < PER_BOX; i += BATCH) {
    batches.push([b, Array.from({ length: BATCH }, (_, k) => captureRecord(i + k + 1))]);
  }
}

function exec(db, sql) {
  return new Promise((res, rej) => db.exec(sql, (e) => (e ? rej(e) : res())));
}

async function rawSqlite() {
  const dir = mkdtempSync(join(tmpdir(), 'bench-raw-'));
  const file = join(dir, 'raw.db');
  const setup = new SqliteDb(file);
  await setup.open();
  await migrateCore(setup);
  await setup.close();
  const db = await new Promise((res, rej) => {
    const d = new sqlite3.Database(file, (e) => (e ? rej(e) : res(d)));
  });
  await exec(db, 'PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;');
  const sql = insertSql(BATCH).replace(' RETURNING agent, seq', '');
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
  for (const p of params) {
    await exec(db, 'BEGIN');
    await new Promise((res, rej) => db.run(sql, p, (e) => (e ? rej(e) : res())));
    await exec(db, 'COMMIT');
  }
  const ms = performance.now() - t0;
  await new Promise((r) => db.close(r));
  rmSync(dir, { recursive: true, force: true });
  return (TOTAL / ms) * 1000;
}

async function hub(features) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-hub-replay-'));
  const h = await startHub({
    dataDir: dir,
    httpPort: 0,
    mqttPort: 0,
    adminToken: TOKEN,
    logLevel: 'silent',
    features,
  });
  const clients = await connectBoxes(h, TOKEN, BOXES);
  const payloads = new Map();
  for (const [b, recs] of batches) {
    if (!payloads.has(b)) payloads.set(b, []);
    payloads.get(b).push({
      last: recs.at(-1).seq,
      text: JSON.stringify({ v: 1, session: 1, historical: true, records: recs }),
    });
  }
  const t0 = performance.now();
  await Promise.all(
    clients.map(
      (c, b) =>
        new Promise((resolve) => {
          const queue = payloads.get(b);
          let next = 0;
          let acked = 0;
          const send = () => {
            const p = queue[next++];
            c.publish(`classroom/v1/box-${b}/records`, p.text, { qos: 1 });
          };
          c.on('message', (_t, payload) => {
            const { ranges } = JSON.parse(payload.toString());
            for (const [a, z] of ranges) acked += z - a + 1;
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

const raw = await rawSqlite();
const core = await hub(false);
const full = await hub(true);
console.log(
  `Replay storm: ${BOXES} boxes × ${PER_BOX} records, batches of ${BATCH}, ${WINDOW} batches in flight per box (loopback, shared loaded 2-core machine).\n`,
);
console.log('| path | records/s | ratio vs raw sqlite3 |');
console.log('|---|---:|---:|');
console.log(
  `| raw sqlite3: INSERT OR IGNORE, one transaction per batch of ${BATCH} | ${raw.toFixed(0)} | 1.00 |`,
);
console.log(
  `| hub core (MQTT + validate + dedupe + group commit + ack after commit) | ${core.toFixed(0)} | ${(core / raw).toFixed(2)} |`,
);
console.log(
  `| hub with every feature module (alarms, rollups, stream, …) | ${full.toFixed(0)} | ${(full / raw).toFixed(2)} |`,
);
console.log('\n(target ≥ 0.7×; every record was stored exactly once in both hub runs)');
process.exit(0);
