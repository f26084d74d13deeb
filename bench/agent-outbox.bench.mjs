// Outbox drain after an outage (docs/agent.md "Benchmark"): buffer 100,000 records while the hub is down, start the
// hub, and time until every record is acked (committed by the hub). Baseline in the same run: the
// same records handed to MQTT.js's own offline store (clean: false, one record per message, as a
// naive agent would publish each window) and replayed by MQTT.js on reconnect, acked by the same hub.
// The baseline is bounded in time and extrapolated when it cannot finish.
//
// Real parts: a `classroom-hub serve` process (embedded aedes + SQLite, acks after commit), the
// built agent (`@classroom/agent`: outbox in SQLite with synchronous=FULL, windowed sender), loopback.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentApp, parseConfig } from '@classroom/agent';
import mqtt from 'mqtt';
import pino from 'pino';
import { addAgent, freeTcpPort, spawnHubProcess, stopGroup, waitFor } from './lib/box-processes.mjs';

const N = Number(process.env.BENCH_RECORDS ?? 100_000);
const BASELINE_BUDGET_MS = Number(process.env.BENCH_BASELINE_MS ?? 60_000);

// Polled every 20 ms: the drain and the hub's start-up are timed with these.
const wait = (fn, what, timeoutMs = 600_000) => waitFor(fn, what, timeoutMs, 20);

function windowRecord(i) {
  const start = 1_700_000_000_000 + i * 10_000;
  return {
    kind: 'capture',
    source: 'cam',
    start,
    end: start + 10_000,
    video: {
      fps: 25,
      width: 1920,
      height: 1080,
      keyframes: 10,
      bitrateKbps: 4000,
      blackRatio: 0,
      frozenRatio: 0,
      motion: 0.12,
    },
    audio: { rmsDb: -32.5, peakDb: -8.1, loudnessLufs: -30.2, silenceRatio: 0.05 },
  };
}

const hubDir = mkdtempSync(join(tmpdir(), 'bench-hub-'));
const agentDir = mkdtempSync(join(tmpdir(), 'bench-agent-'));
const port = await freeTcpPort();
const rows = [];
let hub = null;
try {
  const pwAgent = addAgent(hubDir, 'box-bench', 'B1');
  const pwBase = addAgent(hubDir, 'box-base', 'B1');

  // ---- ours: durable outbox + windowed replay ----------------------------------------------------
  const parsed = parseConfig({
    agent: 'box-bench',
    room: { id: 'B1' },
    broker: { url: `mqtt://127.0.0.1:${port}`, password: pwAgent, reconnectMinMs: 200, reconnectMaxMs: 500 },
    dataDir: agentDir,
    sources: [{ id: 'cam', kind: 'camera', input: 'bench' }],
    telemetryIntervalS: 3600,
  });
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  const app = new AgentApp({
    config: parsed.config,
    log: pino({ level: 'silent' }),
    ffmpeg: null,
    createMonitor: (source, ctx) => ({
      id: source.id,
      async start() {
        for (let i = 0; i < N; i++) ctx.onRecord(windowRecord(i));
      },
      async stop() {},
      async restart() {},
      async snapshot() {
        throw new Error('no frames in the benchmark');
      },
      async probe() {
        return { codec: 'h264' };
      },
      status: () => ({ id: source.id, state: 'running', since: 0, restarts: 0 }),
    }),
  });
  const tBuf = performance.now();
  await app.start();
  await wait(() => app.status().outbox.records === N, 'records buffered');
  const bufferMs = performance.now() - tBuf;

  hub = spawnHubProcess(hubDir, port, { everyMs: 20 });
  const tHub = performance.now();
  await hub.listening;
  const tListening = performance.now();
  await wait(() => app.status().connected, 'agent connected');
  const tConnected = performance.now();
  await wait(() => app.status().outbox.records === 0, 'all acked');
  const tDone = performance.now();
  await app.stop();
  const ourRate = N / ((tDone - tConnected) / 1000);
  rows.push([
    'durable outbox, windowed batches (ours)',
    N,
    ((tDone - tConnected) / 1000).toFixed(2),
    Math.round(ourRate).toLocaleString('en-US'),
    'measured',
  ]);

  // ---- baseline: MQTT.js offline store replay ----------------------------------------------------
  // The baseline client connects while the hub is up, then loses the hub (as a long-running agent
  // would) and queues every record in MQTT.js's offline store. It counts a record as acked at its
  // PUBACK: the hub's broker holds the PUBACK until ingest has committed the message, so this is
  // the same "committed by the hub" point as our app-level ack. (Counting app-level acks would
  // undercount: MQTT.js replays the store before its SUBSCRIBE, so early acks have no subscriber.)
  let acked = 0;
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
    clientId: 'box-base',
    username: 'box-base',
    password: pwBase,
    clean: false,
    reconnectPeriod: 200,
    keepalive: 10,
  });
  client.on('error', () => {});
  await wait(() => client.connected, 'baseline first connect', 60_000);
  await stopGroup(hub.child, 10_000);
  hub = null;
  await wait(() => !client.connected, 'baseline offline', 60_000);
  for (let i = 0; i < N; i++) {
    const record = { seq: i + 1, ...windowRecord(i) };
    client.publish(
      'classroom/v1/box-base/records',
      JSON.stringify({ v: 1, session: 1, records: [record] }),
      { qos: 1 },
      (err) => {
        if (!err) acked += 1;
      },
    );
  }
  hub = spawnHubProcess(hubDir, port, { everyMs: 20 });
  await hub.listening;
  await wait(() => client.connected, 'baseline connected', 60_000);
  const tBase = performance.now();
  let lastAcked = 0;
  let lastProgress = tBase;
  let tLastAck = tBase;
  await wait(
    () => {
      const now = performance.now();
      if (acked !== lastAcked) {
        lastAcked = acked;
        lastProgress = now;
        tLastAck = now;
      }
      return acked >= N || now - tBase > BASELINE_BUDGET_MS || now - lastProgress > 5000;
    },
    'baseline bound',
    BASELINE_BUDGET_MS + 60_000,
    50,
  );
  const stalled = acked < N && performance.now() - lastProgress > 5000;
  // The rate counts only the time during which acks still came in.
  const baseMs = (acked >= N || stalled ? tLastAck : performance.now()) - tBase;
  const baseRate = acked / (baseMs / 1000);
  client.end(true);
  let note = 'measured';
  if (stalled) {
    note = `stalled: no PUBACK for 5 s after ${acked.toLocaleString('en-US')} (MQTT.js packet ids are 16-bit): the rest was not delivered`;
  } else if (acked < N) {
    note = `bounded at ${BASELINE_BUDGET_MS / 1000} s; all ${N.toLocaleString('en-US')} would take ~${Math.round(N / baseRate).toLocaleString('en-US')} s`;
  }
  rows.push([
    'MQTT.js offline store replay (baseline)',
    acked,
    (baseMs / 1000).toFixed(2),
    Math.round(baseRate).toLocaleString('en-US'),
    note,
  ]);

  console.log(`### Agent outbox drain after an outage (${N.toLocaleString('en-US')} records)\n`);
  console.log(
    `Hub: a real \`classroom-hub serve\` process (embedded aedes, SQLite, acks after commit), loopback.`,
  );
  console.log(
    `Buffering ${N.toLocaleString('en-US')} records into the agent outbox (synchronous=FULL) took ${(bufferMs / 1000).toFixed(2)} s;`,
  );
  console.log(
    `hub start to listening ${((tListening - tHub) / 1000).toFixed(2)} s, to agent connected ${((tConnected - tHub) / 1000).toFixed(2)} s.\n`,
  );
  console.log('| replay | records acked | seconds (from connect) | records/s | note |');
  console.log('|---|---:|---:|---:|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log(
    `\nRatio ours / baseline: **${(ourRate / baseRate).toFixed(1)}×** (target ≥ 10,000 records/s: ${ourRate >= 10_000 ? 'met' : 'NOT met'}).`,
  );
} finally {
  if (hub) await stopGroup(hub.child, 10_000);
  rmSync(hubDir, { recursive: true, force: true });
  rmSync(agentDir, { recursive: true, force: true });
}
process.exit(0);
