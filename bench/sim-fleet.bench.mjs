#!/usr/bin/env node
// Fleet scale on loopback (docs/simulators.md "Benchmark"): a `classroom-hub serve` process and a `classroom-sim fleet`
// process of N protocol-level agents. Measures time until every agent is connected and has sent its
// birth, and the RSS of both processes. The baseline is the same measurement at N/10 in the same
// run, so the ratio column shows how the per-agent cost scales.
// Bounded: each phase has a deadline (SIM_BENCH_DEADLINE_S, default 420 s for all agents online);
// SIM_BENCH_ROOMS overrides N (default 10000).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const HUB = join(root, 'hub/bin/classroom-hub.js');
const SIM = join(root, 'simulators/bin/classroom-sim.js');
const N = Number(process.env.SIM_BENCH_ROOMS ?? 10_000);
const TOKEN = 'bench-admin-token-0123456789abcdef';
const DEADLINE_MS = Number(process.env.SIM_BENCH_DEADLINE_S ?? 420) * 1000;
const children = new Set();

function start(bin, args, env = {}) {
  const child = spawn(process.execPath, [bin, ...args], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const lines = [];
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d.toString();
    let i = buf.indexOf('\n');
    while (i >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
      i = buf.indexOf('\n');
    }
    if (lines.length > 5000) lines.splice(0, lines.length - 5000);
  });
  child.stderr.on('data', (d) => process.stderr.write(d));
  return { child, lines };
}

function stopAll() {
  for (const c of children) {
    try {
      process.kill(-c.pid, 'SIGKILL');
    } catch {}
  }
}
process.on('exit', stopAll);
process.on('SIGINT', () => process.exit(130));

async function until(fn, what, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const rssMb = (pid) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

async function provision(api, n, prefix) {
  // Done once per size through the real API (scrypt per agent); the fleet reads the state file.
  const agents = {};
  let next = 0;
  const t0 = Date.now();
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const id = `${prefix}-${String(i + 1).padStart(5, '0')}`;
      const room = `${prefix.toUpperCase()}-${String(i + 1).padStart(5, '0')}`;
      const res = await fetch(`${api}/api/agents`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ agent: id, room }),
      });
      if (res.status !== 201) throw new Error(`provisioning ${id}: ${res.status} ${await res.text()}`);
      const body = await res.json();
      agents[id] = { session: 0, nextSeq: 1, pendingFrom: null, password: body.password };
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return { agents, seconds: (Date.now() - t0) / 1000 };
}

async function runSize(dir, n, label) {
  const hub = start(
    HUB,
    [
      'serve',
      '--data-dir',
      join(dir, `hub-${label}`),
      '--http-port',
      '0',
      '--mqtt-port',
      '0',
      '--admin-token',
      TOKEN,
    ],
    {
      CLASSROOM_HUB_LOG_LEVEL: 'info',
    },
  );
  const listening = await until(
    () =>
      hub.lines
        .map((l) => {
          try {
            return JSON.parse(l);
          } catch {
            return null;
          }
        })
        .find((j) => j?.event === 'hub.listening'),
    'hub.listening',
    60_000,
  );
  const api = `http://127.0.0.1:${listening.httpPort}`;
  const prefix = `b${label}`;
  const prov = await provision(api, n, prefix);
  const stateFile = join(dir, `fleet-${label}.json`);
  writeFileSync(stateFile, JSON.stringify({ version: 1, agents: prov.agents }));
  const hubRssBefore = rssMb(hub.child.pid);
  const t0 = Date.now();
  const fleet = start(
    SIM,
    [
      'fleet',
      '--broker',
      `mqtt://127.0.0.1:${listening.mqttPort}`,
      '--rooms',
      String(n),
      '--prefix',
      prefix,
      '--room-prefix',
      prefix.toUpperCase(),
      '--state-file',
      stateFile,
      '--connect-rate',
      '1000',
      '--stats-interval-s',
      '5',
    ],
    { CLASSROOM_SIM_LOG_LEVEL: 'info' },
  );
  let seconds = null;
  try {
    await until(
      () => fleet.lines.some((l) => l.includes('fleet: all agents online')),
      `${n} agents online`,
      DEADLINE_MS,
    );
    seconds = (Date.now() - t0) / 1000;
  } catch (err) {
    console.error(String(err));
  }
  const elapsedS = (Date.now() - t0) / 1000;
  const atDeadline = (await (await fetch(`${api}/api/health`)).json()).mqttClients;
  // Settle 10 s of steady state (telemetry and windows flowing), then sample memory.
  await new Promise((r) => setTimeout(r, 10_000));
  const online = await (await fetch(`${api}/api/health`)).json();
  const row = {
    n,
    provisionS: prov.seconds,
    onlineS: seconds,
    fleetRss: rssMb(fleet.child.pid),
    hubRss: rssMb(hub.child.pid),
    hubRssBefore,
    hubClients: online.mqttClients,
    connectRate: atDeadline / elapsedS,
    atDeadline,
  };
  process.kill(-fleet.child.pid, 'SIGKILL');
  process.kill(-hub.child.pid, 'SIGKILL');
  return row;
}

const dir = mkdtempSync(join(tmpdir(), 'sim-bench-'));
try {
  const base = await runSize(dir, Math.max(10, Math.round(N / 10)), 'base');
  const full = await runSize(dir, N, 'full');
  const per = (row, key) => (row[key] / row.n) * 1024; // KB per agent
  const fmt = (x, d = 1) => (x === null || Number.isNaN(x) ? 'n/a' : x.toFixed(d));
  console.log(`| measure | baseline (N=${base.n}) | N=${full.n} | ratio (per agent, N / baseline) |`);
  console.log('|---|---|---|---|');
  console.log(
    `| provisioning via POST /api/agents, s | ${fmt(base.provisionS)} | ${fmt(full.provisionS)} | ${fmt(full.provisionS / full.n / (base.provisionS / base.n), 2)} |`,
  );
  console.log(
    `| time to all agents online, s | ${fmt(base.onlineS)} | ${fmt(full.onlineS)} | ${full.onlineS && base.onlineS ? fmt(full.onlineS / full.n / (base.onlineS / base.n), 2) : 'n/a'} |`,
  );
  console.log(
    `| agents connected when all were online or at the ${DEADLINE_MS / 1000} s deadline | ${base.atDeadline} | ${full.atDeadline} | |`,
  );
  console.log(
    `| mean connect rate, agents/s | ${fmt(base.connectRate)} | ${fmt(full.connectRate)} | ${fmt(full.connectRate / base.connectRate, 2)} |`,
  );
  console.log(
    `| fleet RSS, MB | ${fmt(base.fleetRss)} | ${fmt(full.fleetRss)} | ${fmt(per(full, 'fleetRss') / per(base, 'fleetRss'), 2)} |`,
  );
  console.log(
    `| fleet RSS per agent, KB | ${fmt(per(base, 'fleetRss'))} | ${fmt(per(full, 'fleetRss'))} | |`,
  );
  console.log(
    `| hub RSS (idle → with fleet), MB | ${fmt(base.hubRssBefore)} → ${fmt(base.hubRss)} | ${fmt(full.hubRssBefore)} → ${fmt(full.hubRss)} | ${fmt((full.hubRss - full.hubRssBefore) / full.n / ((base.hubRss - base.hubRssBefore) / base.n), 2)} |`,
  );
  console.log(`| hub MQTT clients at the end | ${base.hubClients} | ${full.hubClients} | |`);
  console.log('\nLoopback, one machine (hub, fleet and bench share its cores; other work may be running).');
} finally {
  stopAll();
  rmSync(dir, { recursive: true, force: true });
}
