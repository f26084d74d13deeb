#!/usr/bin/env node
// Bounded soak (RELIABILITY.md, "Soak"): a `classroom-hub serve` process on SQLite under 200
// protocol-level fleet boxes (10 s windows, camera + mic, 1 % duplicate batches, 2 abrupt
// disconnects a minute across the fleet) for 30 minutes (`--minutes N` for a shorter development
// run). The hub's RSS (/proc) and event-loop lag (p99 from its own /metrics) are sampled; growth is
// judged by the least-squares slope over the second half against thresholds stated here and in the
// report. At the end the fleet stops making records, drains, and every record is checked to be
// stored exactly once. Writes its section of chaos/reliability.json and re-renders RELIABILITY.md.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { storedRecords, tally } from '../chaos/lib/ledger.mjs';
import { renderReliability, setSoak } from '../chaos/reliability.mjs';
import { FLEET_DEFAULTS, Fleet } from '../simulators/dist/fleet/fleet.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const HUB = join(root, 'hub/bin/classroom-hub.js');
const TOKEN = 'soak-admin-token-0123456789abcdef';
const argMinutes = process.argv.indexOf('--minutes');
const MINUTES = argMinutes > 0 ? Number(process.argv[argMinutes + 1]) : 30;
if (!(MINUTES > 0 && MINUTES <= 240)) {
  console.error('--minutes must be a number in (0, 240]');
  process.exit(2);
}
const ROOMS = Number(process.env.SOAK_ROOMS ?? 200);
const SAMPLE_S = MINUTES >= 10 ? 10 : 5;
/**
 * Growth thresholds (per hour, over the second half). RSS: 20 MiB/h is ~0.5 GiB a day, a leak that
 * would take a hub down within weeks. Lag: 30 ms/h would double a healthy p99 within the hour. A
 * series "grows" only if its slope is above the threshold AND more than twice its standard error,
 * so that the noise of a loaded machine over a short run is not read as growth.
 */
const RSS_THRESHOLD_MIB_H = 20;
const LAG_THRESHOLD_MS_H = 30;

const dir = mkdtempSync(join(tmpdir(), 'soak-hub-'));
const hub = spawn(
  process.execPath,
  [HUB, 'serve', '--data-dir', dir, '--http-port', '0', '--mqtt-port', '0', '--admin-token', TOKEN],
  {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CLASSROOM_HUB_LOG_LEVEL: 'info' },
  },
);
const cleanup = () => {
  try {
    process.kill(-hub.pid, 'SIGKILL');
  } catch {}
  rmSync(dir, { recursive: true, force: true });
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));
let hubOut = '';
let listening = null;
const onData = (d) => {
  if (listening) return;
  hubOut += d.toString();
  const line = hubOut.split('\n').find((l) => l.includes('"event":"hub.listening"'));
  if (line) listening = JSON.parse(line);
};
hub.stdout.on('data', onData);
hub.stderr.on('data', onData);

async function until(fn, what, timeoutMs, everyMs = 250) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (hub.exitCode !== null) throw new Error(`hub exited (${hub.exitCode}) while waiting for ${what}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

await until(() => listening, 'hub.listening', 60_000);
const api = `http://127.0.0.1:${listening.httpPort}`;

function rssMiB() {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${hub.pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}
async function lagP99Ms() {
  const text = await (
    await fetch(`${api}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
  ).text();
  const m = /^classroom_hub_nodejs_eventloop_lag_p99_seconds\s+(\S+)/m.exec(text);
  return m ? Number(m[1]) * 1000 : Number.NaN;
}

/** Least-squares slope (per hour) and its standard error. */
function regression(points) {
  const n = points.length;
  if (n < 3) return { slope: Number.NaN, se: Number.NaN };
  const mx = points.reduce((s, p) => s + p.h, 0) / n;
  const my = points.reduce((s, p) => s + p.v, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.h - mx) * (p.v - my);
    den += (p.h - mx) ** 2;
  }
  const slope = num / den;
  const intercept = my - slope * mx;
  const residual = points.reduce((s, p) => s + (p.v - (intercept + slope * p.h)) ** 2, 0);
  return { slope, se: Math.sqrt(residual / (n - 2) / den) };
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

const fleet = new Fleet(
  { log: pino({ level: process.env.SOAK_LOG ?? 'silent' }) },
  {
    ...FLEET_DEFAULTS,
    brokerUrl: `mqtt://127.0.0.1:${listening.mqttPort}`,
    rooms: ROOMS,
    prefix: 'soak',
    roomPrefix: 'SOAK',
    api,
    adminToken: TOKEN,
    windowS: 10,
    telemetryIntervalS: 30,
    keepaliveS: 30,
    ackTimeoutMs: 15_000,
    duplicateRate: 0.01,
    disconnectsPerMin: 2,
    reconnectDelayS: 2,
    maxOutbox: 1_000_000,
    connectRate: 100,
  },
);
console.error(`soak: ${ROOMS} boxes for ${MINUTES} min, sampling every ${SAMPLE_S} s`);
await fleet.start();
await fleet.waitAllOnline(180_000);

const samples = [];
const t0 = Date.now();
const endAt = t0 + MINUTES * 60_000;
while (Date.now() < endAt) {
  await new Promise((r) => setTimeout(r, SAMPLE_S * 1000));
  if (hub.exitCode !== null) throw new Error(`hub exited (${hub.exitCode}) during the soak`);
  const s = {
    h: (Date.now() - t0) / 3_600_000,
    rss: rssMiB(),
    lag: await lagP99Ms(),
    acked: fleet.stats.acked,
  };
  samples.push(s);
  if (samples.length % Math.max(1, Math.round(60 / SAMPLE_S)) === 0)
    console.error(
      `soak: ${(s.h * 60).toFixed(1)} min, hub RSS ${s.rss.toFixed(1)} MiB, lag p99 ${s.lag.toFixed(1)} ms, ${s.acked} acked`,
    );
}

fleet.quiesce();
await until(() => fleet.pendingRecords() === 0, 'every fleet outbox drained', 300_000);
await fleet.stop();
const ledgers = fleet.agents.map((a) => ({ agent: a.id.agent, lastSeq: a.counters.nextSeq - 1 }));
const stored = await storedRecords(api, TOKEN, (a) => a.startsWith('soak-'));
const t = tally(ledgers, stored);

const second = samples.filter((s) => s.h >= MINUTES / 120);
const judge = (key, threshold, unit) => {
  const values = samples.map((s) => s[key]).filter(Number.isFinite);
  const { slope, se } = regression(
    second.filter((s) => Number.isFinite(s[key])).map((s) => ({ h: s.h, v: s[key] })),
  );
  return {
    unit,
    slopePerHour: slope,
    slopeStdErr: se,
    thresholdPerHour: threshold,
    grows: !(slope <= threshold || slope <= 2 * se),
    median: median(values),
    max: Math.max(...values),
  };
};
const rss = judge('rss', RSS_THRESHOLD_MIB_H, 'MiB');
const lag = judge('lag', LAG_THRESHOLD_MS_H, 'ms');
const soak = {
  command: `node bench/run.mjs soak${MINUTES === 30 ? '' : ` --minutes ${MINUTES}`}`,
  ranAt: new Date().toISOString(),
  machine: `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`,
  load: `${ROOMS} fleet boxes × 0.2 records/s (10 s windows, cam + mic), 1% duplicate batches, 2 abrupt disconnects/min across the fleet; hub process on SQLite`,
  minutes: MINUTES,
  samples: samples.length,
  sampleEveryS: SAMPLE_S,
  produced: t.produced,
  stored: t.stored,
  lost: t.lost,
  duplicated: t.duplicated,
  rss,
  lag,
  series: samples.map((s) => ({
    min: +(s.h * 60).toFixed(2),
    rssMiB: +s.rss.toFixed(1),
    lagP99Ms: +s.lag.toFixed(2),
  })),
};
setSoak(soak);
renderReliability();

console.log(`| Soak (${ROOMS} boxes, ${MINUTES} min) | Value |`);
console.log('|---|--:|');
console.log(
  `| records produced / stored / lost / duplicated | ${t.produced} / ${t.stored} / ${t.lost} / ${t.duplicated} |`,
);
console.log(`| hub RSS median / max | ${rss.median.toFixed(1)} / ${rss.max.toFixed(1)} MiB |`);
console.log(
  `| hub RSS slope, second half | ${rss.slopePerHour.toFixed(2)} ± ${rss.slopeStdErr.toFixed(2)} MiB/h (threshold ${RSS_THRESHOLD_MIB_H}): ${rss.grows ? 'GROWS' : 'flat'} |`,
);
console.log(`| lag p99 median / max | ${lag.median.toFixed(2)} / ${lag.max.toFixed(2)} ms |`);
console.log(
  `| lag p99 slope, second half | ${lag.slopePerHour.toFixed(2)} ± ${lag.slopeStdErr.toFixed(2)} ms/h (threshold ${LAG_THRESHOLD_MS_H}): ${lag.grows ? 'GROWS' : 'flat'} |`,
);
if (t.lost > 0 || t.duplicated > 0 || t.unexpected > 0) {
  console.error(`soak: ${t.lost} lost, ${t.duplicated} duplicated, ${t.unexpected} unexpected`);
  process.exit(1);
}
process.exit(0);
