import type { ApiRecord } from './hub-client.js';
import { peopleAt, type Scenario } from './scenarios.js';
import type { ClassEmptyReport } from './webhook-sink.js';

export interface PeopleCheckOptions {
  /** Wall-clock ms of the scenario's time 0 (RoomRunner.startedAt). */
  startedAt: number;
  /**
   * How long after a frame its count may reach a window: the agent gives a count to the window in
   * which it finishes (docs/occupancy.md "Frames"), seconds later on a loaded box.
   */
  lagS: number;
  /** Largest error accepted, in people: ±2 at faces of 40 px and more (BENCHMARKS.md). */
  tolerance: number;
  /** Seconds between counts; a step must last lagS + window + 2 intervals to be required. */
  intervalS: number;
  windowS: number;
}

export interface PeopleVerdict {
  failures: string[];
  /** Windows with a count, as [seconds into the scenario, people counted, people in view]. */
  windows: Array<[number, number, number | null]>;
  /** Windows whose count was compared with the timeline (the view did not change around them). */
  compared: number;
}

/**
 * Checks the counts the hub stored against the scenario's people timeline. A window is compared
 * only when the view held one count from `lagS` before it began to its end (a count near a change
 * may belong to either side); each step long enough must have at least one compared window.
 */
export function verifyPeople(records: ApiRecord[], sc: Scenario, o: PeopleCheckOptions): PeopleVerdict {
  const failures: string[] = [];
  const windows: PeopleVerdict['windows'] = [];
  const steps = [...sc.people].sort((a, b) => a.atS - b.atS);
  const covered = new Set<number>();
  let compared = 0;
  const captures = records
    .map((r) => r.record)
    .flatMap((r) => (r.kind === 'capture' && r.source === 'cam' && r.occupancy ? [r] : []))
    .sort((a, b) => a.start - b.start);
  for (const r of captures) {
    const fromS = (r.start - o.startedAt) / 1000 - o.lagS;
    const toS = (r.end - o.startedAt) / 1000;
    const atS = Math.round(((r.start - o.startedAt) / 1000) * 10) / 10;
    if (toS > sc.durationS) continue;
    // The step in force over the whole of [fromS, toS], if one is.
    const expected = peopleAt(sc, fromS);
    const steady = fromS >= 0 && steps.every((s) => s.atS <= fromS || s.atS >= toS || s.count === expected);
    const people = r.occupancy!.people;
    windows.push([atS, people, steady ? expected : null]);
    if (!steady) continue;
    compared++;
    const step = steps.reduce((k, s, i) => (s.atS <= fromS ? i : k), -1);
    covered.add(step);
    if (Math.abs(people - expected) > o.tolerance) {
      failures.push(
        `window at ${atS} s counted ${people} people, the timeline has ${expected} (±${o.tolerance} allowed)`,
      );
    }
  }
  const need = o.lagS + o.windowS + 2 * o.intervalS;
  steps.forEach((s, i) => {
    const end = steps[i + 1]?.atS ?? sc.durationS;
    if (end - s.atS >= need && !covered.has(i)) {
      failures.push(`no count reached the hub for the ${s.count} people from ${s.atS} s to ${end} s`);
    }
  });
  return { failures, windows, compared };
}

/** The scenario's expectation of `class.empty` against the reports a webhook sink received. */
export function verifyClassEmpty(reports: ClassEmptyReport[], room: string, sc: Scenario): string[] {
  const mine = reports.filter((r) => r.room === room);
  if (sc.expect.classEmpty && mine.length === 0) return [`no class.empty was sent for ${room}`];
  if (!sc.expect.classEmpty && mine.length > 0)
    return [`class.empty was sent for ${room}, whose class had people`];
  if (mine.length > 1) return [`class.empty was sent ${mine.length} times for one class of ${room}`];
  return [];
}
