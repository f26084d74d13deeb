// Timetable parsing (docs/hub-people.md "Schedule"): iCalendar via ical.js (RRULE/EXDATE expanded),
// or CSV of class periods. Both produce concrete periods [start, end) in Unix ms.
import { parse as parseCsv } from 'csv-parse/sync';
import ICAL from 'ical.js';

export interface Period {
  start: number;
  end: number;
  title: string;
}

export class ScheduleParseError extends Error {}

export interface ParseOptions {
  /** Recurrences are expanded within [from, until). */
  from: number;
  until: number;
  maxPeriods: number;
  /**
   * Recurrence steps walked in all, including those before `from` (docs/hub-people.md "Schedules"):
   * ical.js cannot skip ahead, so a rule that starts decades early costs a step per occurrence.
   */
  maxSteps?: number;
  /** Wall-clock budget of the expansion in ms, checked every 256 steps. */
  budgetMs?: number;
  /** Time source of the budget (ms, monotonic); injected by tests. */
  elapsed?: () => number;
}

export const DEFAULT_MAX_STEPS = 20_000;
export const DEFAULT_BUDGET_MS = 2_000;
/** Sub-hourly rules are not class timetables and expand to millions of occurrences a year. */
const REFUSED_FREQ = new Set(['SECONDLY', 'MINUTELY']);

export function defaultParseOptions(now: number): ParseOptions {
  return {
    from: now - 86_400_000,
    until: now + 180 * 86_400_000,
    maxPeriods: 10_000,
    maxSteps: DEFAULT_MAX_STEPS,
    budgetMs: DEFAULT_BUDGET_MS,
  };
}

function check(p: Period, where: string): Period {
  if (!Number.isFinite(p.start) || !Number.isFinite(p.end))
    throw new ScheduleParseError(`${where}: invalid date or time`);
  if (p.end <= p.start) throw new ScheduleParseError(`${where}: end must be after start`);
  if (p.end - p.start > 24 * 3_600_000)
    throw new ScheduleParseError(`${where}: a class period longer than 24 h`);
  return { ...p, title: p.title.slice(0, 256) };
}

export function parseIcs(text: string, opts: ParseOptions): Period[] {
  let root: ICAL.Component;
  try {
    root = new ICAL.Component(ICAL.parse(text) as unknown[]);
  } catch (err) {
    throw new ScheduleParseError(`not a valid iCalendar file: ${(err as Error).message}`);
  }
  for (const tz of root.getAllSubcomponents('vtimezone')) ICAL.TimezoneService.register(tz);
  const out: Period[] = [];
  const maxSteps = opts.maxSteps ?? DEFAULT_MAX_STEPS;
  const budgetMs = opts.budgetMs ?? DEFAULT_BUDGET_MS;
  const elapsed = opts.elapsed ?? (() => performance.now());
  const startedAt = elapsed();
  let steps = 0;
  for (const vevent of root.getAllSubcomponents('vevent')) {
    const ev = new ICAL.Event(vevent);
    const where = `event "${ev.summary ?? ev.uid ?? '?'}"`;
    if (!ev.startDate) throw new ScheduleParseError(`${where}: no DTSTART`);
    const title = ev.summary ?? '';
    if (!ev.isRecurring()) {
      const p = check(
        { start: ev.startDate.toJSDate().getTime(), end: ev.endDate.toJSDate().getTime(), title },
        where,
      );
      if (p.end > opts.from && p.start < opts.until) out.push(p);
    } else {
      for (const rule of vevent.getAllProperties('rrule')) {
        const freq = String((rule.getFirstValue() as { freq?: unknown } | null)?.freq ?? '');
        if (REFUSED_FREQ.has(freq))
          throw new ScheduleParseError(
            `${where}: FREQ=${freq} is not a class timetable; use HOURLY, DAILY, WEEKLY, MONTHLY or YEARLY`,
          );
      }
      const it = ev.iterator();
      for (let next = it.next(); next; next = it.next()) {
        steps++;
        if (steps > maxSteps)
          throw new ScheduleParseError(
            `${where}: its recurrence expands to more than ${maxSteps} occurrences (counted from DTSTART, before the import window too); start the rule nearer the term or split it`,
          );
        if ((steps & 255) === 0 && elapsed() - startedAt > budgetMs)
          throw new ScheduleParseError(
            `${where}: expanding its recurrence took longer than ${budgetMs} ms; start the rule nearer the term or split it`,
          );
        const d = ev.getOccurrenceDetails(next);
        const p = check(
          { start: d.startDate.toJSDate().getTime(), end: d.endDate.toJSDate().getTime(), title },
          where,
        );
        if (p.start >= opts.until) break;
        if (p.end > opts.from) out.push(p);
        if (out.length > opts.maxPeriods) break;
      }
    }
    if (out.length > opts.maxPeriods) throw new ScheduleParseError(`more than ${opts.maxPeriods} periods`);
  }
  return out.sort((a, b) => a.start - b.start);
}

const WEEKDAYS: Record<string, number> = { mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6, sun: 7 };

function weekday(v: string, where: string): number {
  const s = v.trim().toLowerCase();
  const n = /^[1-7]$/.test(s) ? Number(s) : WEEKDAYS[s.slice(0, 3)];
  if (!n) throw new ScheduleParseError(`${where}: weekday must be 1-7 (Monday = 1) or mon…sun, got "${v}"`);
  return n;
}

/** "08:00" on the local calendar day of `day` (local time zone of the hub). */
function atTime(day: Date, hhmm: string, where: string): number {
  const m = /^(\d{1,2}):(\d{2})$/.exec(hhmm.trim());
  const h = Number(m?.[1]);
  const min = Number(m?.[2]);
  if (!m || min > 59 || h > 24 || (h === 24 && min > 0))
    throw new ScheduleParseError(`${where}: time must be HH:MM, got "${hhmm}"`);
  const d = new Date(day);
  d.setHours(Number(m[1]), Number(m[2]), 0, 0);
  return d.getTime();
}

function localDay(ymd: string, where: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(ymd.trim());
  if (!m) throw new ScheduleParseError(`${where}: date must be YYYY-MM-DD, got "${ymd}"`);
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  // Date() rolls 2026-13-40 over into 2027; a timetable with such a date is a typo, not a class.
  if (d.getMonth() !== Number(m[2]) - 1 || d.getDate() !== Number(m[3])) {
    throw new ScheduleParseError(`${where}: no such date "${ymd}"`);
  }
  return d;
}

/**
 * CSV with a header row. Three shapes, by columns present:
 * - `start,end[,title]`: ISO 8601 date-times;
 * - `date,start,end[,title]`: a local date and HH:MM times;
 * - `weekday,start,end[,title][,from][,until]`: a weekly period, expanded between from and until.
 */
export function parseCsvSchedule(text: string, opts: ParseOptions): Period[] {
  let rows: Array<Record<string, string>>;
  try {
    rows = parseCsv(text, {
      columns: (h: string[]) => h.map((c) => c.trim().toLowerCase()),
      skip_empty_lines: true,
      trim: true,
      bom: true,
    });
  } catch (err) {
    throw new ScheduleParseError(`not valid CSV: ${(err as Error).message}`);
  }
  const out: Period[] = [];
  rows.forEach((r, i) => {
    const where = `CSV line ${i + 2}`;
    const title = r.title ?? '';
    if (r.start === undefined || r.end === undefined)
      throw new ScheduleParseError(`${where}: needs start and end columns`);
    if (r.weekday !== undefined) {
      const wd = weekday(r.weekday, where);
      const from = r.from ? localDay(r.from, where).getTime() : opts.from;
      const until = r.until ? localDay(r.until, where).getTime() + 86_400_000 : opts.until;
      const day = new Date(Math.max(from, opts.from));
      day.setHours(0, 0, 0, 0);
      while (day.getTime() < Math.min(until, opts.until)) {
        if ((day.getDay() || 7) === wd) {
          const p = check(
            { start: atTime(day, r.start, where), end: atTime(day, r.end, where), title },
            where,
          );
          if (p.start >= from) out.push(p);
        }
        day.setDate(day.getDate() + 1);
        if (out.length > opts.maxPeriods)
          throw new ScheduleParseError(`more than ${opts.maxPeriods} periods`);
      }
    } else if (r.date !== undefined) {
      const day = localDay(r.date, where);
      out.push(check({ start: atTime(day, r.start, where), end: atTime(day, r.end, where), title }, where));
    } else {
      out.push(check({ start: Date.parse(r.start), end: Date.parse(r.end), title }, where));
    }
  });
  if (out.length > opts.maxPeriods) throw new ScheduleParseError(`more than ${opts.maxPeriods} periods`);
  return out.sort((a, b) => a.start - b.start);
}

export type ScheduleFormat = 'ics' | 'csv';

export function parseSchedule(format: ScheduleFormat, text: string, opts: ParseOptions): Period[] {
  return format === 'ics' ? parseIcs(text, opts) : parseCsvSchedule(text, opts);
}
