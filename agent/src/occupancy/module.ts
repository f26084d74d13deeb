import type { Logger } from 'pino';
import type { CaptureWindow, SourceConfig } from '../media/types.js';
import { PeopleDetector } from './detector.js';
import { CountWindow } from './summary.js';

export interface OccupancyContext {
  log: Logger;
  sources: SourceConfig[];
  /** Defaults to the BlazeFace worker (detector.ts); tests give a misconfigured one. */
  createDetector?: () => PeopleDetector;
  /** Counting became unavailable after a birth was sent: the agent sends birth again. */
  onUnavailable?: () => void;
}

/**
 * People counting on the box (docs/occupancy.md). Takes the pictures the source monitors
 * hand out every `occupancy.intervalS`, counts them in the detector's worker thread, and gives
 * each camera's capture window the median and peak of the counts finished during it. A frame
 * that arrives while the previous one of that camera is still being counted is skipped, so a
 * slow box counts less often instead of queueing.
 */
export class OccupancyCounter {
  private detector: PeopleDetector | null = null;
  private unavailable: string | null = null;
  private readonly windows = new Map<string, CountWindow>();
  private readonly busy = new Set<string>();
  private readonly log: Logger;
  private starting: Promise<void> | null = null;
  /** The detector between start() and ready, so stop() can end its worker at once. */
  private launching: PeopleDetector | null = null;
  private stopped = false;

  constructor(private readonly ctx: OccupancyContext) {
    this.log = ctx.log.child({ module: 'occupancy' });
    for (const s of ctx.sources)
      if (s.kind === 'camera' && s.occupancy?.enabled) this.windows.set(s.id, new CountWindow());
  }

  start(): void {
    this.stopped = false;
  }

  /**
   * Starts the detector in the background at the first frame, so a box whose camera never
   * delivers holds no model in memory; never throws (no model: counting is unavailable).
   */
  private startDetector(): void {
    if (this.stopped || this.windows.size === 0 || this.starting || this.unavailable !== null) return;
    const detector = (this.ctx.createDetector ?? (() => new PeopleDetector()))();
    this.launching = detector;
    this.starting = detector.start().then(
      ({ backend, initMs, simd }) => {
        this.launching = null;
        if (this.stopped) {
          void detector.stop();
          return;
        }
        this.detector = detector;
        this.log.info({ backend, simd, initMs, sources: [...this.windows.keys()] }, 'people counting ready');
        // Without WASM SIMD (an old CPU or runtime) tfjs runs its plain build, which costs more
        // CPU a count than docs/occupancy.md "Cost" gives.
        if (simd === false)
          this.log.warn('people counting runs without WASM SIMD: it costs more CPU than documented');
      },
      (err: unknown) => {
        this.launching = null;
        // A worker ended by stop() is no failure of the model.
        if (!this.stopped) this.markUnavailable((err as Error).message);
      },
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // Loading the model may take seconds on a busy box: a stop does not wait for it.
    await this.launching?.stop();
    await this.starting;
    this.starting = null;
    const d = this.detector;
    this.detector = null;
    await d?.stop();
  }

  private markUnavailable(reason: string): void {
    if (this.unavailable !== null) return;
    this.unavailable = reason.slice(0, 250);
    // Loud once, then quiet: health monitoring goes on without counts (DESIGN.md "Records").
    this.log.error({ reason: this.unavailable }, 'people counting unavailable; health monitoring continues');
    this.ctx.onUnavailable?.();
  }

  /** Whether the monitor of this source should hand out frames. */
  wants(sourceId: string): boolean {
    return this.windows.has(sourceId) && this.unavailable === null;
  }

  /** A picture of a camera to count (media monitor `onFrame`: PPM). */
  frame(sourceId: string, picture: Buffer): void {
    const window = this.windows.get(sourceId);
    if (!window) return;
    const d = this.detector;
    if (!d) {
      this.startDetector();
      return;
    }
    if (this.busy.has(sourceId)) return;
    this.busy.add(sourceId);
    d.count(picture).then(
      (r) => {
        this.busy.delete(sourceId);
        window.add(r.people);
        this.log.debug({ source: sourceId, people: r.people, ms: r.ms }, 'counted');
      },
      (err: unknown) => {
        this.busy.delete(sourceId);
        const msg = (err as Error).message;
        // A bad frame is one lost count; a dead worker ends counting for this run of the agent.
        if (/worker (exited|failed)|not running/.test(msg)) this.markUnavailable(msg);
        else this.log.warn({ source: sourceId, err: msg }, 'frame not counted');
      },
    );
  }

  /** Adds the window's occupancy to a camera's capture record (none when nothing was counted). */
  annotate(record: CaptureWindow): void {
    const occupancy = this.windows.get(record.source)?.close();
    if (occupancy) record.occupancy = occupancy;
  }

  /** The birth fields of a source: `occupancy: "unavailable"` and why, when counting cannot run. */
  birthFields(sourceId: string): { occupancy?: 'unavailable'; occupancyReason?: string } {
    if (!this.windows.has(sourceId) || this.unavailable === null) return {};
    return { occupancy: 'unavailable', occupancyReason: this.unavailable };
  }
}
