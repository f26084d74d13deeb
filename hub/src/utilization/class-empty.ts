// `class.empty` (docs/hub-people.md "Occupancy"): a report to the platform that a class on the timetable
// has had nobody in its room for its first minutes (15 by default). Not an alarm: facility staff are not
// paged. Sent once per class, even across restarts and several hubs on one store (the
// class_empty_reports row is the claim), and only when the room was counted: no count is no report.
import type { PeopleBus } from '../alarms/events.js';
import type { HubContext, HubModule } from '../context.js';
import { duePeriods, migrateSchedule } from '../schedule/store.js';
import { occupancyOf } from './occupancy.js';

export const CLASS_EMPTY_AFTER_MS = 15 * 60_000;
export const CLASS_EMPTY_TICK_MS = 30_000;

/**
 * How often classes are looked at: every 30 s, or every sixth of a shorter delay (at least 1 s), so
 * that a compressed delay (a demo's or a test's, seconds long) is still met while its class is on.
 */
export function classEmptyTickMs(afterMs: number): number {
  return Math.min(CLASS_EMPTY_TICK_MS, Math.max(1000, Math.floor(afterMs / 6)));
}

export const CLASS_EMPTY_MIGRATION = `
CREATE TABLE IF NOT EXISTS class_empty_reports (
  period_id TEXT PRIMARY KEY,
  room      TEXT NOT NULL,
  ts        BIGINT NOT NULL
);`;

export interface ClassEmpty {
  room: string;
  period: { id: string; title: string; start: number; end: number };
  afterMinutes: number;
  /** Minutes of the class's first `afterMinutes` that were counted, all with nobody in the room. */
  countedMinutes: number;
  ts: number;
}

export class ClassEmptyModule implements HubModule {
  readonly name = 'class-empty';
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  /** Periods already claimed by this process, so a pass does not ask the store again. */
  private readonly done = new Set<string>();

  constructor(
    private readonly ctx: HubContext,
    private readonly people: PeopleBus,
    private readonly afterMs = CLASS_EMPTY_AFTER_MS,
  ) {}

  async start(): Promise<void> {
    await migrateSchedule(this.ctx.db);
    await this.ctx.db.migrate('class-empty-001-reports', CLASS_EMPTY_MIGRATION);
    this.timer = this.ctx.clock.setInterval(() => void this.tick(), classEmptyTickMs(this.afterMs));
  }

  async stop(): Promise<void> {
    this.ctx.clock.clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  tick(): Promise<void> {
    this.running ??= this.pass()
      .catch((err: unknown) => this.ctx.log.error({ err, module: this.name }, 'class.empty check failed'))
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  private async pass(): Promise<void> {
    const now = this.ctx.clock.now();
    for (const p of await duePeriods(this.ctx.db, now, 0)) {
      const checkAt = p.start + this.afterMs;
      if (now < checkAt || this.done.has(p.id)) continue;
      const counted = await this.countedEmpty(p.room, p.start, checkAt);
      // Someone came: settled. Nothing counted yet: asked again next pass, since a box back online
      // sends its outbox's windows late.
      if (counted === null) this.done.add(p.id);
      if (counted === null || counted === 0) continue;
      this.done.add(p.id);
      const claim = await this.ctx.db.run(
        'INSERT INTO class_empty_reports (period_id, room, ts) VALUES (?, ?, ?) ON CONFLICT (period_id) DO NOTHING',
        [p.id, p.room, now],
      );
      if (claim.changes !== 1) continue;
      const e: ClassEmpty = {
        room: p.room,
        period: { id: p.id, title: p.title, start: p.start, end: p.end },
        afterMinutes: Math.round(this.afterMs / 60_000),
        countedMinutes: Math.round(counted / 600) / 100,
        ts: now,
      };
      this.ctx.log.info(
        { module: this.name, room: p.room, period: p.id },
        'scheduled class with nobody in the room',
      );
      this.people.emit('class.empty', e);
    }
  }

  /**
   * Counted ms of [from, to) with nobody in the room; null when someone was there (the class met).
   * 0 means nothing was counted, which says nothing about the room.
   */
  private async countedEmpty(room: string, from: number, to: number): Promise<number | null> {
    const rows = await this.ctx.db.all<{ ts: number | string; end_ts: number | string | null; body: string }>(
      `SELECT ts, end_ts, body FROM records
       WHERE room = ? AND kind = 'capture' AND ts >= ? AND ts < ? ORDER BY ts LIMIT 20000`,
      [room, from - 10 * 60_000, to],
    );
    let counted = 0;
    for (const r of rows) {
      let body: object;
      try {
        body = JSON.parse(r.body) as object;
      } catch {
        continue;
      }
      const occ = occupancyOf(body);
      if (!occ) continue;
      const a = Math.max(Number(r.ts), from);
      const b = Math.min(Number(r.end_ts ?? r.ts), to);
      if (b <= a) continue;
      if (occ.people >= 1) return null;
      counted += b - a;
    }
    return counted;
  }
}
