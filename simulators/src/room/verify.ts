import { type ApiRecord, agentAlarms, agentRecords, type HubTarget } from './hub-client.js';
import { MEDIA_EVENT_TYPES, type Scenario } from './scenarios.js';
import {
  type PeopleCheckOptions,
  type PeopleVerdict,
  verifyClassEmpty,
  verifyPeople,
} from './verify-people.js';
import type { ClassEmptyReport } from './webhook-sink.js';

export interface Observed {
  availability: string[];
  maxSession: number;
  /** For a scenario with people: how to compare the counts with its timeline. */
  people?: PeopleCheckOptions;
  /** The room's `class.empty` reports, when a webhook sink was registered with the hub. */
  classEmpty?: { room: string; reports: ClassEmptyReport[] };
}

export interface Verdict {
  ok: boolean;
  failures: string[];
  summary: {
    records: number;
    captures: { cam: number; mic: number };
    events: { cam: string[]; mic: string[]; box: string[] };
    alarms: string[];
    availability: string[];
    maxSession: number;
    seqGaps: number;
    duplicates: number;
    /** Recovered source.down/up pairs the timeline did not script (a stalled ffmpeg on a loaded box). */
    glitches: string[];
    /** Counted windows against the people timeline (scenarios with people). */
    people?: Pick<PeopleVerdict, 'windows' | 'compared'>;
    classEmpty?: number;
  };
}

const MEDIA_ALARMS = new Set(['source.down', 'video.black', 'video.frozen', 'audio.silent']);

function eventTypes(records: ApiRecord[], source: string | null): string[] {
  return records
    .map((r) => r.record)
    .filter((r) => r.kind === 'event' && r.source === source)
    .sort((a, b) => (a.kind === 'event' && b.kind === 'event' ? a.ts - b.ts || a.seq - b.seq : 0))
    .map((r) => (r.kind === 'event' ? r.type : ''));
}

/**
 * Drops source.down→source.up pairs from a source whose timeline scripts no outage: on a loaded
 * machine a decoder can stall past the watchdog and recover, which is the agent doing its job, not
 * the scenario. A source.down that never recovered stays in and fails the check.
 */
function withoutGlitches(
  types: string[],
  expected: readonly string[],
  source: string,
  glitches: string[],
): string[] {
  if (expected.includes('source.down')) return types;
  const out: string[] = [];
  for (let i = 0; i < types.length; i++) {
    if (types[i] === 'source.down' && types.indexOf('source.up', i + 1) !== -1) {
      const up = types.indexOf('source.up', i + 1);
      glitches.push(`${source}: source.down/up`);
      out.push(...types.slice(i + 1, up).filter((t) => t !== 'source.down'));
      i = up;
      continue;
    }
    out.push(types[i]!);
  }
  return out;
}

/**
 * Checks what the hub stored and showed against what the scenario's timeline implies: the events per
 * source (in order, and no other media fault), the alarms raised, the availability seen, the
 * sessions, and delivery (seqs 1..N, each stored once, none lost).
 */
export async function verifyScenario(
  hub: Pick<HubTarget, 'api' | 'adminToken'>,
  agent: string,
  sc: Scenario,
  observed: Observed,
): Promise<Verdict> {
  const failures: string[] = [];
  const records = await agentRecords(hub, agent);
  const alarms = await agentAlarms(hub, agent);
  const glitches: string[] = [];
  const cam = withoutGlitches(
    eventTypes(records, 'cam').filter((t) => MEDIA_EVENT_TYPES.has(t)),
    sc.expect.events.cam,
    'cam',
    glitches,
  );
  const mic = withoutGlitches(
    eventTypes(records, 'mic').filter((t) => MEDIA_EVENT_TYPES.has(t)),
    sc.expect.events.mic,
    'mic',
    glitches,
  );
  const box = eventTypes(records, null);
  for (const [name, got, want] of [
    ['cam', cam, sc.expect.events.cam],
    ['mic', mic, sc.expect.events.mic],
  ] as const) {
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      failures.push(`${name} events: expected [${want.join(', ')}], the hub has [${got.join(', ')}]`);
    }
  }
  const alarmTypes = [...new Set(alarms.map((a) => a.type))].sort();
  for (const want of sc.expect.alarms) {
    if (!alarmTypes.includes(want))
      failures.push(`alarm ${want} was never raised (alarms: [${alarmTypes.join(', ')}])`);
  }
  for (const a of alarms) {
    if (MEDIA_ALARMS.has(a.type) && !sc.expect.alarms.includes(a.type as never)) {
      failures.push(`unexpected ${a.type} alarm on ${a.source ?? 'the box'}`);
    }
  }
  for (const want of sc.expect.availability) {
    if (!observed.availability.includes(want)) {
      failures.push(`availability ${want} never shown (saw [${observed.availability.join(' → ')}])`);
    }
  }
  if (observed.availability[observed.availability.length - 1] !== 'online') {
    failures.push(
      `agent ends ${observed.availability[observed.availability.length - 1] ?? 'unseen'}, not online`,
    );
  }
  if (observed.maxSession < sc.expect.minSessions) {
    failures.push(`expected at least ${sc.expect.minSessions} sessions, the hub saw ${observed.maxSession}`);
  }
  const seqs = records.map((r) => r.record.seq).sort((a, b) => a - b);
  const unique = new Set(seqs);
  const max = seqs[seqs.length - 1] ?? 0;
  const duplicates = seqs.length - unique.size;
  let gaps = 0;
  for (let s = 1; s <= max; s++) if (!unique.has(s)) gaps++;
  if (duplicates > 0) failures.push(`${duplicates} records stored more than once`);
  if (gaps > 0) failures.push(`${gaps} seqs missing between 1 and ${max}`);
  const captures = {
    cam: records.filter((r) => r.record.kind === 'capture' && r.record.source === 'cam').length,
    mic: records.filter((r) => r.record.kind === 'capture' && r.record.source === 'mic').length,
  };
  if (captures.cam === 0 || captures.mic === 0)
    failures.push(`no capture windows for ${captures.cam ? 'mic' : 'cam'}`);
  let people: PeopleVerdict | undefined;
  if (sc.people.length > 0 && observed.people) {
    people = verifyPeople(records, sc, observed.people);
    failures.push(...people.failures);
  }
  if (observed.classEmpty) {
    failures.push(...verifyClassEmpty(observed.classEmpty.reports, observed.classEmpty.room, sc));
  }
  return {
    ok: failures.length === 0,
    failures,
    summary: {
      records: records.length,
      captures,
      events: { cam, mic, box },
      alarms: alarms.map((a) => `${a.type}@${a.source ?? '-'}:${a.state}`),
      availability: observed.availability,
      maxSession: observed.maxSession,
      seqGaps: gaps,
      duplicates,
      glitches,
      ...(people ? { people: { windows: people.windows, compared: people.compared } } : {}),
      ...(observed.classEmpty
        ? {
            classEmpty: observed.classEmpty.reports.filter((r) => r.room === observed.classEmpty?.room)
              .length,
          }
        : {}),
    },
  };
}
