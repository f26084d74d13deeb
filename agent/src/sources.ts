import type { Probe } from '@classroom/protocol';
import type { Logger } from 'pino';
import { type FfmpegTools, locateFfmpeg } from './ffmpeg/locate.js';
import type {
  CaptureWindow,
  MonitorContext,
  MonitorSettings,
  MonitorStatus,
  SourceConfig,
  SourceEvent,
  SourceMonitor,
} from './media/types.js';

export type CreateMonitor = (source: SourceConfig, ctx: MonitorContext) => SourceMonitor;

export interface SourcesContext {
  log: Logger;
  clock: { now(): number };
  sources: SourceConfig[];
  /** undefined: locate ffmpeg; null: run without it. */
  ffmpeg?: FfmpegTools | null;
  /** Defaults to AGENT-MEDIA's ffmpeg monitor (agent/src/media). */
  createMonitor?: CreateMonitor;
  settings: () => MonitorSettings;
  onRecord: (record: CaptureWindow | SourceEvent) => void;
  /** A picture of a counting camera, PPM (docs/occupancy.md "Frames"). */
  onFrame?: (sourceId: string, picture: Buffer, at: number) => void;
  /** A source reached 'running' (its probe is known now). */
  onRunning?: (id: string) => void;
}

/** The source monitors of the box: created once, started/stopped together (sleep/wake, SIGTERM). */
export class Sources {
  private readonly monitors = new Map<string, SourceMonitor>();
  private readonly statuses = new Map<string, MonitorStatus>();
  private ffmpegError: string | null = null;
  private readonly log: Logger;

  constructor(private readonly ctx: SourcesContext) {
    this.log = ctx.log.child({ module: 'sources' });
  }

  /** Locates ffmpeg and creates the monitors (not started). */
  async init(): Promise<void> {
    let ffmpeg: FfmpegTools | null = null;
    if (this.ctx.ffmpeg !== undefined) ffmpeg = this.ctx.ffmpeg;
    else {
      try {
        ffmpeg = locateFfmpeg();
      } catch (err) {
        // Not fatal: telemetry and the session keep running; the monitors report no-ffmpeg and
        // birth carries the reason (DESIGN.md "Agent": a failed source reports `source.down` and retries).
        this.ffmpegError = (err as Error).message;
        this.log.error({ err: this.ffmpegError }, 'ffmpeg missing; sources cannot run');
      }
    }
    const create: CreateMonitor =
      this.ctx.createMonitor ?? (await import('./media/index.js')).createSourceMonitor;
    for (const source of this.ctx.sources) {
      const monitor = create(source, {
        log: this.ctx.log.child({ source: source.id }),
        clock: this.ctx.clock,
        ffmpeg,
        settings: this.ctx.settings,
        onRecord: this.ctx.onRecord,
        ...(this.ctx.onFrame
          ? { onFrame: (picture: Buffer, at: number) => this.ctx.onFrame?.(source.id, picture, at) }
          : {}),
        onStatus: (status) => {
          const before = this.statuses.get(status.id);
          if (before?.state !== status.state) {
            this.log.info({ source: status.id, state: status.state, reason: status.reason }, 'source state');
          }
          this.statuses.set(status.id, status);
          if (before?.state !== 'running' && status.state === 'running') this.ctx.onRunning?.(status.id);
        },
      });
      this.monitors.set(source.id, monitor);
    }
  }

  async start(): Promise<void> {
    for (const m of this.monitors.values()) {
      await m
        .start()
        .catch((err: unknown) => this.log.error({ err, source: m.id }, 'source failed to start'));
    }
  }

  async stop(): Promise<void> {
    await Promise.all(
      [...this.monitors.values()].map((m) =>
        m.stop().catch((err: unknown) => this.log.error({ err, source: m.id }, 'source failed to stop')),
      ),
    );
  }

  /** The monitor with this id, or the first camera when id is undefined. */
  find(id: string | undefined): SourceMonitor | undefined {
    if (id !== undefined) return this.monitors.get(id);
    const camera = this.ctx.sources.find((s) => s.kind === 'camera');
    return camera ? this.monitors.get(camera.id) : undefined;
  }

  ffmpegMissing(): string | null {
    return this.ffmpegError;
  }

  statusList(): MonitorStatus[] {
    return [...this.monitors.values()].map((m) => this.statuses.get(m.id) ?? m.status());
  }

  /** The source's ffprobe result for birth, never waiting longer than `timeoutMs`. */
  async probe(id: string, timeoutMs: number): Promise<Probe> {
    if (this.ffmpegError) return { error: this.ffmpegError.slice(0, 256) };
    const monitor = this.monitors.get(id);
    if (!monitor) return { error: 'no monitor' };
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        monitor.probe(),
        new Promise<Probe>((resolve) => {
          timer = setTimeout(() => resolve({ error: `probe took longer than ${timeoutMs} ms` }), timeoutMs);
        }),
      ]);
    } catch (err) {
      return { error: String((err as Error).message).slice(0, 256) };
    } finally {
      if (timer) clearTimeout(timer);
    }
  }
}
