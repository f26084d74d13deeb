// Utilization of a room per bucket (docs/hub-people.md "Utilization"): its timetable laid over the
// people its camera counted. Time with no count is neither empty nor occupied: it is reported as
// scheduled-but-uncounted, so a box that cannot count never makes a class look empty.
import { type BucketKind, bucketEnd, bucketStart, splitSpan } from '../rollups/buckets.js';

export interface CountedWindow {
  start: number;
  end: number;
  people: number;
  peak: number;
}

export interface UtilizationCell {
  start: number;
  end: number;
  scheduledMinutes: number;
  occupiedMinutes: number;
  scheduledEmptyMinutes: number;
  occupiedUnscheduledMinutes: number;
  scheduledUncountedMinutes: number;
  peopleMean: number | null;
  peoplePeak: number | null;
  seatUse: number | null;
}

interface Acc {
  scheduled: number;
  occupied: number;
  scheduledEmpty: number;
  occupiedUnscheduled: number;
  scheduledCounted: number;
  scheduledPeople: number;
  counted: number;
  people: number;
  peak: number | null;
}

const minutes = (ms: number): number => Math.round(ms / 600) / 100;

/** Sorted, non-overlapping [start, end) spans. */
export function mergeSpans(spans: Array<{ start: number; end: number }>): Array<[number, number]> {
  const sorted = spans.filter((s) => s.end > s.start).sort((a, b) => a.start - b.start);
  const out: Array<[number, number]> = [];
  for (const s of sorted) {
    const last = out.at(-1);
    if (last && s.start <= last[1]) last[1] = Math.max(last[1], s.end);
    else out.push([s.start, s.end]);
  }
  return out;
}

/** Cuts [from, to) at the schedule's edges: [a, b, scheduled] pieces in order. */
function pieces(
  schedule: Array<[number, number]>,
  from: number,
  to: number,
): Array<[number, number, boolean]> {
  const out: Array<[number, number, boolean]> = [];
  let t = from;
  for (const [s, e] of schedule) {
    if (e <= t) continue;
    if (s >= to) break;
    if (s > t) out.push([t, s, false]);
    const a = Math.max(s, t);
    const b = Math.min(e, to);
    out.push([a, b, true]);
    t = b;
    if (t >= to) break;
  }
  if (t < to) out.push([t, to, false]);
  return out;
}

export function utilizationCells(
  bucket: BucketKind,
  from: number,
  to: number,
  periods: Array<{ start: number; end: number }>,
  windows: CountedWindow[],
  capacity: number | null,
): UtilizationCell[] {
  const cells = new Map<number, Acc>();
  const first = bucketStart(bucket, from);
  for (let s = first; s < to; s = bucketEnd(bucket, s)) {
    cells.set(s, {
      scheduled: 0,
      occupied: 0,
      scheduledEmpty: 0,
      occupiedUnscheduled: 0,
      scheduledCounted: 0,
      scheduledPeople: 0,
      counted: 0,
      people: 0,
      peak: null,
    });
  }
  const cell = (start: number): Acc | undefined => cells.get(start);
  const schedule = mergeSpans(periods);
  for (const [s, e] of schedule) {
    for (const [b, ms] of splitSpan(bucket, Math.max(s, first), Math.min(e, to))) {
      const c = cell(b);
      if (c) c.scheduled += ms;
    }
  }
  for (const w of windows) {
    const lo = Math.max(w.start, first);
    const hi = Math.min(w.end, to);
    if (hi <= lo) continue;
    const occupied = w.people >= 1;
    for (const [a, z, scheduled] of pieces(schedule, lo, hi)) {
      for (const [b, ms] of splitSpan(bucket, a, z)) {
        const c = cell(b);
        if (!c) continue;
        c.counted += ms;
        c.people += ms * w.people;
        c.peak = Math.max(c.peak ?? 0, w.peak);
        if (occupied) c.occupied += ms;
        if (scheduled) {
          c.scheduledCounted += ms;
          c.scheduledPeople += ms * w.people;
          if (!occupied) c.scheduledEmpty += ms;
        } else if (occupied) {
          c.occupiedUnscheduled += ms;
        }
      }
    }
  }
  return [...cells].map(([start, c]) => ({
    start,
    end: bucketEnd(bucket, start),
    scheduledMinutes: minutes(c.scheduled),
    occupiedMinutes: minutes(c.occupied),
    scheduledEmptyMinutes: minutes(c.scheduledEmpty),
    occupiedUnscheduledMinutes: minutes(c.occupiedUnscheduled),
    scheduledUncountedMinutes: minutes(Math.max(0, c.scheduled - c.scheduledCounted)),
    peopleMean: c.counted > 0 ? Math.round((c.people / c.counted) * 100) / 100 : null,
    peoplePeak: c.peak,
    seatUse:
      capacity && capacity > 0 && c.scheduledCounted > 0
        ? Math.round((c.scheduledPeople / c.scheduledCounted / capacity) * 10_000) / 10_000
        : null,
  }));
}
