// The tile's one decision (hub/web/status.js): colour and words always agree with the open alarms.
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ES module of the dashboard, no type declarations
import { PROBLEMS, roomCondition, sinceText } from '../web/status.js';

type Entry = Parameters<typeof roomCondition>[0];

const T0 = 1_700_000_000_000;

function entry(
  availability = 'online',
  sources: Array<{ id: string; status: string; since?: number }> = [],
): Entry {
  return {
    agent: {
      availability,
      since: T0,
      sources: [
        { id: 'cam', kind: 'camera', status: 'ok', since: T0 },
        { id: 'mic', kind: 'microphone', status: 'ok', since: T0 },
      ].map((s) => {
        const o = sources.find((x) => x.id === s.id);
        return o ? { ...s, status: o.status, since: o.since ?? T0 } : s;
      }),
    },
  } as Entry;
}

const alarm = (type: string, state = 'active', raisedAt = T0 + 1000, source: string | null = 'cam') => ({
  type,
  state,
  source,
  raisedAt,
});

describe('roomCondition', () => {
  it('is ok and green only when nothing is wrong', () => {
    expect(roomCondition(entry(), [])).toMatchObject({ level: 'ok', problem: null, more: 0 });
  });

  it('an open black-video alarm makes the tile red and say black, even when the live status reads ok', () => {
    // The registry's source status can lag (hub restart, missed event); the alarm wins.
    const c = roomCondition(entry(), [alarm('video.black')]);
    expect(c).toMatchObject({
      level: 'alarm',
      problem: 'black',
      since: T0 + 1000,
      source: 'cam',
      alarmed: true,
    });
  });

  it('never shows ok or warn while any alarm is open, for every alarm type and state', () => {
    const types = [
      'agent.offline',
      'source.down',
      'video.black',
      'video.frozen',
      'audio.silent',
      'disk.low',
      'schedule.no-capture',
      'schedule.precheck',
    ];
    for (const type of types) {
      for (const [state, level] of [
        ['active', 'alarm'],
        ['acked', 'acked'],
      ] as const) {
        for (const e of [
          entry(),
          entry('sleeping'),
          entry('lost'),
          entry('online', [{ id: 'mic', status: 'silent' }]),
        ]) {
          const c = roomCondition(e, [alarm(type, state)]);
          expect(c.level, `${type} ${state}`).toBe(level);
          expect(c.problem, `${type} ${state}`).not.toBeNull();
        }
      }
    }
  });

  it('an active alarm beside an acknowledged one keeps the tile in the alarm colour', () => {
    const c = roomCondition(entry(), [alarm('video.frozen', 'acked'), alarm('audio.silent', 'active')]);
    expect(c).toMatchObject({ level: 'alarm', problem: 'frozen', more: 1 });
  });

  it('cleared alarms are ignored', () => {
    expect(roomCondition(entry(), [alarm('video.black', 'cleared')]).level).toBe('ok');
  });

  it('names the worst problem first: offline > no stream > black > frozen > silent', () => {
    const c = roomCondition(entry(), [
      alarm('audio.silent', 'active', T0, 'mic'),
      alarm('video.frozen'),
      alarm('source.down'),
    ]);
    expect(c).toMatchObject({ problem: 'down', more: 2 });
    expect(roomCondition(entry('lost'), [alarm('audio.silent')]).problem).toBe('offline');
    expect(PROBLEMS.indexOf('black')).toBeLessThan(PROBLEMS.indexOf('frozen'));
  });

  it('a live problem with no alarm yet is amber and says what it is, since when', () => {
    const c = roomCondition(entry('online', [{ id: 'cam', status: 'frozen', since: T0 + 5 }]), []);
    expect(c).toMatchObject({
      level: 'warn',
      problem: 'frozen',
      since: T0 + 5,
      source: 'cam',
      alarmed: false,
    });
    expect(roomCondition(entry('lost'), [])).toMatchObject({ level: 'warn', problem: 'offline' });
  });

  it('maintenance (sleeping agent or room in maintenance) is grey and says so', () => {
    expect(roomCondition(entry('sleeping'), [])).toMatchObject({ level: 'sleeping', problem: 'maintenance' });
    expect(roomCondition(entry(), [], { maintenanceSince: T0 })).toMatchObject({
      level: 'sleeping',
      problem: 'maintenance',
    });
  });

  it('a room without an agent, or one the hub has not heard from since it restarted, is unknown', () => {
    expect(roomCondition({ agent: null } as Entry, [])).toMatchObject({
      level: 'unknown',
      problem: 'unknown',
    });
    expect(roomCondition(entry('unknown'), []).level).toBe('unknown');
  });
});

describe('sinceText', () => {
  it('reads in minutes, hours and days, in both languages', () => {
    expect(sinceText(T0, T0 + 30_000, 'en')).toBe('just now');
    expect(sinceText(T0, T0 + 5 * 60_000, 'zh-CN')).toBe('5 分钟前');
    expect(sinceText(T0, T0 + 3 * 3_600_000, 'en')).toBe('3 h ago');
    expect(sinceText(T0, T0 + 3 * 86_400_000, 'zh-CN')).toBe('3 天前');
    expect(sinceText(null, T0, 'en')).toBe('');
  });
});
