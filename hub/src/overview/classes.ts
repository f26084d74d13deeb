// "Captured healthily" for the dashboard header (docs/hub-people.md, "The grid"): of today's classes
// that have run for at least COUNT_AFTER_MS, the share whose elapsed minutes so far had a good picture
// and sound for at least HEALTHY_SHARE of the time. Computed from the stored capture windows (the
// ground truth, which survives hub restarts), scanned incrementally: each class keeps how far it
// has been read, so a refresh reads only the windows committed since the last one.
import type { Db } from '../context.js';
import type { StoredPeriod } from '../schedule/store.js';

/** A class counts once it has run this long (the timetable's start check uses the same grace). */
export const COUNT_AFTER_MS = 5 * 60_000;
/** Share of a class's elapsed time that must have had a good picture and sound. */
export const HEALTHY_SHARE = 0.8;
/** A picture is good when less than this share of a window is black or frozen. */
export const BAD_PICTURE_RATIO = 0.5;
/** Sound is present when less than this share of a window is silent. */
export const SILENT_RATIO = 0.9;
/** Windows are committed a little after they end; reading stops this far behind the clock. */
const SETTLE_MS = 30_000;

interface Capture {
  source: string;
  start: number;
  end: number;
  video?: { blackRatio: number; frozenRatio: number };
  audio?: { silenceRatio: number };
}

interface Progress {
  /** Windows with ts before this have been read. */
  readTo: number;
  /** Good-picture and with-sound milliseconds per source; the best source of each kind counts. */
  picture: Map<string, number>;
  sound: Map<string, number>;
}

export interface ClassesSoFar {
  /** Today's classes that have run at least COUNT_AFTER_MS. */
  counted: number;
  healthy: number;
  /** healthy / counted, or null before the first class of the day counts. */
  share: number | null;
}

/** Per-window verdict, exported for unit tests. */
export function windowHealth(c: Capture): { pictureMs: number; soundMs: number } {
  const ms = Math.max(0, c.end - c.start);
  const pictureOk = c.video
    ? c.video.blackRatio < BAD_PICTURE_RATIO && c.video.frozenRatio < BAD_PICTURE_RATIO
    : false;
  const soundOk = c.audio ? c.audio.silenceRatio < SILENT_RATIO : false;
  return { pictureMs: pictureOk ? ms : 0, soundMs: soundOk ? ms : 0 };
}

export class ClassHealth {
  private readonly progress = new Map<string, Progress>();
  private day = -1;

  constructor(private readonly db: Db) {}

  /** `periods`: today's classes (any order); `dayStart`: local midnight, to forget yesterday's progress. */
  async soFar(periods: StoredPeriod[], now: number, dayStart: number): Promise<ClassesSoFar> {
    if (dayStart !== this.day) {
      this.progress.clear();
      this.day = dayStart;
    }
    let counted = 0;
    let healthy = 0;
    const alive = new Set<string>();
    for (const p of periods) {
      if (p.start < dayStart || now - p.start < COUNT_AFTER_MS) continue;
      alive.add(p.id);
      counted++;
      const elapsedTo = Math.min(p.end, now - SETTLE_MS);
      const elapsed = elapsedTo - p.start;
      const pr = await this.read(p, elapsedTo);
      const best = (m: Map<string, number>) => Math.max(0, ...m.values());
      if (
        elapsed > 0 &&
        best(pr.picture) >= HEALTHY_SHARE * elapsed &&
        best(pr.sound) >= HEALTHY_SHARE * elapsed
      )
        healthy++;
    }
    // A re-imported timetable gives its periods new ids; forget the old ones.
    for (const id of this.progress.keys()) if (!alive.has(id)) this.progress.delete(id);
    return { counted, healthy, share: counted > 0 ? healthy / counted : null };
  }

  private async read(p: StoredPeriod, to: number): Promise<Progress> {
    let pr = this.progress.get(p.id);
    if (!pr) {
      pr = { readTo: p.start, picture: new Map(), sound: new Map() };
      this.progress.set(p.id, pr);
    }
    if (to <= pr.readTo) return pr;
    const rows = await this.db.all<{ body: string }>(
      "SELECT body FROM records WHERE room = ? AND kind = 'capture' AND ts >= ? AND ts < ?",
      [p.room, pr.readTo, to],
    );
    for (const r of rows) {
      const c = JSON.parse(r.body) as Capture;
      // Only the part of a window inside the class counts.
      const clipped = { ...c, start: Math.max(c.start, p.start), end: Math.min(c.end, to) };
      const h = windowHealth(clipped);
      if (h.pictureMs) pr.picture.set(c.source, (pr.picture.get(c.source) ?? 0) + h.pictureMs);
      if (h.soundMs) pr.sound.set(c.source, (pr.sound.get(c.source) ?? 0) + h.soundMs);
    }
    pr.readTo = to;
    return pr;
  }
}
