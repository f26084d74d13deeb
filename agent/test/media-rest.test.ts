import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { DEFAULT_REST, RestController, restActive, watchPlan } from '../src/media/rest.js';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
// Monday 2026-11-30 00:00 UTC; classes 08:00–08:45 and 10:00–10:45.
const D0 = Date.UTC(2026, 10, 30);
const classes: [number, number][] = [
  [D0 + 8 * 60 * MIN, D0 + 8 * 60 * MIN + 45 * MIN],
  [D0 + 10 * 60 * MIN, D0 + 10 * 60 * MIN + 45 * MIN],
];

describe('watchPlan: full watch in class and from the pre-class check, a duty cycle otherwise', () => {
  it('is on for onS of every everyS off-hours, aligned to wall-clock multiples', () => {
    const p = watchPlan(D0 + 3 * 60 * MIN + 5_000, classes, DEFAULT_REST);
    expect(p).toEqual({ mode: 'duty', on: true, nextAt: D0 + 3 * 60 * MIN + 20_000 });
    const q = watchPlan(D0 + 3 * 60 * MIN + 20_000, classes, DEFAULT_REST);
    expect(q).toEqual({ mode: 'duty', on: false, nextAt: D0 + 3 * 60 * MIN + 5 * MIN });
  });

  it('switches to full watch precheckS before a class and back to duty at its end', () => {
    // 07:45: duty, but the next change is the pre-class check at 07:50, not the 07:50 slot alone.
    const p = watchPlan(D0 + 7 * 60 * MIN + 47 * MIN, classes, DEFAULT_REST);
    expect(p.mode).toBe('duty');
    expect(p.nextAt).toBe(D0 + 7 * 60 * MIN + 50 * MIN);
    expect(watchPlan(D0 + 7 * 60 * MIN + 50 * MIN, classes, DEFAULT_REST)).toEqual({
      mode: 'full',
      on: true,
      nextAt: classes[0]![1],
    });
    expect(watchPlan(D0 + 8 * 60 * MIN + 30 * MIN, classes, DEFAULT_REST).mode).toBe('full');
    expect(watchPlan(classes[0]![1], classes, DEFAULT_REST).mode).toBe('duty');
    // A pre-check that starts before a slot's off edge ends the slot early.
    const r = watchPlan(D0 + 9 * 60 * MIN + 49 * MIN + 55_000, classes, { ...DEFAULT_REST, everyS: 600 });
    expect(r.nextAt).toBe(D0 + 9 * 60 * MIN + 50 * MIN);
  });

  it('is on by default only with a timetable; enabled overrides either way', () => {
    expect(restActive(DEFAULT_REST, undefined)).toBe(false);
    expect(restActive(DEFAULT_REST, [])).toBe(false);
    expect(restActive(DEFAULT_REST, classes)).toBe(true);
    expect(restActive({ ...DEFAULT_REST, enabled: false }, classes)).toBe(false);
    expect(restActive({ ...DEFAULT_REST, enabled: true }, undefined)).toBe(true);
    // Enabled without classes: the duty cycle all day.
    expect(watchPlan(D0 + DAY / 2, [], DEFAULT_REST).mode).toBe('duty');
  });
});

/** A fake clock whose timers fire when the test advances time. */
function fakeClock(start: number) {
  let now = start;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout: (fn: () => void, ms: number) => {
      timers.set(++seq, { at: now + ms, fn });
      return seq;
    },
    clearTimeout: (t: unknown) => void timers.delete(t as number),
    async advance(ms: number) {
      const end = now + ms;
      for (;;) {
        const next = [...timers.entries()].sort((a, b) => a[1].at - b[1].at)[0];
        if (!next || next[1].at > end) break;
        timers.delete(next[0]);
        now = next[1].at;
        next[1].fn();
        await new Promise((r) => setImmediate(r));
      }
      now = end;
    },
  };
}

describe('RestController with a fake clock', () => {
  it('pauses and resumes the sources on the cycle, full watch from the pre-class check', async () => {
    const clock = fakeClock(D0 + 7 * 60 * MIN + 40 * MIN + 30_000);
    const steps: string[] = [];
    const modes: string[] = [];
    const settings = {
      rest: DEFAULT_REST,
      timetable: classes as readonly (readonly [number, number])[] | undefined,
    };
    const rc = new RestController({
      log: pino({ level: 'silent' }),
      clock,
      settings: () => settings,
      target: {
        resume: async () => void steps.push(`on ${(clock.now() - D0) / MIN}`),
        pause: async () => void steps.push(`off ${(clock.now() - D0) / MIN}`),
      },
      onMode: (m) => modes.push(m),
    });
    rc.start();
    await clock.advance(0);
    // 07:40:30 is past the 07:40 slot's 20 s: off at once.
    expect(steps).toEqual([`off ${7 * 60 + 40.5}`]);
    expect(rc.mode()).toBe('duty');
    await clock.advance(10 * MIN);
    // 07:45 on, 07:45:20 off, 07:50 on for the pre-class check and the class.
    expect(steps).toEqual([
      `off ${7 * 60 + 40.5}`,
      `on ${7 * 60 + 45}`,
      `off ${7 * 60 + 45 + 1 / 3}`,
      `on ${7 * 60 + 50}`,
    ]);
    expect(rc.mode()).toBe('full');
    await clock.advance(55 * MIN);
    // Class ends 08:45: 08:45 is a slot start, so the sources stay on for its 20 s, then rest.
    expect(steps.slice(4)).toEqual([`off ${8 * 60 + 45 + 1 / 3}`]);
    expect(modes).toEqual(['duty', 'full', 'duty']);
    // A config without timetable: full watch at the next re-plan.
    settings.timetable = undefined;
    rc.replan();
    await clock.advance(0);
    expect(rc.active()).toBe(false);
    expect(rc.mode()).toBe('full');
    // Re-planned at 08:45:30 (the clock stands where the last advance left it).
    expect(steps.at(-1)).toBe(`on ${8 * 60 + 45.5}`);
    await rc.stop();
  });
});
