// Live ingest (docs/hub-perf.md; BENCHMARKS.md "Live ingest"): 300 boxes each send 1-record messages, one at a time; a box sends its next
// record only when the hub's ack (published after the commit) arrived. Baseline in the same run: bare
// aedes (no auth, no store) passing the same QoS 1 messages through to one subscriber, each box waiting
// for its PUBACK. Both run in this process with the same MQTT.js clients, on loopback.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHub } from '@classroom/hub';
import { Aedes } from 'aedes';
import { captureRecord, connectBoxes, connectClient } from './lib/hub-boxes.mjs';

const BOXES = Number(process.env.BENCH_BOXES ?? 300);
const MEASURE_MS = Number(process.env.BENCH_MEASURE_MS ?? 8000);
const WARMUP_MS = 1000;
const TOKEN = 'bench-admin-token-0123456789';

const message = (seq) => JSON.stringify({ v: 1, session: 1, records: [captureRecord(seq)] });

/** Runs `loop(i)` for every box until the deadline; counts completed records inside the window. */
async function drive(loops) {
  let counting = false;
  let count = 0;
  let stop = false;
  const runners = loops.map(async (step) => {
    while (!stop) {
      await step();
      if (counting) count++;
    }
  });
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  counting = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, MEASURE_MS));
  counting = false;
  const elapsed = performance.now() - t0;
  stop = true;
  await Promise.all(runners);
  return (count / elapsed) * 1000;
}

async function bareAedes() {
  const broker = await Aedes.createBroker({ concurrency: 0 });
  // TCP_NODELAY like the hub's listener, so that both brokers run with the same socket options.
  const server = createServer({ noDelay: true }, broker.handle);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `mqtt://127.0.0.1:${server.address().port}`;
  const sub = await connectClient(url, { clientId: 'subscriber' });
  let received = 0;
  sub.on('message', () => received++);
  await sub.subscribeAsync('classroom/v1/+/records', { qos: 1 });
  const boxes = [];
  for (let i = 0; i < BOXES; i++) boxes.push(await connectClient(url, { clientId: `box-${i}` }));
  const rate = await drive(
    boxes.map((c, i) => {
      let seq = 0;
      return () => c.publishAsync(`classroom/v1/box-${i}/records`, message(++seq), { qos: 1 });
    }),
  );
  for (const c of [...boxes, sub]) c.end(true);
  await new Promise((r) => broker.close(r));
  server.close();
  return { rate, received };
}

async function hub(features) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-hub-live-'));
  const h = await startHub({
    dataDir: dir,
    httpPort: 0,
    mqttPort: 0,
    adminToken: TOKEN,
    logLevel: 'silent',
    features,
  });
  const boxes = await connectBoxes(h, TOKEN, BOXES);
  const rate = await drive(
    boxes.map((c, i) => {
      let seq = 0;
      let waiting = null;
      c.on('message', (_t, payload) => {
        const { ranges } = JSON.parse(payload.toString());
        if (waiting && ranges.some(([a, b]) => a <= waiting.seq && waiting.seq <= b)) waiting.resolve();
      });
      return () =>
        new Promise((resolve) => {
          waiting = { seq: ++seq, resolve };
          c.publish(`classroom/v1/box-${i}/records`, message(seq), { qos: 1 });
        });
    }),
  );
  const stored = await h.ctx.db.get('SELECT COUNT(*) AS n FROM records');
  for (const c of boxes) c.end(true);
  await h.stop();
  rmSync(dir, { recursive: true, force: true });
  return { rate, stored: stored.n };
}

const base = await bareAedes();
const core = await hub(false);
const live = await hub(true);
console.log(
  `Live ingest: ${BOXES} boxes, 1 record per message, one in flight per box; ${MEASURE_MS / 1000} s measured after ${WARMUP_MS / 1000} s warm-up (loopback, shared loaded 2-core machine).\n`,
);
console.log('| path | records/s | ratio vs bare aedes |');
console.log('|---|---:|---:|');
console.log(
  `| bare aedes QoS 1 pass-through to 1 subscriber (wait PUBACK) | ${base.rate.toFixed(0)} | 1.00 |`,
);
console.log(
  `| hub core: auth + ACL + validate + group commit + ack after commit (wait ack) | ${core.rate.toFixed(0)} | ${(core.rate / base.rate).toFixed(2)} |`,
);
console.log(
  `| hub with every feature module (alarms, rollups, stream, …) | ${live.rate.toFixed(0)} | ${(live.rate / base.rate).toFixed(2)} |`,
);
console.log(`\n(records stored by the hub during the run: ${live.stored}; target ≥ 0.5×, ceiling ≈ 0.67×)`);
process.exit(0);
