import { EVENT_TYPES, type EventType } from '@classroom/protocol';
import type { PeopleStep, Span } from '../media/graph.js';

export const SCENARIO_NAMES = [
  'lecture',
  'black',
  'frozen',
  'silent',
  'camera-unplugged',
  'flapping-network',
  'box-power-loss',
  'class-in-session',
  'empty-class',
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** Alarm types of the hub (DESIGN: Alarms; hub/src/alarms/types.ts). */
export type ExpectedAlarm = 'source.down' | 'video.black' | 'video.frozen' | 'audio.silent' | 'agent.offline';

export interface Scenario {
  name: ScenarioName;
  description: string;
  durationS: number;
  /** Faults baked into the media timeline. */
  black: Span[];
  frozen: Span[];
  silent: Span[];
  /** The camera generator is stopped (cable pulled). */
  unplugged: Span[];
  /** The proxy between agent and broker drops every connection. */
  network: Span[];
  /** The agent process is dead (kill -9 at fromS, restarted at toS). */
  powerLoss: Span[];
  /**
   * People in the camera's view (docs/simulators.md "People"). Non-empty: the camera shows a room
   * with people at 1280×720 and the agent counts them.
   */
  people: PeopleStep[];
  /** Classes on the room's timetable, imported into the hub as the scenario starts. */
  classes: Span[];
  expect: {
    /** Event types per source, in order; media fault events of other kinds must not appear. */
    events: { cam: EventType[]; mic: EventType[] };
    /** Alarm types that must have been raised for the room's agent; no other media alarm may be. */
    alarms: ExpectedAlarm[];
    /** Availability values the hub must have shown during the run, besides online. */
    availability: Array<'lost'>;
    /** At least this many MQTT sessions (connects) in the run. */
    minSessions: number;
    /** The hub must send `class.empty` for the room (true), or must not (false). */
    classEmpty: boolean;
  };
}

/** People in the `class-in-session` room once everyone has come (within the 34 seats). */
export const CLASS_SIZE = 12;

/**
 * The scripted timelines of docs/simulators.md "classroom-sim room --scenario NAME". `u` is the pace in seconds: the CLI uses 10 (faults of 20 s,
 * visible on the dashboard), the CI scenario tests a few seconds, with the agent's detection
 * thresholds scaled to match. Every fault starts after a normal lead-in and ends before the close,
 * so each test sees a start and an end.
 */
export function scenario(name: ScenarioName, u = 10): Scenario {
  const none = {
    black: [],
    frozen: [],
    silent: [],
    unplugged: [],
    network: [],
    powerLoss: [],
    people: [],
    classes: [],
  };
  const fault = { fromS: u, toS: 3 * u };
  const base = { name, durationS: 4.5 * u };
  const quiet = { cam: [] as EventType[], mic: [] as EventType[] };
  switch (name) {
    case 'lecture':
      return {
        ...base,
        ...none,
        description: 'normal activity: moving picture, speech-like sound, no faults',
        expect: { events: quiet, alarms: [], availability: [], minSessions: 1, classEmpty: false },
      };
    case 'black':
      return {
        ...base,
        ...none,
        black: [fault],
        description: 'the lens is covered, then uncovered',
        expect: {
          events: { cam: ['video.black.start', 'video.black.end'], mic: [] },
          alarms: ['video.black'],
          availability: [],
          minSessions: 1,
          classEmpty: false,
        },
      };
    case 'frozen':
      return {
        ...base,
        ...none,
        frozen: [fault],
        description: 'the encoder hangs on one frame, then recovers',
        expect: {
          events: { cam: ['video.frozen.start', 'video.frozen.end'], mic: [] },
          alarms: ['video.frozen'],
          availability: [],
          minSessions: 1,
          classEmpty: false,
        },
      };
    case 'silent':
      return {
        ...base,
        ...none,
        silent: [fault],
        description: 'the microphone is muted, then unmuted',
        expect: {
          events: { cam: [], mic: ['audio.silence.start', 'audio.silence.end'] },
          alarms: ['audio.silent'],
          availability: [],
          minSessions: 1,
          classEmpty: false,
        },
      };
    case 'camera-unplugged':
      return {
        ...base,
        ...none,
        unplugged: [fault],
        description: 'the camera stream stops, then returns',
        expect: {
          events: { cam: ['source.down', 'source.up'], mic: [] },
          alarms: ['source.down'],
          availability: [],
          minSessions: 1,
          classEmpty: false,
        },
      };
    case 'flapping-network':
      return {
        ...base,
        ...none,
        network: [
          { fromS: u, toS: 1.6 * u },
          { fromS: 2 * u, toS: 2.6 * u },
          { fromS: 3 * u, toS: 3.4 * u },
        ],
        description: "the agent's link to the broker drops three times",
        expect: { events: quiet, alarms: [], availability: ['lost'], minSessions: 4, classEmpty: false },
      };
    case 'box-power-loss':
      return {
        ...base,
        ...none,
        powerLoss: [{ fromS: 1.5 * u, toS: 2.5 * u }],
        description: 'the box loses power (agent killed -9), then boots again',
        expect: { events: quiet, alarms: [], availability: ['lost'], minSessions: 2, classEmpty: false },
      };
    case 'class-in-session':
      // Most students come at the bell, the rest within half a unit; all leave at the end.
      return {
        ...none,
        name,
        durationS: 6 * u,
        classes: [{ fromS: u, toS: 4 * u }],
        people: [
          { atS: 0, count: 0 },
          { atS: u, count: Math.round(CLASS_SIZE * 0.6) },
          { atS: 1.5 * u, count: CLASS_SIZE },
          { atS: 4 * u, count: 0 },
        ],
        description: `a class on the timetable from u to 4u: the room fills to ${CLASS_SIZE} people, then empties at the end`,
        expect: { events: quiet, alarms: [], availability: [], minSessions: 1, classEmpty: false },
      };
    case 'empty-class':
      return {
        ...none,
        name,
        durationS: 4.5 * u,
        classes: [{ fromS: u, toS: 4 * u }],
        people: [{ atS: 0, count: 0 }],
        description: 'a class on the timetable from u to 4u, and nobody comes',
        expect: { events: quiet, alarms: [], availability: [], minSessions: 1, classEmpty: true },
      };
  }
}

/** Event types that describe a source's media; box-level events (clock.skew, disk.low) are not checked. */
export const MEDIA_EVENT_TYPES: ReadonlySet<string> = new Set(
  EVENT_TYPES.filter((t) => /^(source|video|audio)\./.test(t)),
);

/**
 * The same scenario, every step `byS` seconds later: a longer normal lead-in (an agent needs a few
 * seconds to probe and analyse a stream before it reports a source up), or a staggered demo room.
 */
export function shifted(sc: Scenario, byS: number): Scenario {
  const move = (spans: Span[]): Span[] => spans.map((s) => ({ fromS: s.fromS + byS, toS: s.toS + byS }));
  return {
    ...sc,
    durationS: sc.durationS + byS,
    black: move(sc.black),
    frozen: move(sc.frozen),
    silent: move(sc.silent),
    unplugged: move(sc.unplugged),
    network: move(sc.network),
    powerLoss: move(sc.powerLoss),
    people: sc.people.map((p) => ({ atS: p.atS + byS, count: p.count })),
    classes: move(sc.classes),
  };
}

/** People in view `atS` seconds into the scenario (0 before the first step). */
export function peopleAt(sc: Pick<Scenario, 'people'>, atS: number): number {
  let n = 0;
  for (const p of [...sc.people].sort((a, b) => a.atS - b.atS)) if (p.atS <= atS) n = p.count;
  return n;
}

/**
 * The people timeline and timetable of `sc` played `cycles` times back to back (a demo room whose
 * class comes again every `sc.durationS`); its media faults are not repeated.
 */
export function repeated(sc: Scenario, cycles: number): Scenario {
  const n = Math.max(1, Math.floor(cycles));
  const at = (k: number): number => k * sc.durationS;
  return {
    ...sc,
    durationS: n * sc.durationS,
    people: Array.from({ length: n }, (_, k) =>
      sc.people.map((p) => ({ atS: p.atS + at(k), count: p.count })),
    ).flat(),
    classes: Array.from({ length: n }, (_, k) =>
      sc.classes.map((c) => ({ fromS: c.fromS + at(k), toS: c.toS + at(k) })),
    ).flat(),
  };
}
