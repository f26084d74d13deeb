// Cost and detection latency of the agent's source monitor (docs/agent-media.md "Cost").
//
// A synthetic H.264+AAC camera (ffmpeg: lavfi testsrc2, a moving picture with texture, plus
// temporal sensor-like noise; libx264 superfast High profile with CABAC, deblocking and 2 B-frames,
// GOP 1 s, 2.5 Mb/s at 720p and 4 Mb/s at 1080p; AAC stereo 48 kHz 96 kb/s) is encoded to a file
// ahead of the run, then sent in real time over UDP (ffmpeg -re, stream copy, each packet when due)
// through the tee muxer to two ports with the same media. The camera's encoder is not part of a
// classroom box's load, so it does not run beside the measured processes; BENCH_MEDIA_LIVE_ENCODE=1
// encodes live instead, as runs before 2026-12-01 did (it takes most of a core beside them):
// - the agent's monitor (built code, agent/dist/media) on port A, as the agent runs it;
// - a naive full-decode analysis on port B: one ffmpeg decoding every frame at full size with
//   blackdetect, freezedetect, silencedetect and ebur128 (the baseline of the issue).
// CPU = utime+stime from /proc: for the agent, this node process (process.cpuUsage) plus every
// ffmpeg its monitor ran; for the naive one, its ffmpeg. The sender is the camera: not counted.
// The stream carries black, frozen and silent periods; latency = event arrival - fault onset.
//
// BENCH_MEDIA_S (default 60) sets the length of each run;
// BENCH_MEDIA_PROFILES=720p25,1080p30,720p25-gop2-nob (GOP 2 s without B-frames: common IP camera defaults);
// a -hevc suffix encodes H.265 (libx265 superfast, Main) instead, e.g. 720p25-gop4-hevc.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { freeUdpPort } from './lib/box-processes.mjs';
import {
  cameraEncoderArgs,
  firstDatagramMarker,
  naiveArgs,
  sendFileArgs,
  teeOf,
} from './lib/camera-media.mjs';
import { cpuOf, cpuOfPid } from './lib/proc-cpu.mjs';

const { createSourceMonitor, withDefaults } = await import(
  new URL('../agent/dist/media/index.js', import.meta.url).href
);
const { keyframeDelayS } = await import(new URL('../agent/dist/media/monitor.js', import.meta.url).href);
const { buildPlan } = await import(new URL('../agent/dist/media/pipeline.js', import.meta.url).href);
const { locateFfmpeg } = await import(new URL('../agent/dist/ffmpeg/locate.js', import.meta.url).href);

const D = Number(process.env.BENCH_MEDIA_S ?? 60);
const PROFILES = (process.env.BENCH_MEDIA_PROFILES ?? '720p25,1080p30,720p25-gop2-nob').split(',');
const LIVE_ENCODE = process.env.BENCH_MEDIA_LIVE_ENCODE === '1';
const workDir = mkdtempSync(join(tmpdir(), 'bench-media-'));
process.on('exit', () => rmSync(workDir, { recursive: true, force: true }));
const tools = locateFfmpeg();

// Fault timeline as fractions of D; min durations scale down for short runs.
const minS = { black: 2, frozen: Math.min(10, Math.round(D / 8)), silence: Math.min(10, Math.round(D / 8)) };
const faults = {
  black: [0.08 * D + 0.5, 0.08 * D + 0.5 + minS.black + 3],
  frozen: [0.35 * D + 0.5, 0.35 * D + 0.5 + minS.frozen + 4],
  silence: [0.7 * D + 0.5, 0.7 * D + 0.5 + minS.silence + 4],
};

/** `720p25` (16:9, GOP 1 s, 2 B-frames), or with `-gopN` (GOP N s) and `-nob` (no B-frames). */
function parseProfile(profile) {
  const m = /^(\d+)p(\d+)(?:-gop(\d+(?:\.\d+)?))?(-nob)?(-hevc)?$/.exec(profile);
  if (!m) throw new Error(`bad profile ${profile}: expected e.g. 720p25, 720p25-gop2-nob, 720p25-gop4-hevc`);
  const h = Number(m[1]);
  return {
    w: Math.round((h * 16) / 9),
    h,
    fps: Number(m[2]),
    gopS: Number(m[3] ?? 1),
    bframes: m[4] ? 0 : 2,
    hevc: Boolean(m[5]),
  };
}

/**
 * The camera's media: the profile's picture and sound with the fault timeline, encoded like an IP
 * camera (High profile with CABAC, deblocking and by default 2 B-frames, GOP 1 s, VBV 2.5 Mb/s at
 * 720p and 4 Mb/s at 1080p). `out` is either a file (encoded ahead, as fast as possible) or, with
 * `live`, the UDP tee.
 */
function encoderArgs(profile, out, live) {
  const { w, h, fps, gopS, bframes, hevc } = parseProfile(profile);
  const kbps = h >= 1080 ? 4000 : 2500;
  const codec = hevc ? 'h265' : 'h264';
  return cameraEncoderArgs({ w, h, fps, gopS, bframes, kbps, codec }, { seconds: D + 3, faults, out, live });
}

/** Encodes the profile's media to a file ahead of the run (a camera's encoder is not the box's load). */
async function encodeMedia(profile) {
  const file = join(workDir, `${profile}.ts`);
  const t0 = Date.now();
  const p = spawn(tools.ffmpeg.path, encoderArgs(profile, file, false), {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const code = await new Promise((r) => p.on('exit', r));
  if (code !== 0) throw new Error(`encoding the ${profile} media failed (ffmpeg exit ${code})`);
  console.error(`encoded ${D + 3} s of ${profile} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return file;
}

/**
 * The camera: sends the encoded file in real time (each packet when due, as an encoder would), or
 * with BENCH_MEDIA_LIVE_ENCODE=1 encodes it live on this machine as the earlier runs did.
 */
function camera(profile, file, ports) {
  const args = LIVE_ENCODE ? encoderArgs(profile, teeOf(ports), true) : sendFileArgs(file, ports);
  return spawn(tools.ffmpeg.path, args, { stdio: ['ignore', 'ignore', 'inherit'] });
}

function naive(port) {
  return spawn(tools.ffmpeg.path, naiveArgs(`udp://127.0.0.1:${port}`), {
    stdio: ['ignore', 'ignore', 'ignore'],
  });
}

async function runProfile(profile) {
  const file = LIVE_ENCODE ? null : await encodeMedia(profile);
  const [pa, pb] = [await freeUdpPort(), await freeUdpPort()];
  const events = [];
  const settings = {
    windowS: Number(process.env.BENCH_WINDOW_S ?? 10),
    thresholds: withDefaults({ blackMinS: minS.black, frozenMinS: minS.frozen, silenceMinS: minS.silence }),
  };
  const mon = createSourceMonitor(
    { id: 'cam', kind: 'camera', input: `udp://127.0.0.1:${pa}` },
    {
      log: pino({ level: process.env.BENCH_LOG ?? 'warn' }),
      clock: { now: () => Date.now() },
      ffmpeg: tools,
      settings: () => settings,
      onRecord: (r) => {
        if (r.kind === 'event') events.push({ ...r, arrived: Date.now() });
        else if (process.env.BENCH_LOG) console.error(JSON.stringify(r.video), JSON.stringify(r.audio));
      },
    },
  );
  const base = naive(pb);
  await mon.start();
  // Let both receivers bind before the camera starts.
  await new Promise((r) => setTimeout(r, 500));
  // Fault onsets count from the stream's first datagram (a third copy to a marker port), not from
  // the generator's spawn: the encoder's start-up and look-ahead are the camera's, not the agent's.
  const marker = await firstDatagramMarker();
  marker.arm();
  const gen = camera(profile, file, [pa, pb, marker.port]);
  // From here on this process does the agent's work (plus the sampler, measured and taken out);
  // forking the camera above is the bench's, not the agent's.
  const cpu0 = process.cpuUsage();
  await marker.arrival(10_000);
  // Sample every second: a restarted ffmpeg's CPU must not be lost with its process.
  const agentFf = new Map();
  const agentCmds = new Set();
  const isAgent = (c) => c.includes('metadata@cvm') && c.includes(`:${pa}?`);
  // The sampler runs in this process: its own CPU is measured and taken out of the agent's.
  let samplerCpu = 0;
  const sample = () => {
    const c0 = process.cpuUsage();
    for (const [pid, s] of cpuOf(isAgent, agentCmds)) agentFf.set(pid, s);
    const c = process.cpuUsage(c0);
    samplerCpu += (c.user + c.system) / 1e6;
  };
  const sampler = setInterval(sample, 1000);
  await new Promise((r) => setTimeout(r, D * 1000));
  clearInterval(sampler);
  sample();
  const naiveCpu = [...cpuOf((c) => c.includes(`:${pb}?`) && c.includes('blackdetect=d=2')).values()].reduce(
    (a, b) => a + b,
    0,
  );
  const cpu = process.cpuUsage(cpu0);
  const nodeCpu = (cpu.user + cpu.system) / 1e6 - samplerCpu;
  const ffCpu = [...agentFf.values()].reduce((a, b) => a + b, 0);
  await mon.stop();
  base.kill('SIGKILL');
  gen.kill('SIGKILL');
  const latency = {};
  for (const [name, type] of [
    ['black', 'video.black.start'],
    ['frozen', 'video.frozen.start'],
    ['silence', 'audio.silence.start'],
  ]) {
    const e = events.find((x) => x.type === type);
    latency[name] = e ? (e.arrived - (marker.startedAt() + faults[name][0] * 1000)) / 1000 : null;
  }
  // Decode modes the agent's ffmpeg ran in: keyframes only, or every reference frame (low fps).
  const modes = [...agentCmds].map((c) => (c.includes('\0nokey\0') ? 'keyframes' : 'low-fps'));
  return {
    profile,
    nodeCpu,
    ffCpu,
    naiveCpu,
    latency,
    modes: [...new Set(modes)],
    events: events.map((e) => e.type),
  };
}

/**
 * Where the agent's ffmpeg time goes: one more pass over the same media, the camera sending to one
 * receiver per part, all at once (same stream, same moment, same machine load). Each receiver opens
 * the UDP input exactly as the agent's ffmpeg does (the input half of its real command line):
 * - receive: demultiplex only, the price of reading the stream in real time;
 * - + keyframe decode: the same plus decoding every keyframe (the agent's decoder options);
 * - + audio chain: the agent's microphone pipeline (AAC decode and every audio filter);
 * - agent ffmpeg: the agent's whole camera command (buildPlan, as the monitor runs it);
 * - naive: the baseline, for the ratio.
 */
async function components(profile, file) {
  const { w, h, fps } = parseProfile(profile);
  const probe = {
    codec: 'h264',
    width: w,
    height: h,
    fps,
    sampleRate: 48000,
    channels: 2,
  };
  const t = withDefaults({ blackMinS: minS.black, frozenMinS: minS.frozen, silenceMinS: minS.silence });
  const ports = [];
  for (let i = 0; i < 5; i++) ports.push(await freeUdpPort());
  const plan = (kind, port) =>
    buildPlan({ id: kind, kind, input: `udp://127.0.0.1:${port}` }, probe, t, 'keyframes').args;
  const inputHalf = (args) => args.slice(0, args.indexOf('-filter_complex'));
  const camIn = (port) => inputHalf(plan('camera', port)).filter((a) => a !== '-progress' && a !== 'pipe:3');
  const parts = [
    ['receive (demultiplex)', [...camIn(ports[0]), '-map', '0', '-c', 'copy', '-f', 'null', '-']],
    ['receive + keyframe decode', [...camIn(ports[1]), '-map', '0:v:0', '-f', 'null', '-']],
    ['receive + audio chain (microphone pipeline)', plan('microphone', ports[2])],
    ['agent ffmpeg (whole camera command)', plan('camera', ports[3])],
  ];
  const procs = parts.map(([name, args]) => {
    const p = spawn(tools.ffmpeg.path, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe', 'pipe'] });
    for (const k of [2, 3, 4, 5]) p.stdio[k].resume();
    return { name, p };
  });
  procs.push({ name: 'naive full decode', p: naive(ports[4]) });
  await new Promise((r) => setTimeout(r, 500));
  const gen = camera(profile, file, ports);
  // Past start-up (probing), then a measured span.
  const span = Math.max(10, D - 10);
  await new Promise((r) => setTimeout(r, 6000));
  const c0 = procs.map((x) => cpuOfPid(x.p.pid));
  await new Promise((r) => setTimeout(r, span * 1000));
  const c1 = procs.map((x) => cpuOfPid(x.p.pid));
  gen.kill('SIGKILL');
  for (const x of procs) x.p.kill('SIGKILL');
  const gone = procs.filter((_, i) => Number.isNaN(c1[i]));
  if (gone.length)
    throw new Error(`components of ${profile}: ${gone.map((x) => x.name).join(', ')} ended early`);
  return { profile, span, parts: procs.map((x, i) => ({ name: x.name, cpu: c1[i] - c0[i] })) };
}

const load0 = loadavg()
  .map((x) => x.toFixed(2))
  .join(' ');
const results = [];
for (const p of PROFILES) results.push(await runProfile(p));
const parts = [];
if (!LIVE_ENCODE && process.env.BENCH_MEDIA_COMPONENTS !== '0') {
  for (const p of PROFILES) parts.push(await components(p, join(workDir, `${p}.ts`)));
}

console.log(`### Source monitor CPU, ${D} s of UDP H.264+AAC per profile (2-core VM, shared and loaded)\n`);
console.log(
  'Stream: testsrc2 + temporal noise, libx264 superfast High (CABAC, deblock, 2 B-frames unless -nob), GOP 1 s unless -gopN, ' +
    `2.5 Mb/s at 720p / 4 Mb/s at 1080p, AAC stereo 48 kHz, MPEG-TS over UDP, real time; ${LIVE_ENCODE ? 'encoded live beside the measured processes' : 'encoded ahead, sent by stream copy'}.`,
);
console.log(
  `Load average at start / end: ${load0} / ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}\n`,
);
console.log(
  '| profile | decode | agent node s | agent ffmpeg s | agent total s | % of one core | naive full decode s | ratio |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const r of results) {
  const total = r.nodeCpu + r.ffCpu;
  console.log(
    `| ${r.profile} | ${r.modes.join(' → ')} | ${r.nodeCpu.toFixed(2)} | ${r.ffCpu.toFixed(2)} | ${total.toFixed(2)} | ${((100 * total) / D).toFixed(1)} % | ${r.naiveCpu.toFixed(2)} | ${(total / r.naiveCpu).toFixed(3)}× |`,
  );
}
console.log(
  '\n### Detection latency after fault onset (event arrival − onset; target: min duration + the documented worst delay of the mode, docs/agent-media.md "Cost")\n',
);
console.log('| profile | fault | min duration s | latency s | target s | met |');
console.log('|---|---|---|---|---|---|');
for (const r of results) {
  for (const name of ['black', 'frozen', 'silence']) {
    const l = r.latency[name];
    // Keyframe mode: one GOP + the minimum in whole GOPs + the decoder's hold (B-frames × GOP),
    // plus 1 s of read batches; low-fps mode and audio: the minimum + 3 s.
    const { gopS, bframes } = parseProfile(r.profile);
    const kf = name !== 'silence' && r.modes.length === 1 && r.modes[0] === 'keyframes';
    const target = kf ? minS[name] + keyframeDelayS(gopS, bframes * gopS, minS[name]) + 1 : minS[name] + 3;
    console.log(
      `| ${r.profile} | ${name} | ${minS[name]} | ${l === null ? 'not detected' : l.toFixed(1)} | ${target} | ${l !== null && l <= target ? 'yes' : 'no'} |`,
    );
  }
}
for (const c of parts) {
  const naiveCpu = c.parts.at(-1).cpu;
  const receive = c.parts[0].cpu;
  console.log(
    `\n### Where the agent's ffmpeg time goes, ${c.profile} (${c.span} s, one receiver per part, same stream)\n`,
  );
  console.log('| part | CPU s | % of one core | above receive | ÷ naive |');
  console.log('|---|---:|---:|---:|---:|');
  for (const x of c.parts) {
    const above =
      x === c.parts[0] || x === c.parts.at(-1) ? '' : `+${((100 * (x.cpu - receive)) / c.span).toFixed(2)} %`;
    console.log(
      `| ${x.name} | ${x.cpu.toFixed(2)} | ${((100 * x.cpu) / c.span).toFixed(2)} % | ${above} | ${(x.cpu / naiveCpu).toFixed(3)}× |`,
    );
  }
}
console.log(`\nEvents seen: ${results.map((r) => `${r.profile}: ${r.events.join(', ')}`).join('; ')}`);
