// What a patrol wall costs the classroom box (docs/hub-people.md "Patrol wall"): two real agents
// (agent/bin/classroom-agent.js, built code) on the same synthetic 720p25 H.264 camera, sent in real
// time over UDP to both (ffmpeg -re, stream copy, tee muxer), report to one in-process hub. During the
// same measured interval a simulated wall asks the hub for room A's thumbnail every second (faster
// than any dashboard, which refreshes every 5 s); room B is not watched. The hub's cache (4 s) and
// the agent's limit (one per 2 s) bound what reaches the box.
// CPU = utime+stime from /proc of each agent process and all its descendants (its ffmpeg), over the
// interval. The camera's sender is not counted.
//
// BENCH_THUMB_S (default 60) sets the measured interval.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_BIN, freeUdpPort, waitFor } from './lib/box-processes.mjs';
import { mpegtsFileOutput, teeOf } from './lib/camera-media.mjs';
import { cpuDelta, treeCpu } from './lib/proc-cpu.mjs';

const { startHub } = await import(new URL('../hub/dist/app.js', import.meta.url).href);
const { locateFfmpeg } = await import(new URL('../agent/dist/ffmpeg/locate.js', import.meta.url).href);

const D = Number(process.env.BENCH_THUMB_S ?? 60);
const WARMUP_S = 10;
const workDir = mkdtempSync(join(tmpdir(), 'bench-thumb-'));
const children = [];
process.on('exit', () => {
  for (const c of children) {
    try {
      process.kill(-c.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  rmSync(workDir, { recursive: true, force: true });
});
const ffmpeg = locateFfmpeg().ffmpeg.path;

async function run(cmd, args) {
  await new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))));
  });
}

/** Polls `fn` every 500 ms (a failed request counts as not yet) until it is truthy or `ms` have passed. */
const waitForOk = (what, fn, ms) => waitFor(() => fn().catch(() => null), what, ms, 500);

// 1. The camera's stream, encoded ahead so that its encoder is not part of the measured load.
const media = join(workDir, 'camera.ts');
process.stderr.write(`encoding ${2 * D + WARMUP_S + 120} s of 720p25 H.264 …\n`);
await run(ffmpeg, [
  '-hide_banner',
  '-loglevel',
  'error',
  '-f',
  'lavfi',
  '-i',
  `testsrc2=s=1280x720:r=25:d=${2 * D + WARMUP_S + 120}`,
  '-f',
  'lavfi',
  '-i',
  `sine=f=440:r=48000:d=${2 * D + WARMUP_S + 120}`,
  '-c:v',
  'libx264',
  '-preset',
  'superfast',
  '-g',
  '25',
  '-b:v',
  '2500k',
  ...mpegtsFileOutput(media),
]);

// 2. The hub, in this process (its CPU is not counted).
const hub = await startHub({
  dataDir: join(workDir, 'hub'),
  host: '127.0.0.1',
  httpPort: 0,
  mqttPort: 0,
  adminToken: 'bench-thumbnail-token',
  logLevel: 'silent',
});
const base = `http://127.0.0.1:${hub.httpPort}`;
const auth = { authorization: 'Bearer bench-thumbnail-token' };
const api = async (method, path, body) => {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...auth, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
};

// 3. Two agents, one camera each, the same stream.
const ports = [await freeUdpPort(), await freeUdpPort()];
const sender = spawn(
  ffmpeg,
  [
    '-hide_banner',
    '-loglevel',
    'error',
    '-re',
    '-i',
    media,
    '-map',
    '0',
    '-c',
    'copy',
    '-f',
    'tee',
    teeOf(ports),
  ],
  { stdio: ['ignore', 'ignore', 'inherit'], detached: true },
);
children.push(sender);
const agents = [];
for (const [i, name] of ['watched', 'unwatched'].entries()) {
  const agent = `box-${name}`;
  const room = name === 'watched' ? 'A-101' : 'B-101';
  const cred = await api('POST', '/api/agents', { agent, room });
  const dir = join(workDir, agent);
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'agent.json');
  writeFileSync(
    config,
    JSON.stringify({
      agent,
      room: { id: room, name: room, building: 'Bench', floor: '1', campus: 'Main' },
      broker: { url: `mqtt://127.0.0.1:${hub.mqttPort}`, username: cred.username, password: cred.password },
      dataDir: join(dir, 'data'),
      sources: [{ id: 'cam', kind: 'camera', input: `udp://127.0.0.1:${ports[i]}` }],
    }),
  );
  const child = spawn(process.execPath, [AGENT_BIN, '--config', config, '--log-format', 'json'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: true,
    env: { ...process.env, CLASSROOM_AGENT_LOG_LEVEL: 'warn' },
  });
  children.push(child);
  agents.push({ name, room, child });
}
for (const a of agents) {
  await waitForOk(
    `${a.room} thumbnail`,
    async () => (await fetch(`${base}/api/rooms/${a.room}/thumbnail`, { headers: auth })).status === 200,
    90_000,
  );
}
await new Promise((r) => setTimeout(r, WARMUP_S * 1000));

// 4. Two measured intervals: the wall watches A, then B (each box is its own control, and a
// difference between the two boxes or the two halves cancels out).
const fetchedSoFar = async () =>
  Number(
    /classroom_hub_thumbnails_total\{result="fetched"\} (\d+)/.exec(
      await (await fetch(`${base}/metrics`)).text(),
    )?.[1] ?? 0,
  );

async function phase(watched) {
  const fetchedBefore = await fetchedSoFar();
  const before = agents.map((a) => treeCpu(a.child.pid));
  const t0 = Date.now();
  let served = 0;
  let bytes = 0;
  let unavailable = 0;
  while (Date.now() - t0 < D * 1000) {
    const res = await fetch(`${base}/api/rooms/${agents[watched].room}/thumbnail`, { headers: auth });
    if (res.status === 200) {
      served++;
      bytes += (await res.arrayBuffer()).byteLength;
    } else {
      unavailable++;
      await res.arrayBuffer();
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  const elapsed = (Date.now() - t0) / 1000;
  const after = agents.map((a) => treeCpu(a.child.pid));
  const cpu = agents.map((_, i) => cpuDelta(before[i], after[i]) / elapsed);
  return {
    watched,
    elapsed,
    cpu,
    served,
    bytes,
    unavailable,
    fetched: (await fetchedSoFar()) - fetchedBefore,
  };
}

const phases = [await phase(0), await phase(1)];
if (sender.exitCode !== null || sender.signalCode !== null)
  throw new Error('the camera stream ended during the measured intervals: these figures would be invalid');
const pct = (x) => `${(x * 100).toFixed(2)} %`;
console.log(
  `Agent cost while a patrol wall watches it (2 × ${D} s, same run; load average ${loadavg()[0].toFixed(2)})\n`,
);
console.log(
  '| interval | watched box (CPU, share of one core) | unwatched box | watched / unwatched | pictures served | asked of the box |',
);
console.log('|---|---|---|---|---|---|');
const ratios = [];
for (const p of phases) {
  const w = p.cpu[p.watched];
  const u = p.cpu[1 - p.watched];
  ratios.push(w / u);
  console.log(
    `| ${p.watched === 0 ? 'A watched' : 'B watched'} | ${pct(w)} | ${pct(u)} | ${(w / u).toFixed(3)}× | ${p.served} (${(p.bytes / Math.max(1, p.served) / 1024).toFixed(1)} KiB each, ${p.unavailable} without) | ${p.fetched} (${(p.fetched / p.elapsed).toFixed(2)}/s) |`,
  );
}
const gm = Math.sqrt(ratios[0] * ratios[1]);
console.log(`\nwatched / unwatched, geometric mean of both intervals: **${gm.toFixed(3)}×**`);
console.log(
  "\nThe wall asked every 1 s; the hub's 4 s cache and the box's 2 s limit decide what reaches the box.",
);
await hub.stop();
process.exit(0);
