import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { locateFfmpeg } from '@classroom/agent/ffmpeg';
import type { RecordT } from '@classroom/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { cameraArgs, shiftSteps } from '../src/media/graph.js';
import { cropOf, MAX_PEOPLE, renderRoomFrames, roomFrameArgs, seats } from '../src/media/people.js';
import type { ApiRecord } from '../src/room/hub-client.js';
import { peopleAt, repeated, scenario, shifted } from '../src/room/scenarios.js';
import { verifyPeople } from '../src/room/verify-people.js';
import { removeDir, tempDir } from './helpers.js';

// The people camera's parts without the agent (docs/simulators.md "People"): the seating, the
// timeline arithmetic, the rendered stills (real ffmpeg) and the check of counts against a timeline.
const dir = tempDir('people-unit-');
afterAll(() => removeDir(dir));

describe('seats and crops', () => {
  it('34 seats at 1280×720, faces of 48–64 px that never overlap, inside the picture', () => {
    const all = seats(1280, 720);
    expect(all).toHaveLength(MAX_PEOPLE);
    expect(MAX_PEOPLE).toBe(34);
    for (const s of all) {
      expect(s.faceW).toBeGreaterThanOrEqual(48);
      expect(s.x).toBeGreaterThanOrEqual(0);
      expect(s.x + s.faceW).toBeLessThanOrEqual(1280);
    }
    for (const a of all)
      for (const b of all) {
        if (a === b) continue;
        const apart =
          a.x + a.faceW * 1.25 <= b.x - b.faceW * 0.25 || b.x + b.faceW * 1.25 <= a.x - a.faceW * 0.25;
        expect(apart || a.row !== b.row, `seats ${JSON.stringify(a)} and ${JSON.stringify(b)} overlap`).toBe(
          true,
        );
      }
    // The layout scales with the picture.
    expect(seats(1920, 1080)[0]!.faceW).toBe(Math.round(all[0]!.faceW * 1.5));
  });

  it('every crop holds its face and stays inside its photo', () => {
    for (let i = 0; i < 20; i++) {
      const c = cropOf(i);
      expect(c.x).toBeGreaterThanOrEqual(0);
      expect(c.y).toBeGreaterThanOrEqual(0);
      expect(c.faceX).toBeGreaterThanOrEqual(0);
      expect(c.faceY).toBeGreaterThanOrEqual(0);
      expect(c.w).toBeGreaterThan(c.faceX);
      expect(c.h).toBeGreaterThan(c.faceY);
    }
  });

  it('refuses more people than seats', () => {
    expect(() => roomFrameArgs({ people: MAX_PEOPLE + 1, width: 1280, height: 720, out: 'x.jpg' })).toThrow(
      /seats 0…34 people/,
    );
    expect(() => roomFrameArgs({ people: -1, width: 1280, height: 720, out: 'x.jpg' })).toThrow();
  });
});

describe('timeline', () => {
  it('shiftSteps starts from the count in force and merges repeats', () => {
    const steps = [
      { atS: 0, count: 0 },
      { atS: 10, count: 7 },
      { atS: 15, count: 12 },
      { atS: 40, count: 0 },
    ];
    expect(shiftSteps(steps, 0)).toEqual(steps);
    expect(shiftSteps(steps, 12)).toEqual([
      { atS: 0, count: 7 },
      { atS: 3, count: 12 },
      { atS: 28, count: 0 },
    ]);
    expect(shiftSteps(steps, 50)).toEqual([{ atS: 0, count: 0 }]);
    expect(
      shiftSteps(
        [
          { atS: 0, count: 3 },
          { atS: 5, count: 3 },
        ],
        0,
      ),
    ).toEqual([{ atS: 0, count: 3 }]);
  });

  it('class-in-session fills at the class start and empties at its end; repeated and shifted keep that', () => {
    const sc = shifted(scenario('class-in-session', 10), 5);
    expect(sc.classes).toEqual([{ fromS: 15, toS: 45 }]);
    expect(peopleAt(sc, 14)).toBe(0);
    expect(peopleAt(sc, 15)).toBe(7);
    expect(peopleAt(sc, 30)).toBe(12);
    expect(peopleAt(sc, 45)).toBe(0);
    const twice = repeated(scenario('class-in-session', 10), 2);
    expect(twice.durationS).toBe(120);
    expect(twice.classes).toEqual([
      { fromS: 10, toS: 40 },
      { fromS: 70, toS: 100 },
    ]);
    expect(peopleAt(twice, 80)).toBe(12);
    const empty = scenario('empty-class', 10);
    expect(empty.expect.classEmpty).toBe(true);
    expect(empty.people.every((p) => p.count === 0)).toBe(true);
  });
});

describe('rendered room (real ffmpeg)', () => {
  it('renders one still per head count, reuses it, and the camera graph runs on them', async () => {
    const ffmpeg = locateFfmpeg().ffmpeg.path;
    const frames = await renderRoomFrames(ffmpeg, join(dir, 'frames'), [0, 3, 3], 640, 360);
    expect([...frames.keys()].sort()).toEqual([0, 3]);
    const again = await renderRoomFrames(ffmpeg, join(dir, 'frames'), [3], 640, 360);
    expect(again.get(3)).toBe(frames.get(3));
    // The two stills differ where the three people sit.
    expect(difference(ffmpeg, frames.get(0)!, frames.get(3)!)).toBeGreaterThan(0.5);
    const args = cameraArgs({
      port: 9,
      width: 640,
      height: 360,
      fps: 5,
      label: 'Room U-1',
      black: [],
      frozen: [],
      offsetS: 0,
      fontFile: null,
      people: {
        steps: [
          { atS: 0, count: 0 },
          { atS: 1, count: 3 },
        ],
        frames,
      },
    });
    // The same graph into a file for 2 s: it runs, and the picture switches from 0 to 3 people at 1 s.
    const out = join(dir, 'clip.ts');
    const i = args.indexOf('-f', args.indexOf('-b:v'));
    execFileSync(ffmpeg, [...args.slice(0, i), '-t', '2', '-y', out], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const at = (t: number): string => {
      const f = join(dir, `at-${t}.jpg`);
      execFileSync(ffmpeg, [
        '-hide_banner',
        '-loglevel',
        'error',
        '-i',
        out,
        '-ss',
        String(t),
        '-frames:v',
        '1',
        '-y',
        f,
      ]);
      return f;
    };
    const early = at(0.4);
    const late = at(1.6);
    expect(difference(ffmpeg, early, frames.get(0)!)).toBeLessThan(difference(ffmpeg, early, frames.get(3)!));
    expect(difference(ffmpeg, late, frames.get(3)!)).toBeLessThan(difference(ffmpeg, late, frames.get(0)!));
  }, 60_000);
});

/** Mean absolute luma difference of two pictures of one size (ffmpeg blend + signalstats). */
function difference(ffmpeg: string, a: string, b: string): number {
  const r = spawnSync(
    ffmpeg,
    [
      '-hide_banner',
      '-i',
      a,
      '-i',
      b,
      '-lavfi',
      '[0:v]format=yuv420p[a];[1:v]format=yuv420p[b];[a][b]blend=all_mode=difference,signalstats,metadata=print:key=lavfi.signalstats.YAVG',
      '-frames:v',
      '1',
      '-f',
      'null',
      '-',
    ],
    { encoding: 'utf8' },
  );
  const m = /lavfi\.signalstats\.YAVG=([\d.]+)/.exec(r.stderr);
  if (!m) throw new Error(`no YAVG from ffmpeg: ${r.stderr.slice(-500)}`);
  return Number(m[1]);
}

function capture(seq: number, startedAt: number, fromS: number, people: number): ApiRecord {
  const record: RecordT = {
    seq,
    kind: 'capture',
    source: 'cam',
    start: startedAt + fromS * 1000,
    end: startedAt + (fromS + 5) * 1000,
    occupancy: { people, peak: people, samples: 1 },
  } as RecordT;
  return { agent: 'a', room: 'r', historical: false, receivedAt: record.seq, record };
}

describe('verifyPeople', () => {
  const t0 = 1_000_000;
  const sc = scenario('class-in-session', 20); // 0 | 7 at 20 | 12 at 30 | 0 at 80 | end 120
  const opts = { startedAt: t0, lagS: 10, tolerance: 2, intervalS: 5, windowS: 5 };

  it('passes counts within ±2 of the steady timeline, ignores windows near a change', () => {
    const recs = [
      capture(1, t0, 10, 0),
      capture(2, t0, 25, 20), // within lag of the change at 20 and spans 30: not compared
      capture(3, t0, 45, 13),
      capture(4, t0, 60, 11),
      capture(5, t0, 85, 9), // 5 s after the room emptied: a late count, not compared
      capture(6, t0, 95, 1),
      capture(7, t0, 105, 0),
    ];
    const v = verifyPeople(recs, sc, opts);
    expect(v.failures).toEqual([]);
    expect(v.compared).toBe(5);
    expect(v.windows.find(([at]) => at === 25)?.[2]).toBeNull();
  });

  it('fails a count off by more than 2, and a step long enough that no count reached', () => {
    const v = verifyPeople([capture(1, t0, 10, 0), capture(2, t0, 45, 9), capture(3, t0, 95, 0)], sc, opts);
    expect(v.failures).toEqual(['window at 45 s counted 9 people, the timeline has 12 (±2 allowed)']);
    const w = verifyPeople([capture(1, t0, 10, 0), capture(2, t0, 45, 12)], sc, opts);
    expect(w.failures).toEqual(['no count reached the hub for the 0 people from 80 s to 120 s']);
  });
});
