// Retention off the ingest path (docs/hub.md "Retention"): live ingest while a retention pass deletes a
// large backlog of expired records, against live ingest without a pass, same hub, same run. Boxes send
// one record per message and wait for its ack (as in hub-live). Target: ≥ 0.8× during the pass.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHub } from '@classroom/hub';
import { drive, fillRecords, liveSenders, provisionBoxes } from './lib/store-fill.mjs';

const BOXES = Number(process.env.BENCH_BOXES ?? 200);
const OLD = Number(process.env.BENCH_OLD_RECORDS ?? 1_000_000);
const MEASURE_MS = Number(process.env.BENCH_MEASURE_MS ?? 8000);
const TOKEN = 'bench-admin-token-0123456789';
const DAY = 86_400_000;

const dir = mkdtempSync(join(tmpdir(), 'bench-retention-'));
const hub = await startHub({
  dataDir: dir,
  httpPort: 0,
  mqttPort: 0,
  adminToken: TOKEN,
  logLevel: 'silent',
  retention: { schedule: { firstMs: 10 * DAY } }, // only the pass this bench starts
});
const boxes = await provisionBoxes(hub, TOKEN, BOXES);
// The expired backlog: 100 agents, 200 to 400 days old (past the 180-day default).
const now = Date.now();
const agents = Array.from({ length: 100 }, (_, i) => ({ agent: `old-${i}`, room: `R${i}` }));
const t0 = performance.now();
await fillRecords(hub.ctx.db, {
  agents,
  perAgent: Math.ceil(OLD / agents.length),
  fromTs: now - 400 * DAY,
  toTs: now - 200 * DAY,
});
const fillS = (performance.now() - t0) / 1000;
await hub.ctx.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
const file = join(dir, 'hub.db');
const sizeBefore = statSync(file).size;
const live = await liveSenders(boxes, 0);

// Warm-up, not counted: the first seconds after 200 boxes connect carry JIT, session set-up and the
// hub's start-up jobs over the filled backlog, which no later phase pays.
const warm = await drive(live.steps, { measureMs: MEASURE_MS });
const before = await drive(live.steps, { measureMs: MEASURE_MS });
let passDone = false;
const passStarted = performance.now();
const pass = hub.retention.runNow().then((r) => {
  passDone = true;
  return r;
});
const during = await drive(live.steps, { measureMs: MEASURE_MS, until: pass });
const passWasRunning = !passDone;
const report = await pass;
const passS = (performance.now() - passStarted) / 1000;
const after = await drive(live.steps, { measureMs: MEASURE_MS });
live.close();
const sizeAfter = statSync(file).size;
await hub.stop();
rmSync(dir, { recursive: true, force: true });

const without = (before.rate + after.rate) / 2;
const deleted = report.deleted.records.capture + report.deleted.records.event;
const fmt = (n, d = 0) => n.toFixed(d);
console.log(
  `Retention pass under live ingest: ${BOXES} boxes, 1 record per message, one in flight per box; ${deleted} expired records (${fmt(OLD / 1e6, 1)} M filled in ${fmt(fillS)} s) deleted by one pass; loopback, shared loaded 2-core machine.\n`,
);
console.log('| phase | records/s | ack p99, ms | ack max, ms | measured, s |');
console.log('|---|---:|---:|---:|---:|');
console.log(
  `| warm-up (not counted) | ${fmt(warm.rate)} | ${fmt(warm.ackP99, 1)} | ${fmt(warm.ackMax, 1)} | ${fmt(warm.elapsedMs / 1000, 1)} |`,
);
console.log(
  `| no pass (before) | ${fmt(before.rate)} | ${fmt(before.ackP99, 1)} | ${fmt(before.ackMax, 1)} | ${fmt(before.elapsedMs / 1000, 1)} |`,
);
console.log(
  `| during the pass | ${fmt(during.rate)} | ${fmt(during.ackP99, 1)} | ${fmt(during.ackMax, 1)} | ${fmt(during.elapsedMs / 1000, 1)} |`,
);
console.log(
  `| no pass (after) | ${fmt(after.rate)} | ${fmt(after.ackP99, 1)} | ${fmt(after.ackMax, 1)} | ${fmt(after.elapsedMs / 1000, 1)} |`,
);
console.log(
  `\nDuring the pass / without (mean of before and after): **${fmt(during.rate / without, 2)}×** (target ≥ 0.8×); against before alone ${fmt(during.rate / before.rate, 2)}×, after alone ${fmt(during.rate / after.rate, 2)}×${passWasRunning ? '' : ' — the pass ended inside the window'}.`,
);
console.log(
  `Pass: ${fmt(passS, 1)} s, ${deleted} records deleted (${fmt(deleted / passS)} /s) in batches of 500, ${report.vacuum?.pages ?? 0} pages vacuumed; hub.db ${fmt(sizeBefore / 1e6)} MB → ${fmt(sizeAfter / 1e6)} MB.`,
);
process.exit(0);
