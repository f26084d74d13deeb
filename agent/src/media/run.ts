import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { killGroup, spawnGuarded } from '../ffmpeg/spawn.js';
import { JpegSplitter } from './jpeg.js';
import {
  type LogLine,
  MetaAssembler,
  type MetaFrame,
  type PacketLine,
  parseLogLine,
  parsePacketLine,
  parseSilenceLine,
  parseTimeBase,
  type SilenceEdge,
} from './parse.js';
import { META, type Plan } from './pipeline.js';

export interface RunHandlers {
  packet(p: PacketLine, isVideo: boolean, tb: number): void;
  videoFrame(f: MetaFrame): void;
  audioFrame(f: MetaFrame): void;
  silence(e: SilenceEdge, lastAudioPts: number): void;
  jpeg(img: Buffer): void;
  exit(code: number | null, signal: NodeJS.Signals | null, lastError: string | null): void;
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
    const child = spawnGuarded(this.bin, this.plan.args, { extraPipes: 2 });
    this.child = child;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.h.exit(code, signal, this.lastError);
        resolve();
      });
    });
    child.once('error', (err) => {
      this.lastError = `spawn failed: ${err.message}`;
    });
    const video = new MetaAssembler(META.video, META.videoEnd, (f) => this.h.videoFrame(f));
    const audio = new MetaAssembler(META.audio, META.audioEnd, (f) => {
      this.lastAudioPts = f.pts;
      this.h.audioFrame(f);
    });
    createInterface({ input: child.stderr as Readable, crlfDelay: Number.POSITIVE_INFINITY }).on(
      'line',
      (line) => this.stderrLine(line, video, audio),
    );
    const tbs = new Map<number, number>();
    createInterface({ input: child.stdio[3] as Readable }).on('line', (line) => {
      if (line.startsWith('#')) {
        const tb = parseTimeBase(line);
        if (tb) tbs.set(tb.stream, tb.tb);
        return;
      }
      const p = parsePacketLine(line);
      if (p) this.h.packet(p, p.stream === this.plan.videoStream, tbs.get(p.stream) ?? 1 / 90000);
    });
    const jpegs = new JpegSplitter((img) => this.h.jpeg(img));
    (child.stdio[4] as Readable | null)?.on('data', (c: Buffer) => jpegs.push(c));
  }

  private stderrLine(line: string, video: MetaAssembler, audio: MetaAssembler): void {
    const l: LogLine | null = parseLogLine(line);
    if (l) {
      if (video.push(l) || audio.push(l)) return;
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
