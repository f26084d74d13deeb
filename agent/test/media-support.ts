// Shared helpers of the media tests: synthetic cameras streamed with a real ffmpeg over UDP.
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import type { Thresholds } from '@classroom/protocol';
import pino from 'pino';
import { locateFfmpeg } from '../src/ffmpeg/locate.js';
import { withDefaults } from '../src/media/defaults.js';
import type { CaptureWindow, MonitorContext, MonitorSettings, SourceEvent } from '../src/media/types.js';

export const tools = locateFfmpeg();

/** A free UDP port on loopback (bound and released; the generator sends, the monitor binds). */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface GenOptions {
  port: number;
  /** Seconds of output. */
  duration: number;
  /** Extra video filters after the test pattern, e.g. a black box between two times. */
  vf?: string;
  /** Extra audio filters after the stereo tone. */
  af?: string;
  size?: string;
  rate?: number;
  gop?: number;
  /** B-frames between references (x264 `-bf`); 0 (the zerolatency tune) unless given. */
  bframes?: number;
  audio?: boolean;
}

const procs = new Set<ChildProcess>();
const origins = new WeakMap<ChildProcess, number>();

/**
 * Wall time (ms) at which the generator's media time 0 went out, learnt from its `-progress`
 * reports: each is read late by a varying amount (a loaded machine), never early, so the smallest
 * wall − out_time is the best estimate. Media tests measure onsets and detection delays from it:
 * the generator's own start-up, seconds on a machine at load 20+, is not the agent's delay.
 * Undefined until the first report (about 0.5 s after the generator starts streaming).
 */
export function generatorOrigin(p: ChildProcess): number | undefined {
  return origins.get(p);
}

/** Streams H.264 (+AAC) MPEG-TS in real time to udp://127.0.0.1:port, like a network camera. */
export function startGenerator(o: GenOptions): ChildProcess {
  const rate = o.rate ?? 25;
  const v = `testsrc2=s=${o.size ?? '320x180'}:r=${rate}${o.vf ? `,${o.vf}` : ''}`;
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', v];
  if (o.audio !== false) {
    // Two different tones, so that a dead channel is visible per channel.
    const a = `sine=f=440:r=48000,pan=stereo|c0=c0|c1=0.5*c0${o.af ? `,${o.af}` : ''}`;
    args.push('-f', 'lavfi', '-i', a);
  }
  args.push('-t', String(o.duration), '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency');
  // No scene-cut keyframes: the GOP is exactly what the test asks for.
  args.push('-g', String(o.gop ?? rate), '-sc_threshold', '0', '-pix_fmt', 'yuv420p');
  if (o.bframes) args.push('-bf', String(o.bframes));
  if (o.audio !== false) args.push('-c:a', 'aac', '-b:a', '64k');
  args.push('-progress', 'pipe:1', '-stats_period', '0.5');
  args.push('-f', 'mpegts', `udp://127.0.0.1:${o.port}?pkt_size=1316`);
  const p = spawn(tools.ffmpeg.path, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  p.stderr?.on('data', (d: Buffer) => process.stderr.write(`[generator] ${d}`));
  let rest = '';
  p.stdout?.setEncoding('utf8');
  p.stdout?.on('data', (d: string) => {
    const now = Date.now();
    const lines = (rest + d).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      const m = /^out_time_us=(\d+)/.exec(line);
      if (!m) continue;
      const origin = now - Number(m[1]) / 1000;
      const seen = origins.get(p);
      if (seen === undefined || origin < seen) origins.set(p, origin);
    }
  });
  procs.add(p);
  p.once('exit', () => procs.delete(p));
  return p;
}

export function killProc(p: ChildProcess, sig: NodeJS.Signals = 'SIGKILL'): void {
  if (p.pid !== undefined && p.exitCode === null && p.signalCode === null) {
    try {
      process.kill(-p.pid, sig);
    } catch {
      /* already gone */
    }
  }
}

export function killAllGenerators(): void {
  for (const p of procs) killProc(p);
}

export interface Recorder {
  ctx: MonitorContext;
  events: SourceEvent[];
  windows: CaptureWindow[];
  /** Seconds since the recorder was created, at which each event arrived. */
  arrivals: number[];
  t0: number;
}

export function recorder(thresholds: Thresholds, windowS: number, ffmpeg = tools): Recorder {
  const settings: MonitorSettings = { windowS, thresholds: withDefaults(thresholds) };
  const r: Recorder = {
    events: [],
    windows: [],
    arrivals: [],
    t0: Date.now(),
    ctx: {
      log: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
      clock: { now: () => Date.now() },
      ffmpeg,
      settings: () => settings,
      onRecord: (rec) => {
        if (rec.kind === 'event') {
          r.events.push(rec);
          r.arrivals.push((Date.now() - r.t0) / 1000);
        } else r.windows.push(rec);
      },
    },
  };
  return r;
}

/** Polls until `cond` holds, failing with `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
