// RTSP input for real (docs/agent-media.md "Supported inputs"): a GStreamer RTSP server (helpers/rtsp_server.py) serves an
// H.264 + AAC camera; the monitor reads it over TCP interleaved transport with a socket timeout. The
// server is frozen (SIGSTOP: the connection stays open, no data — a hung camera), then killed and
// started again on the same port.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSourceMonitor } from '../src/media/monitor.js';
import { recorder, tools, waitFor } from './media-support.js';

const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const SERVER = new URL('./helpers/rtsp_server.py', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'agent-rtsp-'));
const media = join(dir, 'cam.ts');
const servers = new Set<ChildProcess>();

/** Starts the RTSP server; resolves with its port once it listens. */
async function startServer(port = 0): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(PYTHON, [SERVER, media, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  servers.add(proc);
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).once('line', resolve);
    proc.once('exit', (code) =>
      reject(
        new Error(
          `RTSP server exited (${code}): ${err.trim().slice(-400)}\n` +
            'install: apt-get install python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad',
        ),
      ),
    );
  });
  return { proc, port: Number(line) };
}

/** Command lines of running ffmpeg processes that mention `needle`. */
function ffmpegCommands(needle: string): string[][] {
  const out: string[][] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (/(^|\/)ffmpeg$/.test(args[0] ?? '') && args.some((a) => a.includes(needle))) out.push(args);
    } catch {
      /* gone */
    }
  }
  return out;
}

beforeAll(() => {
  // 60 s of a 320x180 camera with a keyframe a second and stereo AAC, made at test time.
  execFileSync(tools.ffmpeg.path, [
    ...['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=s=320x180:r=25'],
    ...['-f', 'lavfi', '-i', 'sine=f=440:r=48000,pan=stereo|c0=c0|c1=0.5*c0', '-t', '60'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-sc_threshold', '0', '-pix_fmt', 'yuv420p'],
    ...['-c:a', 'aac', '-b:a', '64k', '-f', 'mpegts', media],
  ]);
});

afterAll(() => {
  for (const p of servers) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('RTSP camera', () => {
  it('is read over TCP with a socket timeout; a hung and a restarted server give source.down and source.up', async () => {
    const first = await startServer();
    const url = `rtsp://127.0.0.1:${first.port}/cam`;
    const rec = recorder({ sourceStaleS: 3 }, 2);
    const mon = createSourceMonitor({ id: 'cam-rtsp', kind: 'camera', input: url }, rec.ctx);
    await mon.start();
    try {
      await waitFor(() => mon.status().state === 'running', 25_000, 'running');
      // The monitor's one ffmpeg: TCP interleaved transport, 3 s socket timeout, keyframes only.
      const cmds = ffmpegCommands(url);
      expect(cmds).toHaveLength(1);
      const cmd = cmds[0]!.join(' ');
      expect(cmd).toContain('-rtsp_transport tcp');
      expect(cmd).toContain('-timeout 3000000');
      expect(cmd).toContain('-skip_frame nokey');
      expect(await mon.probe()).toMatchObject({
        codec: 'h264',
        width: 320,
        height: 180,
        audioCodec: 'aac',
        sampleRate: 48000,
        channels: 2,
      });
      await waitFor(() => rec.windows.length >= 3, 30_000, 'capture windows');
      const w = rec.windows.at(-1)!;
      expect(w.video!.fps).toBeGreaterThan(20);
      expect(w.video!.fps).toBeLessThan(30);
      expect(w.video!.keyframes).toBeGreaterThanOrEqual(1);
      expect(w.video!.bitrateKbps).toBeGreaterThan(20);
      expect(w.video!.blackRatio).toBe(0);
      expect(w.audio!.rmsDb).toBeGreaterThan(-30);
      expect(w.audio!.silenceRatio).toBe(0);

      // A hung camera: the TCP connection stays up but nothing arrives.
      // ffmpeg's socket timeout or the watchdog (both 3 s) ends the run; the bound only keeps the
      // test from waiting forever.
      // Before the hang, a server starved for sourceStaleS (3 s) by a loaded machine is a real if
      // brief outage: it can only show as a down followed by an up.
      const nBefore = rec.events.length;
      const before = rec.events.map((e) => e.type);
      expect(before).toEqual(before.map((_, k) => (k % 2 === 0 ? 'source.down' : 'source.up')));
      const sinceHang = () => rec.events.slice(nBefore).map((e) => e.type);
      first.proc.kill('SIGSTOP');
      await waitFor(() => sinceHang().includes('source.down'), 20_000, 'source.down');
      expect(mon.status().state).toBe('down');
      expect(mon.status().reason).toBeTruthy();
      first.proc.kill('SIGKILL');
      await new Promise((r) => first.proc.once('exit', r));

      // The camera comes back on the same address.
      const nWindows = rec.windows.length;
      await startServer(first.port);
      await waitFor(() => sinceHang().includes('source.up'), 40_000, 'source.up');
      await waitFor(() => rec.windows.length > nWindows + 1, 20_000, 'windows after up');
      // The hang is one down and the restart one up; a starved server afterwards adds pairs.
      const after = sinceHang();
      expect(after.slice(0, 2)).toEqual(['source.down', 'source.up']);
      expect(after).toEqual(after.map((_, k) => (k % 2 === 0 ? 'source.down' : 'source.up')));
      expect(rec.windows.at(-1)!.video!.fps).toBeGreaterThan(20);
      expect(mon.status().state).toBe('running');
    } finally {
      await mon.stop();
    }
    // No ffmpeg of the monitor is left behind.
    expect(ffmpegCommands(url)).toEqual([]);
  }, 120_000);
});
