import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { Probe } from '@classroom/protocol';
import { killGroup, spawnGuarded } from '../ffmpeg/spawn.js';
import { JpegSplitter } from './jpeg.js';
import {
  type LogLine,
  MetaAssembler,
  type MetaFrame,
  ProgressParser,
  type ProgressReport,
  parseFrameHead,
  parseLogLine,
  parseSilenceLine,
  type SilenceEdge,
} from './parse.js';
import { META, type Plan } from './pipeline.js';
import { PpmSplitter } from './ppm.js';
import { StreamInfoParser } from './streaminfo.js';

export interface RunHandlers {
  /** ffmpeg's periodic progress report (packets and bytes of the stream copy). */
  progress(r: ProgressReport): void;
  /** A decoded keyframe at media time `pts` (seconds). */
  keyframe(pts: number): void;
  videoFrame(f: MetaFrame): void;
  audioFrame(f: MetaFrame): void;
  silence(e: SilenceEdge, lastAudioPts: number): void;
  jpeg(img: Buffer): void;
  /** A patrol-wall thumbnail (THUMBNAIL_WIDTH), from the same pictures as the snapshots. */
  thumbnail(img: Buffer): void;
  /** A picture for people counting, PPM (stdout; only when the plan counts people). */
  frame?(img: Buffer): void;
  /** The input as ffmpeg itself opened it (stderr stream lines): the probe of a running source. */
  probe(p: Probe): void;
  exit(code: number | null, signal: NodeJS.Signals | null, lastError: string | null): void;
}

/**
 * Reads children's pipes in batches: libuv stops reading them, and they are let through for one
 * poll phase every `everyMs`. ffmpeg writes stderr and progress line by line, and on a small box a
 * wake-up per line costs more than everything else the agent does (docs/agent-media.md "Cost"; measured 4x
 * less node CPU). The kernel pipe buffer (64 KiB) holds far more than a batch. Falls back to
 * ordinary flowing reads if the stream has no libuv handle.
 */
type UvHandle = { readStart?: () => number; readStop?: () => number };

/**
 * One timer for every pipe of every ffmpeg of the process: each wake-up costs, so the sources of a
 * box share them (a box of four sources wakes as often as a box of one, docs/agent-media.md "Cost").
 */
export class PipeBatcher {
  private readonly streams = new Set<{ s: Readable; h: UvHandle }>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly everyMs: number) {}

  add(stream: Readable): void {
    const h = (stream as unknown as { _handle?: UvHandle })._handle;
    if (typeof h?.readStop !== 'function' || typeof h.readStart !== 'function') return;
    const entry = { s: stream, h };
    this.streams.add(entry);
    stream.once('close', () => {
      this.streams.delete(entry);
      if (this.streams.size === 0) this.close();
    });
    // Node starts reading on the next tick when a 'data' listener is added: stop after that.
    setImmediate(() => {
      if (!stream.destroyed) h.readStop!();
    });
    this.timer ??= setInterval(() => this.tick(), this.everyMs).unref();
  }

  /** Pipes being read in batches now. */
  size(): number {
    return this.streams.size;
  }

  private stopAll(): void {
    for (const { s, h } of this.streams) if (!s.destroyed) h.readStop!();
  }

  private tick(): void {
    for (const { s, h } of this.streams) if (!s.destroyed) h.readStart!();
    setImmediate(() => this.stopAll());
  }

  private close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

/** How often the text pipes of ffmpeg are read (ms): bounds the added detection latency. */
const READ_EVERY_MS = 500;

/** The batcher of every monitor's ffmpeg in this process. */
export const pipeBatcher = new PipeBatcher(READ_EVERY_MS);

/** Splits a text pipe into lines (throttled reads). */
function lines(stream: Readable, throttle: PipeBatcher, onLine: (line: string) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    for (const p of parts) onLine(p.endsWith('\r') ? p.slice(0, -1) : p);
  });
  stream.on('end', () => {
    if (rest) onLine(rest);
    rest = '';
  });
  throttle.add(stream);
}

/** One ffmpeg process of a monitor: spawns it, parses its three text/binary outputs, stops it. */
export class FfmpegRun {
  private child: ChildProcess | null = null;
  private lastError: string | null = null;
  private lastAudioPts = 0;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    private readonly bin: string,
    private readonly plan: Plan,
    private readonly h: RunHandlers,
  ) {}

  start(): void {
    // fd 3: -progress text, fd 4: MJPEG snapshots, fd 5: MJPEG thumbnails, fd 6: the unread stream
    // copy (/dev/null).
    const child = spawnGuarded(this.bin, this.plan.args, { extraPipes: 3, nullFds: 1 });
    this.child = child;
    this.exited = new Promise((resolve) => {
      // 'close' comes after the pipes are drained, so the last error line is known by then.
      child.once('close', (code, signal) => {
        this.h.exit(code, signal, this.lastError);
        resolve();
      });
    });
    child.once('error', (err) => {
      this.lastError = `spawn failed: ${err.message}`;
    });
    const throttle = pipeBatcher;
    const video = new MetaAssembler(META.video, META.videoEnd, (f) => this.h.videoFrame(f));
    const audio = new MetaAssembler(META.audio, META.audioEnd, (f) => {
      this.lastAudioPts = f.pts;
      this.h.audioFrame(f);
    });
    const info = new StreamInfoParser((p) => this.h.probe(p));
    lines(child.stderr as Readable, throttle, (line) => {
      if (!info.push(line)) this.stderrLine(line, video, audio);
    });
    const progress = new ProgressParser((r) => this.h.progress(r));
    lines(child.stdio[3] as Readable, throttle, (line) => progress.push(line));
    const jpegs = new JpegSplitter((img) => this.h.jpeg(img));
    const snaps = child.stdio[4] as Readable | null;
    if (snaps) {
      snaps.on('data', (c: Buffer) => jpegs.push(c));
      throttle.add(snaps);
    }
    if (this.plan.occupancy && child.stdout) {
      // Raw RGB at the detector's size (960×540 at 16:9 is 1.6 MB): no JPEG encode here and no
      // decode in the detector (docs/occupancy.md "Frames"); PpmSplitter bounds the header's size.
      const frames = new PpmSplitter((img) => this.h.frame?.(img));
      // Not throttled: a frame is several pipe buffers long and a blocked write would stall the
      // whole ffmpeg, analysis included; one picture every few seconds costs few wake-ups.
      child.stdout.on('data', (c: Buffer) => frames.push(c));
    }
    const thumbs = new JpegSplitter((img) => this.h.thumbnail(img));
    const thumbPipe = (child.stdio as unknown[])[5] as Readable | null;
    if (thumbPipe) {
      thumbPipe.on('data', (c: Buffer) => thumbs.push(c));
      throttle.add(thumbPipe);
    }
  }

  private stderrLine(line: string, video: MetaAssembler, audio: MetaAssembler): void {
    const l: LogLine | null = parseLogLine(line);
    if (l) {
      if (video.push(l) || audio.push(l)) return;
      if (l.ctx === META.key) {
        const pts = parseFrameHead(l.text);
        if (pts !== null) this.h.keyframe(pts);
        return;
      }
      if (l.ctx === 'silencedetect' || l.ctx.startsWith('Parsed_silencedetect')) {
        const e = parseSilenceLine(l.text);
        if (e) this.h.silence(e, this.lastAudioPts);
        return;
      }
    }
    // Remember the last line that looks like a complaint, for the down reason in status.
    if (/error|fail|invalid|refused|timed out|no such|denied|unable|cannot/i.test(line)) {
      this.lastError = line.slice(0, 200);
    }
  }

  /** Asks ffmpeg to finish (SIGINT), then kills the group after graceMs. Resolves on exit. */
  async stop(graceMs = 3000): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (killGroup(child, 'SIGINT')) {
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    await this.exited;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }
}
