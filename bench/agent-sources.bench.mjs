// What one more source costs a classroom box (docs/agent-media.md "Cost"): a box watching one
// camera and a box watching four, side by side in the same run, each a real `classroom-agent`
// process (built code) connected to a real `classroom-hub serve` process over MQTT, with its outbox
// in SQLite and its telemetry timer. The camera's media (720p25 H.264 High, 2 B-frames, GOP 1 s,
// 2.5 Mb/s, noisy picture, AAC stereo) is encoded ahead, then sent in real time (ffmpeg -re, stream
// copy, looped) through the tee muxer to one UDP port per source: every source of every box gets
// the same stream at the same moment.
//
// CPU over the measured span: the agent's node process (every thread's scheduler time, in ns, from
// /proc/PID/task/*/schedstat), the helpers it ran and reaped (cutime+cstime), and every ffmpeg
// (with its sh guard) that watches one of the box's ports. People counting is off (it has its own
// bench, agent-occupancy), so this is the monitoring cost alone.
//
// BENCH_SOURCES_S (default 60): measured seconds, after BENCH_SOURCES_WARMUP_S (default 20) of
// start-up; BENCH_SOURCES_BOXES (default 1,4): the source counts of the boxes run side by side;
// BENCH_SOURCES_BEFORE=<dir>: also run the agent built in <dir> (a copy of agent/ with dist/,
// bin/ and package.json, inside this repository so it finds node_modules) with the same counts,
// as the "before" of a change measured in the same run (e.g. `cp -r agent/dist agent/bin
// agent/package.json bench/results/before-agent/` before the change; the dependencies that build
// imports must still be installed);
// BENCH_CPU_PROF=1: run the agents under `node --cpu-prof` and print where their node time went
// during the measured span (self time by function and by file).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  addAgent,
  CpuTally,
  cpuTimesOfPid,
  encodeCamera,
  freeTcpPort,
  freeUdpPort,
  sendCamera,
  startHubProcess,
  stopGroup,
  threadCpuOfPid,
  waitFor,
} from './lib/box-processes.mjs';
import { summarizeProfile } from './lib/cpu-profile.mjs';

const D = Number(process.env.BENCH_SOURCES_S ?? 60);
const WARMUP = Number(process.env.BENCH_SOURCES_WARMUP_S ?? 20);
const COUNTS = (process.env.BENCH_SOURCES_BOXES ?? '1,4').split(',').map(Number);
const BEFORE = process.env.BENCH_SOURCES_BEFORE ? resolve(process.env.BENCH_SOURCES_BEFORE) : null;
const PROF = process.env.BENCH_CPU_PROF === '1';
const AGENT_DIR = new URL('../agent', import.meta.url).pathname;

const work = mkdtempSync(join(tmpdir(), 'bench-sources-'));
const procs = [];
const cleanup = () => {
  for (const p of procs) {
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch {}
  }
  rmSync(work, { recursive: true, force: true });
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

// The encoded media is kept between runs (bench/results is not committed): encoding takes longer
// than the measured span on a loaded VM.
const mediaDir = new URL('./results/media', import.meta.url).pathname;
const media = join(mediaDir, 'camera-720p25-gop1-b2-30s.ts');
if (!existsSync(media)) {
  mkdirSync(mediaDir, { recursive: true });
  const t0 = Date.now();
  await encodeCamera(`${media}.part`, { seconds: 30 });
  renameSync(`${media}.part`, media);
  console.error(`encoded 30 s of 720p25 in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

const hubDir = join(work, 'hub');
mkdirSync(hubDir);
const mqttPort = await freeTcpPort();
const variants = [{ label: 'after', dir: AGENT_DIR }, ...(BEFORE ? [{ label: 'before', dir: BEFORE }] : [])];
const boxes = [];
for (const v of variants) {
  for (const n of COUNTS) {
    const agent = `box-${v.label}-${n}`;
    const room = `R-${v.label}-${n}`;
    const ports = [];
    for (let i = 0; i < n; i++) ports.push(await freeUdpPort());
    boxes.push({ ...v, n, agent, room, ports, password: addAgent(hubDir, agent, room) });
  }
}
const hub = await startHubProcess(hubDir, mqttPort);
procs.push(hub.child);

const profDir = join(work, 'prof');
for (const b of boxes) {
  const dir = join(work, b.agent);
  mkdirSync(dir);
  const config = {
    agent: b.agent,
    room: { id: b.room, name: b.room },
    broker: { url: `mqtt://127.0.0.1:${mqttPort}`, username: b.agent, password: b.password },
    dataDir: join(dir, 'data'),
    sources: b.ports.map((p, i) => ({
      id: `cam${i + 1}`,
      kind: 'camera',
      input: `udp://127.0.0.1:${p}`,
      occupancy: { enabled: false },
    })),
    logLevel: 'warn',
  };
  const file = join(dir, 'agent.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  const extra = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const nodeArgs = extra.concat(
    PROF
      ? [
          '--cpu-prof',
          '--cpu-prof-interval',
          String(process.env.BENCH_CPU_PROF_INTERVAL_US ?? 1000),
          '--cpu-prof-dir',
          join(profDir, b.agent),
        ]
      : [],
  );
  b.child = spawn(process.execPath, [...nodeArgs, join(b.dir, 'bin/classroom-agent.js'), '--config', file], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CLASSROOM_LOG_FORMAT: 'json' },
  });
  b.spawnedAt = Date.now();
  b.log = '';
  const keep = (d) => {
    b.log += d;
    if (b.log.length > 200_000) b.log = b.log.slice(-100_000);
  };
  b.child.stdout.on('data', keep);
  b.child.stderr.on('data', keep);
  procs.push(b.child);
}

await new Promise((r) => setTimeout(r, 1000));
const camera = sendCamera(
  media,
  boxes.flatMap((b) => b.ports),
);
procs.push(camera);

// Every source of every box must be watched by its ffmpeg before the span starts.
for (const b of boxes) {
  const portOf = (cmd) => b.ports.find((p) => cmd.includes(`:${p}?`));
  b.ff = new CpuTally((cmd) => cmd.includes('metadata@cvm') && portOf(cmd) !== undefined);
  await waitFor(
    () => {
      b.ff.sample();
      return b.ff.processes() >= b.n;
    },
    `${b.agent}: an ffmpeg per source`,
    60_000,
    500,
  );
}
await new Promise((r) => setTimeout(r, WARMUP * 1000));
const load0 = load();
const spanStart = Date.now();
for (const b of boxes) {
  b.ff.begin();
  b.node0 = { ...cpuTimesOfPid(b.child.pid), threads: threadCpuOfPid(b.child.pid) };
}
const sampler = setInterval(() => {
  for (const b of boxes) b.ff.sample();
}, 1000);
await new Promise((r) => setTimeout(r, D * 1000));
clearInterval(sampler);
const span = (Date.now() - spanStart) / 1000;
for (const b of boxes) {
  b.ff.sample();
  const node1 = { ...cpuTimesOfPid(b.child.pid), threads: threadCpuOfPid(b.child.pid) };
  b.nodeCpu = node1.threads - b.node0.threads;
  b.ffCpu = b.ff.total();
  // Helpers the agent ran and reaped during the span (telemetry's commands, a restarted ffmpeg's
  // sh guard, which holds that ffmpeg's time): the box's cost too.
  b.reapedCpu = node1.reaped - b.node0.reaped;
  if (Number.isNaN(b.nodeCpu)) throw new Error(`${b.agent} exited during the run:\n${b.log.slice(-3000)}`);
}
const load1 = load();
// What the hub stored from each box: the windows and telemetry went through for real.
for (const b of boxes) {
  const page = await hub.api(`/api/records?agent=${b.agent}&limit=1000`).catch(() => ({ records: [] }));
  b.stored = page.records.filter((r) => r.record.kind === 'capture').length;
  b.down = (b.log.match(/"source down"/g) ?? []).length;
}
camera.kill('SIGKILL');
await Promise.all(boxes.map((b) => stopGroup(b.child)));
// BENCH_AGENT_LOGS=<dir>: keep what each agent printed (e.g. with BENCH_NODE_ARGS=--trace-gc).
if (process.env.BENCH_AGENT_LOGS) {
  mkdirSync(process.env.BENCH_AGENT_LOGS, { recursive: true });
  for (const b of boxes) writeFileSync(join(process.env.BENCH_AGENT_LOGS, `${b.agent}.log`), b.log);
}
await stopGroup(hub.child);

const ms = (s) => (1000 * s) / span;
console.log(
  `### Agent cost by number of sources, ${span.toFixed(0)} s measured per box, boxes side by side\n`,
);
console.log(
  'Each box: a `classroom-agent` process with its MQTT session to a `classroom-hub serve` process, SQLite outbox, ' +
    'telemetry; one 720p25 H.264+AAC UDP camera per source (GOP 1 s, 2 B-frames, 2.5 Mb/s, encoded ahead, sent in real time); ' +
    'people counting off. CPU: node from /proc/PID/task/*/schedstat (every thread, ns), ffmpeg and reaped helpers from /proc (utime+stime).',
);
console.log(`Load average at start / end of the span: ${load0} / ${load1}\n`);
if (PROF) console.log("Under `node --cpu-prof`: the profiler's own thread adds to the node figures.\n");
console.log(
  '| agent | sources | node ms/s | node ms/s per source | reaped helpers ms/s | ffmpeg % of a core | total % of a core | total per source | windows stored | source down |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const b of boxes) {
  const total = b.nodeCpu + b.ffCpu + b.reapedCpu;
  console.log(
    `| ${b.label} | ${b.n} | ${ms(b.nodeCpu).toFixed(2)} | ${(ms(b.nodeCpu) / b.n).toFixed(2)} | ${ms(b.reapedCpu).toFixed(2)} | ${((100 * b.ffCpu) / span).toFixed(2)} % | ${((100 * total) / span).toFixed(2)} % | ${((100 * total) / span / b.n).toFixed(2)} % | ${b.stored} | ${b.down} |`,
  );
}
const one = (label) => boxes.find((b) => b.label === label && b.n === 1);
const ratios = [];
for (const b of boxes) {
  const base = one(b.label);
  if (!base || b.n === 1) continue;
  const r = (f) => f(b) / (b.n * f(base));
  const total = r((x) => x.nodeCpu + x.ffCpu + x.reapedCpu);
  // The target (docs/agent-media.md "Cost"): a box of N sources costs less than N boxes of one.
  ratios.push(
    `| ${b.label} | ${b.n} vs 1 | ${r((x) => x.nodeCpu).toFixed(3)}× | ${r((x) => x.ffCpu).toFixed(3)}× | ${total.toFixed(3)}× | ${total < 1 ? 'met' : 'not met'} |`,
  );
}
if (ratios.length) {
  console.log(
    `\n### A box of N sources against N boxes of one (cost(N) / (N × cost(1)); below 1 is a saving)\n`,
  );
  console.log('| agent | boxes | node | ffmpeg | total | total < 1× |');
  console.log('|---|---|---|---|---|---|');
  for (const r of ratios) console.log(r);
}
const before1 = one('before');
const after1 = one('after');
if (before1 && after1) {
  console.log('\n### Node time per source, before and after (same run)\n');
  console.log('| sources | before node ms/s per source | after node ms/s per source | after / before |');
  console.log('|---|---|---|---|');
  for (const n of COUNTS) {
    const b = boxes.find((x) => x.label === 'before' && x.n === n);
    const a = boxes.find((x) => x.label === 'after' && x.n === n);
    console.log(
      `| ${n} | ${(ms(b.nodeCpu) / n).toFixed(2)} | ${(ms(a.nodeCpu) / n).toFixed(2)} | ${(a.nodeCpu / b.nodeCpu).toFixed(3)}× |`,
    );
  }
}

if (PROF) {
  for (const b of boxes) {
    const dir = join(profDir, b.agent);
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) {
      console.log(`\n(no CPU profile from ${b.agent})`);
      continue;
    }
    const from = (spanStart - b.spawnedAt) / 1000;
    const s = summarizeProfile(join(dir, file), from, from + span);
    console.log(
      `\n#### Where ${b.agent}'s node time went (${b.n} source${b.n > 1 ? 's' : ''}; ${(s.busyMs / s.spanS).toFixed(2)} ms/s sampled busy)\n`,
    );
    console.log('| self time by function | ms/s |');
    console.log('|---|---|');
    for (const f of s.functions) console.log(`| \`${f.name}\` | ${(f.ms / s.spanS).toFixed(3)} |`);
    console.log("\n| the agent's files on the stack (inclusive) | ms/s |");
    console.log('|---|---|');
    for (const f of s.inclusive) console.log(`| \`${f.name}\` | ${(f.ms / s.spanS).toFixed(3)} |`);
    console.log('\n| self time by file | ms/s |');
    console.log('|---|---|');
    for (const f of s.files) console.log(`| \`${f.name}\` | ${(f.ms / s.spanS).toFixed(3)} |`);
  }
}
process.exit(0);
