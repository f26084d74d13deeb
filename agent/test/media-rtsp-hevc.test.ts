// An H.265 camera over RTSP/TCP with a 4 s GOP and 2 B-frames, the longest GOP the default delay
// budget keeps on keyframes (docs/agent-media.md "Cost": 14 s worst delay beyond the minimum, within
// maxDetectionDelayS 15 s). A GStreamer RTSP server (helpers/rtsp_server.py) serves media made at
// test time; the monitor must stay on keyframe-only decoding and report frozen and black within the
// documented delay, their onsets (ts) as far apart as in the media.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_THRESHOLDS } from '../src/media/defaults.js';
import { createSourceMonitor, keyframeDelayS } from '../src/media/monitor.js';
import { recorder, tools, waitFor } from './media-support.js';

const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const SERVER = new URL('./helpers/rtsp_server.py', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'agent-rtsp-hevc-'));
const media = join(dir, 'cam.ts');
const servers = new Set<ChildProcess>();
const RATE = 25;

beforeAll(() => {
  // 64 s of 256x144 H.265 (GOP 4 s, 2 B-frames, no scene-cut keyframes) + AAC: frozen from 12 s to
  // 30 s (keyframes 12–28 s alike, 32 s differs), black from 40 s to 51 s (keyframes 40–48 s).
  const v =
    `testsrc2=s=256x144:r=${RATE},split[a][b];[a][b]freezeframes=first=${12 * RATE}:last=${30 * RATE}:replace=${12 * RATE},` +
    `drawbox=enable='between(t,40,51)':c=black:t=fill`;
  execFileSync(tools.ffmpeg.path, [
    ...['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', v],
    ...['-f', 'lavfi', '-i', 'sine=f=440:r=48000,pan=stereo|c0=c0|c1=0.5*c0', '-t', '64'],
    ...['-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error:scenecut=0'],
    ...['-bf', '2', '-g', String(4 * RATE), '-pix_fmt', 'yuv420p'],
    ...['-c:a', 'aac', '-b:a', '64k', '-f', 'mpegts', media],
  ]);
}, 300_000);

afterAll(() => {
  for (const p of servers) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function startServer(): Promise<number> {
  const proc = spawn(PYTHON, [SERVER, media, '0', 'h265'], { stdio: ['ignore', 'pipe', 'pipe'] });
  servers.add(proc);
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`RTSP server exited (${code}): ${err.trim().slice(-400)}`)));
  });
  return Number(line);
}

describe('H.265 over RTSP, GOP 4 s with 2 B-frames', () => {
  it('stays on keyframes; frozen and black arrive within the documented delay, onsets as in the media', async () => {
    const port = await startServer();
    const rec = recorder({ blackMinS: 2, frozenMinS: 10 }, 5);
    const mon = createSourceMonitor(
      { id: 'cam-hevc', kind: 'camera', input: `rtsp://127.0.0.1:${port}/cam` },
      rec.ctx,
    );
    await mon.start();
    try {
      expect(await mon.probe()).toMatchObject({ codec: 'hevc', width: 256, height: 144 });
      await waitFor(() => rec.events.some((e) => e.type === 'video.black.end'), 110_000, 'black end');
      expect(rec.events.map((e) => e.type)).toEqual([
        'video.frozen.start',
        'video.frozen.end',
        'video.black.start',
        'video.black.end',
      ]);
      expect(mon.status().decode).toBe('keyframes');
      // Windows count one decoded picture per keyframe: at most 2 in 5 s at a 4 s GOP.
      const full = rec.windows.filter((w) => w.video && (w.end - w.start) / 1000 >= 5 - 0.01);
      expect(full.length).toBeGreaterThan(3);
      for (const w of full.slice(1)) expect(w.video!.keyframes).toBeLessThanOrEqual(2);
      const ev = (type: string) => rec.events.find((e) => e.type === type)!;
      const arrivedAfterTs = (type: string) =>
        rec.arrivals[rec.events.findIndex((e) => e.type === type)]! - (ev(type).ts - rec.t0) / 1000;
      // The documented worst delay beyond each minimum at this GOP and hold (2 GOPs), + 2 s for the
      // 500 ms read batches on a loaded machine.
      const black = keyframeDelayS(4, 8, 2);
      const frozen = keyframeDelayS(4, 8, 10);
      expect([black, frozen]).toEqual([14, 14]);
      expect(black).toBeLessThanOrEqual(DEFAULT_THRESHOLDS.maxDetectionDelayS);
      expect(arrivedAfterTs('video.frozen.start')).toBeLessThan(10 + frozen + 2);
      expect(arrivedAfterTs('video.black.start')).toBeLessThan(2 + black + 2);
      // ts is the onset in media time: the gap between the two onsets is the media's (28 s, give or
      // take a GOP), and each fault lasts as its keyframes say (20 s and 12 s, ± one GOP).
      const gapS = (ev('video.black.start').ts - ev('video.frozen.start').ts) / 1000;
      expect(gapS).toBeGreaterThan(28 - 4.5);
      expect(gapS).toBeLessThan(28 + 4.5);
      expect(Number(ev('video.frozen.end').detail?.durationS)).toBeGreaterThan(20 - 4.5);
      expect(Number(ev('video.frozen.end').detail?.durationS)).toBeLessThan(20 + 4.5);
      expect(Number(ev('video.black.end').detail?.durationS)).toBeGreaterThan(12 - 4.5);
      expect(Number(ev('video.black.end').detail?.durationS)).toBeLessThan(12 + 4.5);
      // No event can come before its minimum has passed since its onset: a ts late by a decoder
      // hold would break that (Analyzer.wallOf; the hold itself is unit-tested in
      // media-analyzer.test.ts, x265's stream here may have none).
      expect(arrivedAfterTs('video.black.start')).toBeGreaterThan(2 - 0.5);
      expect(arrivedAfterTs('video.frozen.start')).toBeGreaterThan(10 - 0.5);
    } finally {
      await mon.stop();
    }
  }, 180_000);
});
