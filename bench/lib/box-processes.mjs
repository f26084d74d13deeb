// Processes of a classroom box for the benches that run the agent as it is deployed: the camera
// (media encoded ahead, sent in real time), a `classroom-hub serve` process, `classroom-agent`
// processes, and CPU readings of any of them from /proc.
import { execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const { locateFfmpeg } = await import(new URL('../../agent/dist/ffmpeg/locate.js', import.meta.url).href);

export const HUB_BIN = new URL('../../hub/bin/classroom-hub.js', import.meta.url).pathname;
export const AGENT_BIN = new URL('../../agent/bin/classroom-agent.js', import.meta.url).pathname;
export const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const TCK = 100; // Linux USER_HZ
export const tools = locateFfmpeg();

export const freeTcpPort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

export async function freeUdpPort() {
  const s = createSocket('udp4');
  await new Promise((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

export async function waitFor(fn, what, timeoutMs = 60_000, everyMs = 100) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** utime+stime in seconds of one process, or NaN once it has gone. */
export function cpuOfPid(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TCK;
  } catch {
    return Number.NaN;
  }
}

/**
 * utime+stime in seconds of one process (`self`) and of its children that it has reaped
 * (`reaped`: cutime+cstime, i.e. short-lived helpers it ran and waited for), or NaN once gone.
 */
export function cpuTimesOfPid(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { self: (Number(f[11]) + Number(f[12])) / TCK, reaped: (Number(f[13]) + Number(f[14])) / TCK };
  } catch {
    return { self: Number.NaN, reaped: Number.NaN };
  }
}

/**
 * CPU seconds of every thread of a process, from the scheduler's nanosecond accounting
 * (/proc/PID/task/TID/schedstat): far finer than the 10 ms ticks of /proc/PID/stat, which a
 * process using a few ms a second needs. Threads that ended are not counted (Node's are not
 * short-lived). NaN once the process has gone.
 */
export function threadCpuOfPid(pid) {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        /* thread ended */
      }
    }
    return ns / 1e9;
  } catch {
    return Number.NaN;
  }
}

/** utime+stime in seconds of every process whose command line matches, by pid. */
export function cpuOf(match) {
  const out = new Map();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!match(cmd)) continue;
      const cpu = cpuOfPid(pid);
      if (!Number.isNaN(cpu)) out.set(pid, cpu);
    } catch {
      /* process ended between readdir and read */
    }
  }
  return out;
}

/**
 * CPU of a changing set of processes over a span: sample() every second keeps the last reading
 * of each (a restarted ffmpeg's time is not lost with its process); `total()` is the time spent
 * since begin().
 */
export class CpuTally {
  constructor(match) {
    this.match = match;
    this.base = new Map();
    this.last = new Map();
  }
  begin() {
    this.base = cpuOf(this.match);
    this.last = new Map(this.base);
  }
  sample() {
    for (const [pid, s] of cpuOf(this.match)) this.last.set(pid, s);
  }
  total() {
    let t = 0;
    for (const [pid, s] of this.last) t += s - (this.base.get(pid) ?? 0);
    return t;
  }
  processes() {
    return this.last.size;
  }
}

/**
 * A classroom IP camera's media: a moving, textured picture with temporal sensor-like noise and a
 * tone, H.264 High (x264 superfast, CABAC, deblocking, `bframes` B-frames, GOP `gopS`, VBV 2.5 Mb/s at
 * 720p) + AAC stereo 48 kHz in MPEG-TS, encoded to `file` ahead of the run: the camera's encoder is
 * not the box's load.
 */
export async function encodeCamera(
  file,
  { w = 1280, h = 720, fps = 25, gopS = 1, bframes = 2, seconds = 30 } = {},
) {
  const kbps = h >= 1080 ? 4000 : 2500;
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error'];
  args.push('-f', 'lavfi', '-i', `testsrc2=s=${w}x${h}:r=${fps},noise=alls=6:allf=t`);
  args.push('-f', 'lavfi', '-i', 'sine=f=440:r=48000,pan=stereo|c0=c0|c1=0.5*c0');
  args.push('-t', String(seconds), '-map', '0:v', '-map', '1:a', '-c:v', 'libx264', '-preset', 'superfast');
  args.push(
    '-profile:v',
    'high',
    '-bf',
    String(bframes),
    '-g',
    String(Math.round(gopS * fps)),
    '-sc_threshold',
    '0',
  );
  args.push('-b:v', `${kbps}k`, '-maxrate', `${Math.round(kbps * 1.2)}k`, '-bufsize', `${kbps}k`);
  args.push('-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '96k', '-y', '-f', 'mpegts', file);
  const p = spawn(tools.ffmpeg.path, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const code = await new Promise((r) => p.on('exit', r));
  if (code !== 0) throw new Error(`encoding the camera media failed (ffmpeg exit ${code})`);
}

/**
 * The camera on the network: sends `file` in real time (each packet when due), looped, by stream
 * copy through the tee muxer to every UDP port, so every receiver gets the same media at the same
 * moment. onfail=ignore: one receiver's absence does not stop the others.
 */
export function sendCamera(file, ports) {
  const tee = ports.map((p) => `[f=mpegts:onfail=ignore]udp://127.0.0.1:${p}?pkt_size=1316`).join('|');
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', file];
  args.push('-map', '0', '-c', 'copy', '-f', 'tee', tee);
  return spawn(tools.ffmpeg.path, args, { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Registers a box with the hub (its data dir); returns the box's MQTT password. */
export function addAgent(hubDir, agent, room) {
  const out = execFileSync(process.execPath, [
    HUB_BIN,
    'agents',
    'add',
    '--agent',
    agent,
    '--room',
    room,
    '--data-dir',
    hubDir,
  ]);
  return JSON.parse(out.toString()).password;
}

/** A `classroom-hub serve` process (embedded broker + SQLite); resolves once it listens. */
export async function startHubProcess(dataDir, mqttPort) {
  const child = spawn(
    process.execPath,
    [
      HUB_BIN,
      'serve',
      '--data-dir',
      dataDir,
      '--mqtt-port',
      String(mqttPort),
      '--http-port',
      '0',
      '--admin-token',
      ADMIN_TOKEN,
    ],
    { detached: true, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, LOG_LEVEL: 'warn' } },
  );
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
    if (out.length > 200_000) out = out.slice(-100_000);
  });
  const line = await waitFor(
    () => out.split('\n').find((l) => l.includes('"hub.listening"')),
    'hub.listening',
    60_000,
  );
  const { httpPort } = JSON.parse(line);
  const api = async (path) => {
    const res = await fetch(`http://127.0.0.1:${httpPort}${path}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  return { child, httpPort, api };
}

/** Stops a process group started detached: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopGroup(child, graceMs = 15_000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
  }, graceMs);
  await gone;
  clearTimeout(timer);
}
