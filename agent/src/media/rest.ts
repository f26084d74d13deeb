// Rest when the room rests (docs/agent-media.md "Duty cycle"): outside the room's classes the box
// watches each source for `onS` every `everyS` instead of continuously, and at full watch from
// `precheckS` before each class to its end. Pure planning here; RestController applies it.
import type { Logger } from 'pino';

/** How a source is watched: continuously, or on the off-hours duty cycle. */
export type WatchMode = 'full' | 'duty';

export interface RestSettings {
  /** undefined: on when a timetable is known (docs/agent-media.md "Duty cycle"). */
  enabled?: boolean;
  onS: number;
  everyS: number;
  precheckS: number;
}

export const DEFAULT_REST: RestSettings = { onS: 20, everyS: 300, precheckS: 600 };

/** One class period [start, end) in Unix ms, as the hub sends them with the config. */
export type ClassPeriod = readonly [number, number];

export interface WatchPlan {
  mode: WatchMode;
  /** Whether the sources run now (always in full mode). */
  on: boolean;
  /** When the plan changes next (Unix ms). */
  nextAt: number;
}

/** Whether the duty cycle applies at all: configured on, or left unset with a timetable known. */
export function restActive(rest: RestSettings, timetable: readonly ClassPeriod[] | undefined): boolean {
  return rest.enabled ?? (timetable !== undefined && timetable.length > 0);
}

/**
 * The plan at `now`. Duty-on slots lie on wall-clock multiples of `everyS`, so that every box of a
 * building does not wake at once after a power cut only by chance, and a restart keeps the rhythm.
 */
export function watchPlan(now: number, timetable: readonly ClassPeriod[], rest: RestSettings): WatchPlan {
  const lead = rest.precheckS * 1000;
  let nextFull = Number.POSITIVE_INFINITY;
  for (const [start, end] of timetable) {
    if (end <= now) continue;
    if (now >= start - lead) return { mode: 'full', on: true, nextAt: end };
    nextFull = Math.min(nextFull, start - lead);
  }
  const every = Math.max(rest.everyS, 1) * 1000;
  const on = Math.min(rest.onS * 1000, every);
  const slot = Math.floor(now / every) * every;
  const inOn = now - slot < on;
  const edge = inOn ? slot + on : slot + every;
  return { mode: 'duty', on: inOn || on >= every, nextAt: Math.min(edge, nextFull) };
}

export interface RestTarget {
  /** Starts (resumes) every source; a no-op for running ones. */
  resume(): Promise<void>;
  /** Stops every source for the off part of the cycle, without source.down (a planned rest). */
  pause(): Promise<void>;
}

export interface RestContext {
  log: Logger;
  clock: { now(): number; setTimeout(fn: () => void, ms: number): unknown; clearTimeout(t: unknown): void };
  settings: () => { rest: RestSettings; timetable: readonly ClassPeriod[] | undefined };
  target: RestTarget;
  /** The mode changed (telemetry and the room summary carry it). */
  onMode?: (mode: WatchMode) => void;
}

/** Longest wait between re-plans, so that a new timetable or rest setting applies within it. */
const MAX_WAIT_MS = 30_000;

/** Applies watchPlan to the box's sources over time (start/stop with the sources). */
export class RestController {
  private timer: unknown = null;
  private current: WatchMode = 'full';
  /** Whether the sources run; null: unknown (re-applied at the next tick). */
  private on: boolean | null = true;
  private stopped = true;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly ctx: RestContext) {}

  mode(): WatchMode {
    return this.current;
  }

  start(): void {
    this.stopped = false;
    this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) this.ctx.clock.clearTimeout(this.timer);
    this.timer = null;
    await this.chain;
  }

  /** Whether the duty cycle applies under the current settings (telemetry reports modes then). */
  active(): boolean {
    const { rest, timetable } = this.ctx.settings();
    return restActive(rest, timetable);
  }

  /**
   * Re-plans now (a new config arrived); `reapply` when the sources were started or stopped behind
   * the controller's back (wake), so that the current on/off is applied again.
   */
  replan(reapply = false): void {
    if (reapply) this.on = null;
    if (this.stopped) return;
    if (this.timer !== null) this.ctx.clock.clearTimeout(this.timer);
    this.tick();
  }

  private tick(): void {
    this.timer = null;
    if (this.stopped) return;
    const now = this.ctx.clock.now();
    const { rest, timetable } = this.ctx.settings();
    const plan: WatchPlan = restActive(rest, timetable)
      ? watchPlan(now, timetable ?? [], rest)
      : { mode: 'full', on: true, nextAt: now + MAX_WAIT_MS };
    if (plan.mode !== this.current) {
      this.ctx.log.info({ mode: plan.mode, nextAt: plan.nextAt }, 'watch mode');
      this.current = plan.mode;
      this.ctx.onMode?.(plan.mode);
    }
    if (plan.on !== this.on) {
      this.on = plan.on;
      const target = this.ctx.target;
      this.chain = this.chain
        .then(() => (plan.on ? target.resume() : target.pause()))
        .catch((err: unknown) => this.ctx.log.error({ err }, 'duty cycle step failed'));
    }
    const wait = Math.max(50, Math.min(plan.nextAt - now, MAX_WAIT_MS));
    this.timer = this.ctx.clock.setTimeout(() => this.tick(), wait);
  }
}
