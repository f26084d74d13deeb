import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ESM helper shared with bench/ (no type declarations)
import { writeComposite } from '../../bench/lib/occupancy-composite.mjs';
import { createSourceMonitor } from '../src/media/index.js';
import { parsePpm } from '../src/media/ppm.js';
import { PeopleDetector } from '../src/occupancy/detector.js';
import { COUNT_WIDTH } from '../src/occupancy/scales.js';
import { recorder, tools, waitFor } from './media-support.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'occupancy-frames-'));
const clip = join(dir, 'room.mp4');
let truth = 0;

beforeAll(async () => {
  truth = writeComposite(join(dir, 'room.jpg'), { faceW: 48 }) as number;
  await run(tools.ffmpeg.path, [
    ...['-hide_banner', '-loglevel', 'error', '-loop', '1', '-i', join(dir, 'room.jpg'), '-t', '30'],
    ...['-r', '25', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p', clip],
  ]);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the counted picture comes from the monitor’s own ffmpeg (docs/occupancy.md "Frames")', () => {
  it('hands out a PPM at COUNT_WIDTH every intervalS, and the detector counts it', async () => {
    const rec = recorder({}, 5);
    const pictures: { ppm: Buffer; at: number }[] = [];
    const mon = createSourceMonitor(
      { id: 'cam', kind: 'camera', input: clip, occupancy: { enabled: true, intervalS: 5 } },
      { ...rec.ctx, onFrame: (ppm, at) => pictures.push({ ppm, at }) },
    );
    const detector = new PeopleDetector();
    try {
      await mon.start();
      await waitFor(() => pictures.length >= 2, 120_000, 'two pictures to count');
      const first = parsePpm(pictures[0]!.ppm);
      expect([first.width, first.height]).toEqual([COUNT_WIDTH, 540]);
      // One picture per interval, not one per analysed frame.
      expect(pictures.length).toBeLessThanOrEqual(1 + Math.ceil((Date.now() - rec.t0) / 4500));
      expect((await detector.start()).backend).toBe('wasm');
      const r = await detector.count(pictures[0]!.ppm);
      expect([r.width, r.height]).toEqual([COUNT_WIDTH, 540]);
      // 48 px faces: every composite was counted within ±2 (BENCHMARKS.md "People counting on the box").
      expect(Math.abs(r.people - truth), `${r.people} for ${truth}`).toBeLessThanOrEqual(
        Math.max(2, Math.ceil(truth * 0.1)),
      );
    } finally {
      await detector.stop();
      await mon.stop();
    }
  }, 300_000);
});
