// Processes of a classroom box for the benches that run the agent as it is deployed: the camera
// (media encoded ahead, sent in real time), a `classroom-hub serve` process, `classroom-agent`
// processes, and CPU readings of any of them from /proc.
import { execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { cameraEncoderArgs, sendFileArgs } from './camera-media.mjs';

export {
  CpuTally,
  cpuOf,
  cpuOfPid,
  cpuTimesOfPid,
  threadCpuOfPid,
} from './proc-cpu.mjs';

const { locateFfmpeg } = await import(new URL('../../agent/dist/ffmpeg/locate.js', import.meta.url).href);

export const HUB_BIN = new URL('../../hub/bin/classroom-hub.js', import.meta.url).pathname;
export const AGENT_BIN = new URL('../../agent/bin/classroom-agent.js', import.meta.url).pathname;
export const ADMIN_TOKEN = 'bench-admin-token-0123456789';
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
  const args = cameraEncoderArgs({ w, h, fps, gopS, bframes, kbps }, { seconds, out: file });
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
  return spawn(tools.ffmpeg.path, sendFileArgs(file, ports, { loop: true }), {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
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

/**
 * Spawns a `classroom-hub serve` process (embedded broker + SQLite) in a process group of its own;
 * `listening` resolves with its `hub.listening` log line, polled every `everyMs`.
 */
export function spawnHubProcess(dataDir, mqttPort, { everyMs = 100 } = {}) {
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
  const listening = waitFor(
    () => out.split('\n').find((l) => l.includes('"hub.listening"')),
    'hub.listening',
    60_000,
    everyMs,
  ).then((line) => JSON.parse(line));
  return { child, listening };
}

/** A `classroom-hub serve` process; resolves once it listens, with a GET helper for its admin API. */
export async function startHubProcess(dataDir, mqttPort) {
  const { child, listening } = spawnHubProcess(dataDir, mqttPort);
  const { httpPort } = await listening;
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
