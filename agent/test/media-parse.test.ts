import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withDefaults } from '../src/media/defaults.js';
import { JpegSplitter } from '../src/media/jpeg.js';
import {
  MetaAssembler,
  type MetaFrame,
  ProgressParser,
  type ProgressReport,
  parseDb,
  parseFrameHead,
  parseLogLine,
  parseSilenceLine,
} from '../src/media/parse.js';
import { buildPlan, META } from '../src/media/pipeline.js';
import { tools } from './media-support.js';

// These tests pin the ffmpeg 5.1 line formats the monitor parses, using output that the installed
// ffmpeg produces now from media generated here (no recorded fixtures).

const dir = mkdtempSync(join(tmpdir(), 'media-parse-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Captured {
  stderr: string[];
  progress: string[];
  jpeg: Buffer;
  /** Bytes of the stream copy (fd 6). */
  copied: number;
}

function run(args: string[]): Promise<Captured> {
  return new Promise((resolve, reject) => {
    const p = spawn(tools.ffmpeg.path, args, {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe'],
    });
    const err: Buffer[] = [];
    const prog: Buffer[] = [];
    const jpg: Buffer[] = [];
    let copied = 0;
    p.stderr!.on('data', (d: Buffer) => err.push(d));
    (p.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => prog.push(d));
    (p.stdio[4] as NodeJS.ReadableStream).on('data', (d: Buffer) => jpg.push(d));
    // fd 5 carries the patrol-wall thumbnails (pipeline.ts); they are drained, not checked here.
    (p.stdio[5] as NodeJS.ReadableStream).resume();
    (p.stdio[6] as NodeJS.ReadableStream).on('data', (d: Buffer) => {
      copied += d.length;
    });
    p.once('error', reject);
    p.once('close', (code) => {
      const stderr = Buffer.concat(err).toString().split('\n');
      if (code !== 0) reject(new Error(`ffmpeg exited ${code}: ${stderr.slice(-5).join('\n')}`));
      else
        resolve({
          stderr,
          progress: Buffer.concat(prog).toString().split('\n'),
          jpeg: Buffer.concat(jpg),
          copied,
        });
    });
  });
}

// 4 s of 320x180 video (black 1.0–2.0 s, then a still picture from 2.5 s) and stereo audio whose
// right channel is dead throughout and whose left channel is silent 2–3 s.
const VIDEO =
  "testsrc2=s=320x180:r=10,drawbox=enable='between(t,1,2)':c=black:t=fill,split[a][b];[a][b]freezeframes=first=25:last=40:replace=25";
const AUDIO = "sine=f=440:r=48000,volume=enable='between(t,2,3)':volume=0,pan=stereo|c0=c0|c1=0*c0";
let out: Captured;
let h264: string;

beforeAll(async () => {
  h264 = join(dir, 'clip.ts');
  execFileSync(tools.ffmpeg.path, [
    ...['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=s=320x180:r=25', '-f', 'lavfi'],
    ...['-i', 'sine=r=48000', '-t', '4', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25'],
    ...['-sc_threshold', '0', '-c:a', 'aac', '-f', 'mpegts', h264],
  ]);
  const plan = buildPlan(
    { id: 'x', kind: 'camera', input: h264 },
    { codec: 'h264', width: 320, height: 180, fps: 25, sampleRate: 48000, channels: 1 },
    withDefaults({}),
    'keyframes',
  );
  // Same command as the monitor's, minus real-time pacing, on a synthetic input.
  const args = plan.args.filter((a) => a !== '-re');
  const i = args.indexOf('-i');
  args.splice(i, 2, '-t', '4', '-f', 'lavfi', '-i', `${VIDEO}[out0];${AUDIO}[out1]`);
  // lavfi output is raw video: every frame is a keyframe, so analysis sees all of them.
  out = await run(args.filter((a, k) => !(a === 'nokey' || args[k + 1] === 'nokey')));
}, 60_000);

describe('ffmpeg 5.1 stderr formats', () => {
  it('metadata=print writes a frame header and key=value lines under the named instance', () => {
    const vm = out.stderr.filter((l) => l.startsWith(`[${META.video} @ 0x`));
    expect(vm.length).toBeGreaterThan(10);
    expect(vm[0]).toMatch(/^\[metadata@cvm @ 0x[0-9a-f]+\] frame:0\s+pts:0\s+pts_time:0$/);
    expect(vm).toContainEqual(expect.stringMatching(/^\[metadata@cvm @ 0x[0-9a-f]+\] lavfi\.black_start=1$/));
    expect(vm).toContainEqual(
      expect.stringMatching(/^\[metadata@cvm @ 0x[0-9a-f]+\] lavfi\.scd\.mafd=\d+\.\d{3}$/),
    );
    expect(vm).toContainEqual(
      expect.stringMatching(/^\[metadata@cvm @ 0x[0-9a-f]+\] lavfi\.freezedetect\.freeze_start=[\d.]+$/),
    );
    const am = out.stderr.filter((l) => l.startsWith(`[${META.audio} @ 0x`));
    expect(am).toContainEqual(
      expect.stringMatching(/^\[ametadata@cam @ 0x[0-9a-f]+\] lavfi\.astats\.2\.RMS_level=-inf$/),
    );
    expect(am).toContainEqual(
      expect.stringMatching(
        /^\[ametadata@cam @ 0x[0-9a-f]+\] lavfi\.astats\.Overall\.Peak_level=-?\d+\.\d+$/,
      ),
    );
    const ae = out.stderr.filter((l) => l.startsWith(`[${META.audioEnd} @ 0x`));
    expect(ae).toContainEqual(
      expect.stringMatching(/^\[ametadata@cae @ 0x[0-9a-f]+\] lavfi\.r128\.S=-?\d+\.\d{3}$/),
    );
    expect(ae.filter((x) => /frame:/.test(x)).length).toBeGreaterThanOrEqual(3);
  });

  it('assembles whole frames, closed by the end-marker instance', () => {
    const vframes: MetaFrame[] = [];
    const aframes: MetaFrame[] = [];
    const v = new MetaAssembler(META.video, META.videoEnd, (f) => vframes.push(f));
    const a = new MetaAssembler(META.audio, META.audioEnd, (f) => aframes.push(f));
    for (const line of out.stderr) {
      const l = parseLogLine(line);
      if (l) v.push(l) || a.push(l);
    }
    // At most ~2 analysed frames a second out of 10 (select), black from 1.0 s to 2.0 s.
    expect(vframes.length).toBeGreaterThanOrEqual(7);
    expect(vframes.length).toBeLessThanOrEqual(10);
    const start = vframes.find((f) => f.keys.has('lavfi.black_start'))!;
    const end = vframes.find((f) => f.keys.has('lavfi.black_end'))!;
    expect(start.pts).toBeCloseTo(1, 1);
    expect(end.pts).toBeGreaterThan(2);
    expect(end.pts).toBeLessThan(2.6);
    for (const f of vframes) expect(Number.isFinite(Number(f.keys.get('lavfi.scd.mafd')))).toBe(true);
    // 1 s audio blocks with per-channel levels, and the short-term loudness joined from the marker.
    expect(aframes.length).toBeGreaterThanOrEqual(3);
    expect(aframes.length).toBeLessThanOrEqual(5);
    expect(aframes[1]!.pts).toBeCloseTo(1, 5);
    expect(parseDb(aframes[1]!.keys.get('lavfi.astats.2.RMS_level'))).toBe(Number.NEGATIVE_INFINITY);
    expect(parseDb(aframes[1]!.keys.get('lavfi.astats.1.RMS_level'))).toBeGreaterThan(-30);
    expect(Number(aframes[3]!.keys.get('lavfi.r128.S'))).toBeLessThan(0);
    expect(Number(aframes[3]!.keys.get('lavfi.r128.S'))).toBeGreaterThan(-40);
  });

  it('silencedetect mono=1 logs per-channel edges', () => {
    const edges = out.stderr
      .map(parseLogLine)
      .filter((l) => l?.ctx === 'silencedetect')
      .map((l) => ({ raw: l!.text, edge: parseSilenceLine(l!.text) }));
    expect(edges.map((e) => e.raw)).toContainEqual(expect.stringMatching(/^channel: 1 \| silence_start: 0$/));
    expect(edges.map((e) => e.raw)).toContainEqual(
      expect.stringMatching(/^channel: 0 \| silence_start: 2(\.\d+)?$/),
    );
    expect(edges.map((e) => e.raw)).toContainEqual(
      expect.stringMatching(/^channel: 0 \| silence_end: 3(\.\d+)? \| silence_duration: [\d.]+$/),
    );
    const ch0 = edges.filter((e) => e.edge?.channel === 0).map((e) => e.edge);
    expect(ch0[0]).toEqual({ channel: 0, edge: 'start', t: expect.closeTo(2, 1) });
    expect(ch0[1]).toEqual({ channel: 0, edge: 'end', t: expect.closeTo(3, 1) });
  });

  it('the MJPEG pipe splits into whole JPEG images', () => {
    const imgs: Buffer[] = [];
    const s = new JpegSplitter((j) => imgs.push(j));
    // One snapshot picture every SNAPSHOT_GAP_S (5 s) of the analysed ones: only t=0 in 4 s.
    // The pipe carries it twice here, fed in odd-sized chunks that cross the image boundary.
    const pipe = Buffer.concat([out.jpeg, out.jpeg]);
    for (let i = 0; i < pipe.length; i += 777) s.push(pipe.subarray(i, i + 777));
    expect(imgs.length).toBe(2);
    expect(imgs[0]).toEqual(out.jpeg);
    expect(imgs[1]).toEqual(out.jpeg);
    for (const j of imgs) {
      expect(j.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
      expect(j.subarray(-2)).toEqual(Buffer.from([0xff, 0xd9]));
    }
  });
});

describe('progress reports and keyframe lines', () => {
  it('-progress gives the packets and bytes of the stream copy; one header line per keyframe', () => {
    const reports: ProgressReport[] = [];
    const pp = new ProgressParser((r) => reports.push(r));
    for (const l of out.progress) pp.push(l);
    expect(out.progress).toContainEqual(expect.stringMatching(/^total_size=\d+$/));
    expect(out.progress).toContainEqual(expect.stringMatching(/^out_time_us=\d+$/));
    const last = reports.at(-1)!;
    expect(last.end).toBe(true);
    // 4 s at 10 fps, raw 320x180 yuv420p: frame= counts the copied video packets and total_size
    // is exactly what the copy wrote.
    // (the input ends on -t 4 while other outputs still drain: the last packet may not be copied).
    expect(last.frames).toBeGreaterThanOrEqual(38);
    expect(last.frames).toBeLessThanOrEqual(40);
    expect(last.bytes).toBe(out.copied);
    expect(out.copied).toBe(last.frames * 320 * 180 * 1.5);
    expect(last.outTimeS).toBeCloseTo(4, 0);
    // Every raw frame is a keyframe: one header line each from the keyframe branch.
    const keys = out.stderr
      .map(parseLogLine)
      .filter((l) => l?.ctx === META.key)
      .map((l) => parseFrameHead(l!.text))
      .filter((t) => t !== null);
    expect(keys.length).toBe(40);
    expect(keys[1]).toBeCloseTo(0.1, 5);
    expect(parseFrameHead('frame:3    pts:27000   pts_time:0.3')).toBeCloseTo(0.3, 5);
    expect(parseFrameHead('cvk=1')).toBeNull();
  });
});
