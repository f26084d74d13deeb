import type { ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { spawnTethered, stopGroup } from '../proc.js';
import { cameraArgs, findFont, micArgs, type PeopleGraph, type Span } from './graph.js';

export interface MediaPlan {
  /** Room label burnt into the picture. */
  label: string;
  cameraPort: number;
  micPort: number;
  width: number;
  height: number;
  fps: number;
  sampleRate: number;
  black: Span[];
  frozen: Span[];
  silent: Span[];
  /** People in view over time, with the room pictures rendered for them (people.ts). */
  people?: PeopleGraph | undefined;
}

export interface MediaFormat {
  width: number;
  height: number;
  fps: number;
  sampleRate: number;
}

export const DEFAULT_MEDIA: Readonly<MediaFormat> = { width: 320, height: 240, fps: 10, sampleRate: 16000 };
/**
 * A camera with people: 1280×720, the classroom scale at which the counter's accuracy is measured
 * (BENCHMARKS.md "People counting on the box"), at 5 fps to keep the encoder cheap (the agent
 * analyses far fewer frames than that).
 */
export const PEOPLE_MEDIA: Readonly<MediaFormat> = { width: 1280, height: 720, fps: 5, sampleRate: 16000 };

export interface MediaContext {
  log: Logger;
  ffmpegPath: string;
  /** Milliseconds since the scenario started; a replugged camera resumes the timeline from here. */
  elapsedMs: () => number;
}

type Kind = 'camera' | 'mic';

/**
 * The synthetic camera and microphone of one room: two ffmpeg processes, each sending MPEG-TS over
 * UDP to 127.0.0.1 the way an IP camera pushes a stream. `unplug`/`plug` stop and restart the camera
 * (or mic) process, which is what a pulled cable looks like to the agent: the packets stop.
 */
export class SyntheticMedia {
  private readonly procs = new Map<Kind, ChildProcess>();
  private stopping = false;

  constructor(
    private readonly ctx: MediaContext,
    private readonly plan: MediaPlan,
  ) {}

  async start(): Promise<void> {
    this.stopping = false;
    this.launch('camera');
    this.launch('mic');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.procs.values()].map((p) => stopGroup(p, 'SIGTERM', 3000)));
    this.procs.clear();
  }

  async unplug(kind: Kind): Promise<void> {
    const p = this.procs.get(kind);
    this.procs.delete(kind);
    if (p) await stopGroup(p, 'SIGKILL', 0);
    this.ctx.log.info({ kind }, 'synthetic device unplugged');
  }

  plug(kind: Kind): void {
    if (this.procs.has(kind)) return;
    this.launch(kind);
    this.ctx.log.info({ kind }, 'synthetic device plugged in');
  }

  isRunning(kind: Kind): boolean {
    return this.procs.has(kind);
  }

  pids(): number[] {
    return [...this.procs.values()].map((p) => p.pid).filter((p): p is number => p !== undefined);
  }

  private launch(kind: Kind): void {
    const offsetS = this.ctx.elapsedMs() / 1000;
    const p = this.plan;
    const args =
      kind === 'camera'
        ? cameraArgs({
            port: p.cameraPort,
            width: p.width,
            height: p.height,
            fps: p.fps,
            label: p.label,
            black: p.black,
            frozen: p.frozen,
            offsetS,
            fontFile: findFont(),
            people: p.people,
          })
        : micArgs({ port: p.micPort, sampleRate: p.sampleRate, silent: p.silent, offsetS });
    const child = spawnTethered(this.ctx.ffmpegPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    child.on('error', (err) => this.ctx.log.error({ err, kind }, 'synthetic media: ffmpeg failed to start'));
    child.on('exit', (code, signal) => {
      if (this.procs.get(kind) !== child) return;
      this.procs.delete(kind);
      if (this.stopping) return;
      // An unexpected exit is a broken generator, not a scripted fault: say why and bring it back.
      this.ctx.log.error(
        { kind, code, signal, stderr: stderr.trim() },
        'synthetic media: ffmpeg exited; restarting',
      );
      setTimeout(() => {
        if (!this.stopping && !this.procs.has(kind)) this.launch(kind);
      }, 1000).unref();
    });
    this.procs.set(kind, child);
  }
}
