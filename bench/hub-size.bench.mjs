// Size (docs/hub.md "Retention", BENCHMARKS.md): the same hub on an empty store and on a store holding a
// year of a 100-room campus (≥ 20 million records by default, compressed time: each room's camera and
// microphone windows spread evenly over 365 days, 1 % events), in the same run. Measures live ingest,
// p95 of the dashboard's room detail, a records page and a rollup query, bytes per record on disk, and
// a daily retention pass (the oldest day expires). The fill goes through the store's writer in
// batched INSERT … SELECT statements (minutes, not the hours MQTT would take).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHub } from '@classroom/hub';
import { drive, latency, liveSenders, provisionBoxes } from './lib/store-fill.mjs';

const RECORDS = Number(process.env.BENCH_SIZE_RECORDS ?? 20_000_000);
const ROOMS = 100;
const SLOTS = Math.ceil(RECORDS / ROOMS);
const MEASURE_MS = Number(process.env.BENCH_MEASURE_MS ?? 8000);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 200);
const TOKEN = 'bench-admin-token-0123456789';
const DAY = 86_400_000;
const YEAR = 365 * DAY;
const now = Date.now();
const from = now - YEAR;

const log = (m) => process.stderr.write(`hub-size: ${m}\n`);

async function fill(db) {
  const step = YEAR / SLOTS;
  const CHUNK = 500; // slots per statement: 50,000 rows
  const t0 = performance.now();
  for (let s0 = 0; s0 < SLOTS; s0 += CHUNK) {
    const s1 = Math.min(SLOTS, s0 + CHUNK) - 1;
    const ts = `CAST(${from} + k * ${step} AS INTEGER)`;
    await db.run(`WITH RECURSIVE a(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM a WHERE i < ${ROOMS - 1}),
      s(k) AS (SELECT ${s0} UNION ALL SELECT k + 1 FROM s WHERE k < ${s1})
      INSERT INTO records (agent, seq, kind, source, ts, end_ts, room, type, historical, received_at, body)
      SELECT 'box-' || i, k + 1,
        CASE WHEN (k + i) % 100 = 0 THEN 'event' ELSE 'capture' END,
        CASE WHEN (k + i) % 2 THEN 'mic' ELSE 'cam' END,
        ${ts}, CASE WHEN (k + i) % 100 = 0 THEN NULL ELSE ${ts} + 10000 END, 'R' || i,
        CASE WHEN (k + i) % 100 = 0 THEN 'video.black.start' END, 0, ${ts},
        CASE WHEN (k + i) % 100 = 0
          THEN printf('{"seq":%d,"kind":"event","source":"cam","ts":%d,"type":"video.black.start","detail":{}}', k + 1, ${ts})
          ELSE printf('{"seq":%d,"kind":"capture","source":"%s","start":%d,"end":%d,"video":{"fps":25,"width":1280,"height":720,"keyframes":5,"bitrateKbps":%d,"blackRatio":0,"frozenRatio":0,"motion":%.2f},"audio":{"rmsDb":%d,"peakDb":-10,"loudnessLufs":-28.4,"silenceRatio":%.1f}}',
            k + 1, CASE WHEN (k + i) % 2 THEN 'mic' ELSE 'cam' END, ${ts}, ${ts} + 10000, 1900 + (k + i) % 200,
            ((k + i) % 97) * 0.0103, -30 - (k + i) % 10, ((k + i) % 10) / 10.0)
        END
      FROM s, a ORDER BY k, i`);
    if ((s0 / CHUNK) % 20 === 0) {
      const done = Math.min(SLOTS, s0 + CHUNK) * ROOMS;
      const rate = done / ((performance.now() - t0) / 1000);
      log(
        `filled ${(done / 1e6).toFixed(1)} M of ${(RECORDS / 1e6).toFixed(1)} M records (${rate.toFixed(0)}/s)`,
      );
    }
  }
  // Hourly and daily rollups of the year, as the rollups module keeps them.
  for (let r = 0; r < ROOMS; r++) {
    for (const [bucket, width, n] of [
      ['hour', 3_600_000, 8760],
      ['day', DAY, 365],
    ]) {
      await db.run(`WITH RECURSIVE h(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM h WHERE j < ${n - 1})
        INSERT INTO rollups (room, bucket, start, online_ms, video_ms, video_ok_ms, audio_ms, audio_active_ms, capture_ms)
        SELECT 'R${r}', '${bucket}', ${Math.floor(from / width) * width} + j * ${width}, ${width}, ${width}, ${width}, ${width}, ${Math.floor(width / 2)}, ${width}
        FROM h`);
    }
  }
  await db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  return (performance.now() - t0) / 1000;
}

/** A hub on its own data dir with ROOMS boxes provisioned; `full` fills its store first. */
async function open(label, full) {
  const dir = mkdtempSync(join(tmpdir(), `bench-size-${label}-`));
  // The oldest day expires at 364 days, so the pass below is the daily steady state of a full store.
  const hub = await startHub({
    dataDir: dir,
    httpPort: 0,
    mqttPort: 0,
    adminToken: TOKEN,
    logLevel: 'silent',
    retention: { recordsDays: 364, eventsDays: 364, schedule: { firstMs: 10 * DAY } },
  });
  const boxes = await provisionBoxes(hub, TOKEN, ROOMS);
  const out = { label, hub, dir, records: 0, ingest: [], roomDetail: [], recordsPage: [], rollups: [] };
  if (full) {
    out.fillS = await fill(hub.ctx.db);
    out.records = (await hub.ctx.db.get('SELECT count(*) AS n FROM records')).n;
    out.bytes = statSync(join(dir, 'hub.db')).size;
    log(`filled ${out.records} records in ${out.fillS.toFixed(0)} s: ${(out.bytes / 1e9).toFixed(2)} GB`);
  }
  out.live = await liveSenders(boxes, SLOTS + 1);
  out.api = (path) =>
    fetch(`http://127.0.0.1:${hub.httpPort}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } }).then(
      async (r) => {
        if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
        return r.text();
      },
    );
  return out;
}

const room = (i) => `R${(i * 37) % ROOMS}`;
// Spread over the year so the page cache is not one hot spot.
const at = (i) => from + ((i * 7919) % 360) * DAY;
const QUERY_KINDS = {
  roomDetail: (i) => `/api/rooms/${room(i)}`,
  recordsPage: (i) => `/api/records?room=${room(i)}&from=${at(i)}&to=${at(i) + 7 * DAY}&limit=100`,
  rollups: (i) => `/api/rooms/${room(i)}/rollups?bucket=hour&from=${at(i)}&to=${at(i) + 7 * DAY}`,
};

// Both hubs stay up and are measured in alternation (empty, full, empty, full, …), so that the load of
// the shared machine, which drifts over minutes, falls on both alike.
const empty = await open('empty', false);
const full = await open('full', true);
const ROUNDS = 3;
// One round first that is not counted: JIT, first births and caches warm up both hubs alike.
for (const h of [empty, full]) {
  await drive(h.live.steps, { measureMs: 2000 });
  for (const path of Object.values(QUERY_KINDS)) await latency(10, (i) => h.api(path(i)));
}
for (let round = 0; round < ROUNDS; round++) {
  for (const h of round % 2 ? [full, empty] : [empty, full]) {
    h.ingest.push((await drive(h.live.steps, { measureMs: MEASURE_MS / ROUNDS })).rate);
  }
  for (const [kind, path] of Object.entries(QUERY_KINDS)) {
    for (const h of round % 2 ? [full, empty] : [empty, full]) {
      h[kind].push(await latency(Math.ceil(QUERIES / ROUNDS), (i) => h.api(path(i + round * QUERIES))));
    }
  }
}
for (const h of [empty, full]) {
  h.live.close();
  const t0 = performance.now();
  const report = await h.hub.retention.runNow();
  h.passS = (performance.now() - t0) / 1000;
  h.passDeleted = report.deleted.records.capture + report.deleted.records.event;
  h.passPages = report.vacuum?.pages ?? 0;
  await h.hub.stop();
  rmSync(h.dir, { recursive: true, force: true });
}
log(
  `ingest per round: empty ${empty.ingest.map((x) => x.toFixed(0)).join(', ')}; full ${full.ingest.map((x) => x.toFixed(0)).join(', ')}`,
);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const h of [empty, full]) {
  h.ingestRate = median(h.ingest);
  for (const kind of Object.keys(QUERY_KINDS)) h[kind] = { p95: median(h[kind].map((x) => x.p95)) };
}
empty.ingest = { rate: empty.ingestRate };
full.ingest = { rate: full.ingestRate };

const f = (n, d = 0) => n.toFixed(d);
console.log(
  `Store size: the same hub (every feature module on) on an empty store and on ${f(full.records / 1e6, 1)} M records (a year of ${ROOMS} rooms, camera + microphone, compressed time; filled in ${f(full.fillS)} s), same run, measured in ${ROUNDS} alternating rounds (medians); SQLite; ${ROOMS} live boxes, one record in flight each; ${QUERIES} queries each; loopback, shared loaded 2-core machine.\n`,
);
console.log('| measure | empty store | full store | full / empty |');
console.log('|---|---:|---:|---:|');
console.log(
  `| live ingest, records/s | ${f(empty.ingest.rate)} | ${f(full.ingest.rate)} | ${f(full.ingest.rate / empty.ingest.rate, 2)} |`,
);
for (const [name, k] of [
  ['room detail `GET /api/rooms/{room}` p95, ms', 'roomDetail'],
  ['records page `GET /api/records?room&from&to&limit=100` p95, ms', 'recordsPage'],
  ['rollups `GET /api/rooms/{room}/rollups?bucket=hour` (7 days) p95, ms', 'rollups'],
]) {
  console.log(
    `| ${name} | ${f(empty[k].p95, 1)} | ${f(full[k].p95, 1)} | ${f(full[k].p95 / empty[k].p95, 2)} |`,
  );
}
console.log(
  `| bytes per record on disk (hub.db, rollups included) | – | ${f(full.bytes / full.records)} | |`,
);
console.log(
  `| daily retention pass (oldest day expires), s | ${f(empty.passS, 2)} | ${f(full.passS, 1)} (${full.passDeleted} records, ${full.passPages} pages vacuumed) | |`,
);
process.exit(0);
