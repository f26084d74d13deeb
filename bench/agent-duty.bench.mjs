// Weekly average cost of one camera under the off-hours duty cycle (docs/agent-media.md "Duty cycle"),
// against a naive full decode of the same live stream, measured in the same run.
//
// One camera stream (testsrc2 + temporal noise, libx264 superfast High, 2 B-frames, GOP 1 s,
// 2.5 Mb/s, AAC stereo; encoded ahead, sent in real time over UDP MPEG-TS to two ports) feeds:
// - the agent's monitor (agent/dist/media), first continuously for BENCH_DUTY_FULL_S (full watch),
//   (start-up included) then through BENCH_DUTY_SLOTS duty slots: started, run for BENCH_DUTY_ON_S, stopped, idle for
//   BENCH_DUTY_OFF_S (the slot's start-up: ffprobe, ffmpeg, joining the stream, is in its cost);
// - a naive full-decode ffmpeg (blackdetect, freezedetect, silencedetect, ebur128) for the whole run.
// CPU: this process (process.cpuUsage) plus the agent's ffmpeg/ffprobe children, from the
// kernel's children counters (cutime+cstime of /proc/self/stat), read after each has exited. The weekly average takes a timetable of 8 classes of 45 min on 5 days,
// full watch from 10 min before each class to its end, and the duty cycle (20 s every 5 min) the
// rest of the week, with the measured full-watch rate, slot cost and idle rate.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { encodeCamera, freeUdpPort, tools } from './lib/box-processes.mjs';
import { naiveArgs, sendFileArgs } from './lib/camera-media.mjs';
import { cpuOfPid, cpuTimesOfPid } from './lib/proc-cpu.mjs';

const { createSourceMonitor, withDefaults } = await import(
  new URL('../agent/dist/media/index.js', import.meta.url).href
);

const FULL_S = Number(process.env.BENCH_DUTY_FULL_S ?? 60);
const ON_S = Number(process.env.BENCH_DUTY_ON_S ?? 20);
const OFF_S = Number(process.env.BENCH_DUTY_OFF_S ?? 8);
const SLOTS = Number(process.env.BENCH_DUTY_SLOTS ?? 3);
const workDir = mkdtempSync(join(tmpdir(), 'bench-duty-'));
process.on('exit', () => rmSync(workDir, { recursive: true, force: true }));
const load0 = loadavg()
  .map((x) => x.toFixed(2))
  .join(' ');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const span = FULL_S + SLOTS * (ON_S + OFF_S) + 15;
const file = join(workDir, 'cam.ts');
await encodeCamera(file, { seconds: span });

const [pa, pb] = [await freeUdpPort(), await freeUdpPort()];
const naive = spawn(tools.ffmpeg.path, naiveArgs(`udp://127.0.0.1:${pb}`), { stdio: 'ignore' });
const settings = { windowS: 10, thresholds: withDefaults({}) };
const mon = createSourceMonitor(
  { id: 'cam', kind: 'camera', input: `udp://127.0.0.1:${pa}` },
  {
    log: pino({ level: process.env.BENCH_LOG ?? 'warn' }),
    clock: { now: () => Date.now() },
    ffmpeg: tools,
    settings: () => settings,
    onRecord: () => {},
  },
);
await sleep(500);
const camera = spawn(tools.ffmpeg.path, sendFileArgs(file, [pa, pb]), {
  stdio: ['ignore', 'ignore', 'inherit'],
});

/**
 * The agent's CPU so far: this process plus its exited, reaped children (the kernel's cutime and
 * cstime). Read only with the monitor stopped, so that its ffmpeg and ffprobe have exited; the camera
 * and the naive decoder are alive until the end and so not counted.
 */
const agentCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6 + cpuTimesOfPid('self').reaped;
};

// Full watch: FULL_S from the monitor's start (its start-up included, so slightly pessimistic).
let a0 = agentCpu();
let n0 = cpuOfPid(naive.pid);
await mon.start();
await sleep(FULL_S * 1000);
await mon.stop();
const fullAgent = agentCpu() - a0;
const fullNaive = cpuOfPid(naive.pid) - n0;
await sleep(1000);

// Duty slots: the whole slot (start-up included) and the idle part after it.
const slotCosts = [];
let idleCost = 0;
a0 = agentCpu();
n0 = cpuOfPid(naive.pid);
const d0 = Date.now();
for (let i = 0; i < SLOTS; i++) {
  const s0 = agentCpu();
  await mon.start();
  await sleep(ON_S * 1000);
  await mon.stop();
  const s1 = agentCpu();
  slotCosts.push(s1 - s0);
  await sleep(OFF_S * 1000);
  idleCost += agentCpu() - s1;
}
const dutyNaive = cpuOfPid(naive.pid) - n0;
const dutySpan = (Date.now() - d0) / 1000;
camera.kill('SIGKILL');
naive.kill('SIGKILL');

const naiveRate = (fullNaive / FULL_S + dutyNaive / dutySpan) / 2;
const fullRate = fullAgent / FULL_S;
const slot = slotCosts.reduce((a, b) => a + b, 0) / SLOTS;
const idleRate = idleCost / (SLOTS * OFF_S);
// Week: 8 classes × (45 min + 10 min pre-class check) × 5 days at full watch; the rest on the cycle.
const weekS = 7 * 24 * 3600;
const fullS = 5 * 8 * 55 * 60;
const everyS = 300;
const onS = 20;
const dutyS = weekS - fullS;
const dutyRate = (slot * (ON_S > 0 ? onS / ON_S : 1) + idleRate * (everyS - onS)) / everyS;
const weekRate = (fullS * fullRate + dutyS * dutyRate) / weekS;
const pct = (x) => `${(100 * x).toFixed(2)} %`;

console.log('### Duty cycle: weekly average cost per camera (720p25 H.264, GOP 1 s, 2 B-frames, UDP)\n');
console.log(
  `Load average at start / end: ${load0} / ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}; full watch ${FULL_S} s, ${SLOTS} slots of ${ON_S} s on + ${OFF_S} s off.\n`,
);
console.log('| measured | value |');
console.log('|---|---|');
console.log(`| naive full decode, share of a core | ${pct(naiveRate)} |`);
console.log(
  `| agent at full watch, share of a core | ${pct(fullRate)} (${(fullRate / naiveRate).toFixed(3)}×) |`,
);
console.log(
  `| one ${ON_S} s duty slot incl. start-up, CPU s | ${slotCosts.map((c) => c.toFixed(2)).join(', ')} |`,
);
console.log(`| agent between slots, share of a core | ${pct(idleRate)} |`);
console.log(
  `| duty cycle (20 s every 5 min), share of a core | ${pct(dutyRate)} (${(dutyRate / naiveRate).toFixed(3)}×) |`,
);
console.log(
  `| **week** (8 × 45 min classes on 5 days, pre-check 10 min; ${((100 * fullS) / weekS).toFixed(1)} % at full watch) | **${pct(weekRate)} = ${(weekRate / naiveRate).toFixed(3)}× the naive full decode** |`,
);
console.log(`| continuous watching all week | ${(fullRate / naiveRate).toFixed(3)}× |`);
process.exit(0);
