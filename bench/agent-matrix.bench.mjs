// The camera-profile matrix of the agent's source monitor (docs/agent-media.md "Cost"): H.264 and
// H.265 × 720p25, 1080p25, 2560×1440@20 × GOP 1, 2, 4 s × 0 and 2 B-frames × UDP MPEG-TS and RTSP
// over TCP, each cell measured against a naive full decode of the same live stream in the same run.
//
// Media (bench/lib/matrix-media.mjs) is encoded once per profile and cached (BENCH_MATRIX_CACHE,
// default bench/.cache/matrix); one encode serves both transports. The camera:
// - udp: `ffmpeg -re -c copy` to the agent's and the baseline's ports (tee), as bench/agent-media does;
// - rtsp: GStreamer's RTSP server (bench/lib/rtsp_camera.py), one pipeline shared by both clients,
//   interleaved TCP; the clients join the running stream as they would a camera's.
// The agent's monitor runs in a process of its own (bench/lib/matrix-agent.mjs); its CPU is that
// node process plus every ffmpeg it ran (reaped children: cutime+cstime), from /proc. The baseline
// is one ffmpeg decoding every frame at full size with blackdetect, freezedetect, silencedetect and
// ebur128. By default both transports of a profile run at the same time (same machine moment; each
// cell's ratio is within its own pair). Latency = event arrival − fault onset (stream time 0: the
// first datagram for udp, the shared pipeline's start for rtsp).
//
// Each cell is appended as one JSON line to BENCH_MATRIX_RESULTS (default
// bench/results/agent-matrix.jsonl) as soon as it is measured, so a crash loses at most the cells
// running; the Markdown table is printed from every line of that file (BENCH_MATRIX_REPORT=1 prints
// it without measuring).
// Filters: BENCH_MATRIX_CELLS=h264-720p25,h265+gop4 (a comma-separated list of alternatives, `+`
// joins parts that must all match: codec, resolution, gopN, bN), BENCH_MATRIX_TRANSPORTS=udp,rtsp,
// BENCH_MATRIX_SERIAL=1 (transports one after the other), BENCH_MATRIX_RESUME=1 (skip cells already
// in the results file), BENCH_MATRIX_ENCODE_ONLY=1, BENCH_MATRIX_CACHED_ONLY=1 (only media already
// encoded, e.g. while another run encodes the rest).
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freeUdpPort } from './lib/box-processes.mjs';
import { firstDatagramMarker, naiveArgs, sendFileArgs } from './lib/camera-media.mjs';
import { encodeCached, MIN_S, mediaName, mediaProfiles, RESOLUTIONS, timeline } from './lib/matrix-media.mjs';
import { descendantCmds, descendants, statOfPid } from './lib/proc-cpu.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { keyframeDelayS } = await import(new URL('../agent/dist/media/monitor.js', import.meta.url).href);
const { buildPlan } = await import(new URL('../agent/dist/media/pipeline.js', import.meta.url).href);
const { withDefaults } = await import(new URL('../agent/dist/media/index.js', import.meta.url).href);
const { locateFfmpeg } = await import(new URL('../agent/dist/ffmpeg/locate.js', import.meta.url).href);
const tools = locateFfmpeg();
const CACHE = process.env.BENCH_MATRIX_CACHE ?? join(here, '.cache', 'matrix');
const RESULTS = process.env.BENCH_MATRIX_RESULTS ?? join(here, 'results', 'agent-matrix.jsonl');
const TRANSPORTS = (process.env.BENCH_MATRIX_TRANSPORTS ?? 'udp,rtsp').split(',');
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

/** [utime+stime, cutime+cstime] in seconds of one process, or null once it has gone. */
const cpuOfPid = (pid) => {
  const s = statOfPid(pid);
  return s && [s.self, s.reaped];
};

function naive(input) {
  const args = naiveArgs(input, { progress: true });
  const p = spawn(tools.ffmpeg.path, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  // Frames decoded so far (its -progress reports): a baseline starved of CPU on a loaded machine
  // falls behind the live stream and decodes (and costs) less than a full decode, which would
  // flatter the ratio's denominator the wrong way; the report flags it.
  p.frames = 0;
  createInterface({ input: p.stdout }).on('line', (l) => {
    if (l.startsWith('frame=')) p.frames = Number(l.slice(6)) || p.frames;
  });
  return p;
}

/** The agent's monitor in its own process; resolves once it has loaded (CPU counted from there). */
async function startAgent(input) {
  const o = {
    input,
    thresholds: { blackMinS: MIN_S.black, frozenMinS: MIN_S.frozen, silenceMinS: MIN_S.silence },
  };
  const p = spawn(process.execPath, [join(here, 'lib', 'matrix-agent.mjs'), JSON.stringify(o)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const a = { p, events: [], log: [], stopped: null, decode: null };
  let ready;
  const isReady = new Promise((r) => {
    ready = r;
  });
  createInterface({ input: p.stdout }).on('line', (line) => {
    const m = JSON.parse(line);
    if (m.ready) ready();
    else if (m.event) a.events.push(m);
    else if (m.stopped) {
      a.decode = m.decode;
      a.stopped?.();
    }
  });
  createInterface({ input: p.stderr }).on('line', (line) => {
    if (/switching|too sparse|error|fatal/i.test(line)) a.log.push(line.slice(0, 400));
  });
  await Promise.race([isReady, sleep(30_000)]);
  a.cpu0 = cpuOfPid(p.pid);
  return a;
}

async function stopAgent(a) {
  const done = new Promise((r) => {
    a.stopped = r;
  });
  a.p.stdin.write('stop\n');
  await Promise.race([done, sleep(15_000)]);
  const c = cpuOfPid(a.p.pid);
  a.p.stdin.write('exit\n');
  setTimeout(() => a.p.kill('SIGKILL'), 5000).unref();
  return { nodeCpu: c[0] - a.cpu0[0], ffCpu: c[1] - a.cpu0[1] };
}

/** The camera over UDP: starts sending; resolves with stream time 0 (the first datagram, on a marker port). */
async function udpCamera(file) {
  const [pa, pb] = [await freeUdpPort(), await freeUdpPort()];
  const marker = await firstDatagramMarker();
  const ports = [pa, pb, marker.port];
  return {
    agentInput: `udp://127.0.0.1:${pa}`,
    naiveInput: `udp://127.0.0.1:${pb}`,
    async start() {
      marker.arm();
      this.proc = spawn(tools.ffmpeg.path, sendFileArgs(file, ports), {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      await marker.arrival(10_000);
      return marker.startedAt();
    },
    stop() {
      this.proc?.kill('SIGKILL');
    },
  };
}

/** The camera over RTSP: GStreamer's server; each session's stream time 0 is its pipeline's start. */
async function rtspCamera(file, codec) {
  const proc = spawn(PYTHON, [join(here, 'lib', 'rtsp_camera.py'), file, codec], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: proc.stdout });
  const port = await new Promise((resolve, reject) => {
    lines.once('line', (l) => resolve(Number(l)));
    proc.once('exit', (code) => reject(new Error(`rtsp_camera.py exited ${code}`)));
  });
  const starts = { '/agent': [], '/naive': [] };
  const waiters = [];
  lines.on('line', (l) => {
    const m = /^playing (\S+) ([\d.]+)/.exec(l);
    if (!m) return;
    starts[m[1]]?.push(Math.round(Number(m[2]) * 1000));
    for (const w of waiters.splice(0)) w();
  });
  return {
    agentInput: `rtsp://127.0.0.1:${port}/agent`,
    naiveInput: `rtsp://127.0.0.1:${port}/naive`,
    starts,
    /** Resolves once `path` has had `n` sessions playing (or after `ms`). */
    async playing(path, n, ms) {
      const until = Date.now() + ms;
      while (starts[path].length < n && Date.now() < until)
        await Promise.race([new Promise((r) => waiters.push(r)), sleep(until - Date.now())]);
      return starts[path].length >= n;
    },
    stop() {
      proc.kill('SIGKILL');
    },
  };
}

/**
 * CPU seconds of the agent so far: its node process, plus its ffmpeg: those already reaped (the
 * node process's cutime) and every live descendant's own time and reaped children's.
 */
function agentCpuNow(pid) {
  const self = cpuOfPid(pid);
  let ff = self[1];
  for (const d of descendants(pid)) {
    const c = cpuOfPid(d);
    if (c) ff += c[0] + c[1];
  }
  return { node: self[0], ff };
}

/** One cell: camera, baseline and agent on one transport, for the profile's timeline. */
async function runCell(m, transport, file, tl) {
  const cell = `${mediaName(m)}-${transport}`;
  const load0 = load();
  const cam = transport === 'udp' ? await udpCamera(file) : await rtspCamera(file, m.codec);
  let base;
  let agent;
  // Stream time 0 of the agent's (current) session, as a function of wall time.
  let agentZero;
  if (transport === 'udp') {
    base = naive(cam.naiveInput);
    agent = await startAgent(cam.agentInput);
    await sleep(500);
    const g0 = await cam.start();
    agentZero = () => g0;
  } else {
    // Each client gets its session's stream from the start; the agent's probe is a session too, so
    // its stream time 0 is the latest /agent session started before the moment asked about. The
    // baseline starts once the agent's stream runs, so that its stream outlasts the agent's window.
    agent = await startAgent(cam.agentInput);
    await cam.playing('/agent', 1, 20_000);
    base = naive(cam.naiveInput);
    await cam.playing('/naive', 1, 20_000);
    agentZero = (at = Date.now()) => cam.starts['/agent'].filter((t) => t <= at).at(-1) ?? Date.now();
  }
  // Decode modes the agent's ffmpeg ran in, from their command lines, sampled once a second.
  const modes = new Set();
  const sampler = setInterval(() => {
    for (const c of descendantCmds(agent.p.pid))
      if (c.includes('metadata@cvm')) modes.add(c.includes('\0nokey\0') ? 'keyframes' : 'low-fps');
  }, 1000);
  // Steady state: from the join time J of the timeline (before the first fault) to the stream's end.
  const joinS = tl.black[0] - 0.5;
  await sleep(Math.max(0, agentZero() + joinS * 1000 - Date.now()));
  const a0 = agentCpuNow(agent.p.pid);
  const n0 = cpuOfPid(base.pid);
  const f0 = base.frames;
  const t0 = Date.now();
  const endAt = agentZero() + tl.durationS * 1000;
  while (Date.now() < endAt) await sleep(Math.min(1000, endAt - Date.now()));
  const a1 = agentCpuNow(agent.p.pid);
  const n1 = cpuOfPid(base.pid);
  const spanS = (Date.now() - t0) / 1000;
  // Share of the live frame rate the baseline decoded over the window (its reports lag ≤ 0.5 s).
  const naiveKeptUp = Math.round(((base.frames - f0) / (RESOLUTIONS[m.res].fps * spanS)) * 100) / 100;
  clearInterval(sampler);
  const whole = await stopAgent(agent);
  base.kill('SIGKILL');
  cam.stop();
  const latency = {};
  const tsErr = {};
  for (const [name, type] of [
    ['black', 'video.black.start'],
    ['frozen', 'video.frozen.start'],
    ['silence', 'audio.silence.start'],
  ]) {
    const e = agent.events.find((x) => x.event === type);
    const onset = e ? agentZero(e.arrived) + tl[name][0] * 1000 : 0;
    latency[name] = e ? Math.round(e.arrived - onset) / 1000 : null;
    // How far the event's ts (the agent's own onset estimate, docs/agent-media.md "Cost") is off.
    tsErr[name] = e && e.ts !== undefined ? Math.round(e.ts - onset) / 1000 : null;
  }
  return {
    cell,
    ...m,
    transport,
    at: new Date().toISOString(),
    spanS: Math.round(spanS * 10) / 10,
    nodeCpu: a1.node - a0.node,
    ffCpu: a1.ff - a0.ff,
    naiveCpu: n1 && n0 ? n1[0] - n0[0] : null,
    naiveEnded: !n1,
    naiveKeptUp,
    whole,
    sessions: transport === 'rtsp' ? cam.starts['/agent'].length : undefined,
    modes: [...modes],
    decode: agent.decode,
    latency,
    tsErr,
    events: agent.events.map((e) => e.event),
    log: agent.log,
    load: [load0, load()],
  };
}

/** Worst detection latency the documentation gives for the mode (docs/agent-media.md "Cost"), + 1 s of read batches. */
function bound(r, fault) {
  const keyframes = r.modes.length === 1 && r.modes[0] === 'keyframes';
  if (fault === 'silence' || !keyframes) return MIN_S[fault] + 3;
  return MIN_S[fault] + keyframeDelayS(r.gopS, r.bframes * r.gopS, MIN_S[fault]) + 1;
}

function report() {
  if (!existsSync(RESULTS)) return console.log(`no results in ${RESULTS}`);
  // A cell measured more than once: its latest run whose baseline kept up with the live stream
  // (≥ 90 % of the frame rate; an older run without that record counts as not known), else its latest.
  const rows = new Map();
  const runs = new Map();
  for (const line of readFileSync(RESULTS, 'utf8').split('\n')) {
    if (!line) continue;
    const r = JSON.parse(line);
    runs.set(r.cell, (runs.get(r.cell) ?? 0) + 1);
    const prev = rows.get(r.cell);
    const ok = (x) => (x?.naiveKeptUp ?? 0) >= 0.9;
    if (!prev || ok(r) || !ok(prev)) rows.set(r.cell, r);
  }
  const order = (r) =>
    [r.codec, Object.keys(RESOLUTIONS).indexOf(r.res), r.transport === 'udp' ? 0 : 1, r.gopS, r.bframes].join(
      '|',
    );
  const all = [...rows.values()].sort((a, b) => (order(a) < order(b) ? -1 : 1));
  console.log(`### Camera-profile matrix: ${all.length} cells (${RESULTS})\n`);
  console.log(
    '| codec | size | transport | GOP s | B | decode | agent % of a core (node + ffmpeg) | naive % | ratio | naive kept up | black s (bound) | frozen s (bound) | silence s (bound) | load avg 1 min start → end |',
  );
  console.log('|---|---|---|---:|---:|---|---:|---:|---:|---:|---|---|---|---|');
  for (const r of all) {
    const agent = r.nodeCpu + r.ffCpu;
    const pct = (x) => `${((100 * x) / r.spanS).toFixed(1)} %`;
    const lat = (f) => {
      const l = r.latency[f];
      const b = bound(r, f);
      return `${l === null ? '**missed**' : l.toFixed(1)} (${b})${l !== null && l > b ? ' **over**' : ''}`;
    };
    const ratio = r.naiveCpu ? agent / r.naiveCpu : Number.NaN;
    console.log(
      `| ${r.codec.toUpperCase().replace('H', 'H.')} | ${r.res} | ${r.transport} | ${r.gopS} | ${r.bframes} | ${r.modes.join(' → ') || '?'} | ${pct(agent)} (${pct(r.nodeCpu)} + ${pct(r.ffCpu)}) | ${r.naiveCpu ? pct(r.naiveCpu) : 'ended'} | ${ratio <= 0.25 ? ratio.toFixed(3) : `**${ratio.toFixed(3)}**`}× | ${r.naiveKeptUp === undefined ? 'n/a' : `${Math.round(100 * r.naiveKeptUp)} %`}${runs.get(r.cell) > 1 ? ` (${runs.get(r.cell)} runs)` : ''} | ${lat('black')} | ${lat('frozen')} | ${lat('silence')} | ${r.load[0].split(' ')[0]} → ${r.load[1].split(' ')[0]} |`,
    );
  }
  const again = [...runs].filter(([, n]) => n > 1).map(([c]) => c);
  if (again.length) {
    console.log('\nCells measured more than once (every run, oldest first):\n');
    console.log('| cell | at | ratio | naive kept up | black s | frozen s | load avg 1 min |');
    console.log('|---|---|---:|---:|---:|---:|---|');
    for (const line of readFileSync(RESULTS, 'utf8').split('\n')) {
      if (!line) continue;
      const r = JSON.parse(line);
      if (!again.includes(r.cell)) continue;
      const kept = r.naiveKeptUp === undefined ? 'n/a' : `${Math.round(100 * r.naiveKeptUp)} %`;
      console.log(
        `| ${r.cell} | ${r.at.slice(11, 16)} | ${((r.nodeCpu + r.ffCpu) / r.naiveCpu).toFixed(3)}× | ${kept} | ${r.latency.black ?? 'missed'} | ${r.latency.frozen ?? 'missed'} | ${r.load.map((x) => x.split(' ')[0]).join(' → ')} |`,
      );
    }
  }
  const logs = all.filter((r) => r.log.length);
  for (const r of logs) console.log(`\n${r.cell}: ${r.log.join(' | ')}`);
}

/**
 * Where the cost goes, per transport (BENCH_MATRIX_COMPONENTS=<media filter>): for one profile,
 * both transports at once, one receiver per part, each opening the input exactly as the agent's
 * ffmpeg does (the input half of its command line, buildPlan): receive only (stream copy to null),
 * receive + keyframe decode (the agent's decoder options, video only), and the naive full decode
 * (the agent's whole command is what each cell measures). Steady state: the timeline's join time to its end.
 */
async function components(m, file, tl) {
  const { w, h, fps } = RESOLUTIONS[m.res];
  const probe = {
    codec: m.codec === 'h265' ? 'hevc' : 'h264',
    width: w,
    height: h,
    fps,
    sampleRate: 48000,
    channels: 2,
  };
  const t = withDefaults({ blackMinS: MIN_S.black, frozenMinS: MIN_S.frozen, silenceMinS: MIN_S.silence });
  const plan = (input) => buildPlan({ id: 'cam', kind: 'camera', input }, probe, t, 'keyframes').args;
  const inputHalf = (input) =>
    plan(input)
      .slice(0, plan(input).indexOf('-filter_complex'))
      .filter((a) => a !== '-progress' && a !== 'pipe:3');
  const parts = [];
  const cams = [];
  for (const transport of TRANSPORTS) {
    const n = 4;
    const inputs = [];
    let cam;
    if (transport === 'udp') {
      const ports = [];
      for (let i = 0; i < n + 1; i++) ports.push(await freeUdpPort());
      cam = { kind: 'udp', ports };
      for (let i = 0; i < n; i++) inputs.push(`udp://127.0.0.1:${ports[i]}`);
    } else {
      cam = await rtspCamera(file, m.codec);
      for (let i = 0; i < n; i++) inputs.push(i === n - 1 ? cam.naiveInput : cam.agentInput);
    }
    cams.push(cam);
    const defs = [
      ['receive (stream copy)', [...inputHalf(inputs[0]), '-map', '0', '-c', 'copy', '-f', 'null', '-']],
      ['receive + keyframe decode', [...inputHalf(inputs[1]), '-map', '0:v:0', '-f', 'null', '-']],
    ];
    for (const [name, args] of defs) {
      const p = spawn(tools.ffmpeg.path, args, {
        stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
      });
      for (const k of [2, 3, 4, 5]) p.stdio[k].resume();
      parts.push({ transport, name, p });
    }
    parts.push({ transport, name: 'naive full decode', p: naive(inputs[3]) });
  }
  await sleep(500);
  const senders = [];
  for (const cam of cams) {
    if (cam.kind !== 'udp') continue;
    senders.push(spawn(tools.ffmpeg.path, sendFileArgs(file, cam.ports.slice(0, 4)), { stdio: 'ignore' }));
  }
  const joinS = tl.black[0] - 0.5;
  await sleep(joinS * 1000);
  const c0 = parts.map((x) => cpuOfPid(x.p.pid));
  const span = tl.durationS - joinS - 1;
  await sleep(span * 1000);
  const c1 = parts.map((x) => cpuOfPid(x.p.pid));
  for (const x of senders) x.kill('SIGKILL');
  for (const x of parts) x.p.kill('SIGKILL');
  for (const cam of cams) cam.stop?.();
  const out = parts.map((x, i) => ({
    transport: x.transport,
    name: x.name,
    pct: c0[i] && c1[i] ? (100 * (c1[i][0] - c0[i][0])) / span : null,
  }));
  return { media: mediaName(m), span, load: load(), parts: out };
}

function printComponents(c) {
  console.log(
    `\n### Where the cost goes, ${c.media} (${c.span} s steady state, one receiver per part, load ${c.load})\n`,
  );
  console.log('| transport | part | % of a core | ÷ naive |');
  console.log('|---|---|---:|---:|');
  for (const x of c.parts) {
    const nv = c.parts.find((y) => y.transport === x.transport && y.name === 'naive full decode').pct;
    console.log(
      `| ${x.transport} | ${x.name} | ${x.pct === null ? 'ended' : `${x.pct.toFixed(2)} %`} | ${x.pct && nv ? (x.pct / nv).toFixed(3) : ''}× |`,
    );
  }
}

if (process.env.BENCH_MATRIX_COMPONENTS) {
  for (const m of mediaProfiles(process.env.BENCH_MATRIX_COMPONENTS)) {
    const tl = timeline(m.gopS, keyframeDelayS);
    const file = await encodeCached(tools.ffmpeg.path, m, tl, CACHE);
    const c = await components(m, file, tl);
    appendFileSync(RESULTS.replace(/\.jsonl$/, '') + '-components.jsonl', `${JSON.stringify(c)}\n`);
    printComponents(c);
  }
  process.exit(0);
}

if (process.env.BENCH_MATRIX_REPORT !== '1') {
  const done = new Set();
  if (process.env.BENCH_MATRIX_RESUME === '1' && existsSync(RESULTS))
    for (const line of readFileSync(RESULTS, 'utf8').split('\n')) if (line) done.add(JSON.parse(line).cell);
  mkdirSync(dirname(RESULTS), { recursive: true });
  const profiles = mediaProfiles(process.env.BENCH_MATRIX_CELLS);
  console.error(`${profiles.length} media profiles × ${TRANSPORTS.join(', ')}; load ${load()}`);
  for (const m of profiles) {
    const tl = timeline(m.gopS, keyframeDelayS);
    const file = await encodeCached(tools.ffmpeg.path, m, tl, CACHE, {
      cachedOnly: process.env.BENCH_MATRIX_CACHED_ONLY === '1',
    });
    if (!file) {
      console.error(`${mediaName(m)}: not encoded yet, skipped (BENCH_MATRIX_CACHED_ONLY=1)`);
      continue;
    }
    if (process.env.BENCH_MATRIX_ENCODE_ONLY === '1') continue;
    const todo = TRANSPORTS.filter((t) => !done.has(`${mediaName(m)}-${t}`));
    const runs =
      process.env.BENCH_MATRIX_SERIAL === '1'
        ? todo.map((t) => () => runCell(m, t, file, tl))
        : [() => Promise.all(todo.map((t) => runCell(m, t, file, tl)))];
    for (const run of runs) {
      const res = [await run()].flat();
      for (const r of res) {
        appendFileSync(RESULTS, `${JSON.stringify(r)}\n`);
        const ratio = (r.nodeCpu + r.ffCpu) / r.naiveCpu;
        console.error(
          `${r.cell}: ${r.modes.join('→')} ratio ${ratio.toFixed(3)} black ${r.latency.black} frozen ${r.latency.frozen} silence ${r.latency.silence} load ${r.load.join(' → ')}`,
        );
      }
    }
  }
}
report();
