import type { RecordT } from '@classroom/protocol';
import { RecordsBatch } from '@classroom/protocol';
import { describe, expect, it } from 'vitest';
import { FleetAgent } from '../src/fleet/agent.js';
import { FLEET_DEFAULTS } from '../src/fleet/fleet.js';
import { emptyStats, type FleetHooks } from '../src/fleet/hooks.js';
import { MemoryOutbox } from '../src/fleet/outbox.js';
import { createRng } from '../src/fleet/random.js';

const rec = (seq: number, kind: 'capture' | 'event' = 'capture'): RecordT =>
  kind === 'capture'
    ? { seq, kind, source: 'cam', start: 0, end: 1 }
    : { seq, kind, source: null, ts: 1, type: 'disk.low', detail: {} };

describe('MemoryOutbox', () => {
  it('keeps records until an ack covers them, resends from the start after a rewind', () => {
    const o = new MemoryOutbox(100);
    for (let s = 1; s <= 5; s++) o.push(rec(s));
    expect(o.unsent(3).map((r) => r.seq)).toEqual([1, 2, 3]);
    o.sentThrough = 3;
    expect(o.unsent(10).map((r) => r.seq)).toEqual([4, 5]);
    expect(
      o.ack([
        [1, 2],
        [4, 4],
      ]),
    ).toBe(3);
    expect(o.size).toBe(2);
    o.rewind();
    expect(o.unsent(10).map((r) => r.seq)).toEqual([3, 5]);
  });

  it('at its bound drops the oldest capture windows (never events) and names the range', () => {
    const o = new MemoryOutbox(3);
    o.push(rec(1, 'event'));
    o.push(rec(2));
    o.push(rec(3));
    expect(o.push(rec(4))).toEqual({ count: 1, fromSeq: 2, toSeq: 2 });
    expect(o.push(rec(5))).toEqual({ count: 1, fromSeq: 3, toSeq: 3 });
    expect(o.unsent(10).map((r) => r.seq)).toEqual([1, 4, 5]);
    expect(o.oldestSeq()).toBe(1);
  });
});

function hooks(over: Partial<FleetHooks['options']>, clock: { t: number }): FleetHooks {
  return {
    options: { ...FLEET_DEFAULTS, ...over },
    stats: emptyStats(),
    now: () => clock.t,
    rng: createRng(7),
    dirty: () => {},
    connected: () => {},
    disconnected: () => {},
    stopped: () => {},
    error: (_a, err) => {
      throw err;
    },
    badInbound: () => {},
    malformed: () => {},
  };
}

describe('FleetAgent (no broker: its clock and scheduler are injected)', () => {
  it('emits valid, contiguous windows and balanced fault events on its own window grid', () => {
    const clock = { t: 1_800_000_000_000 };
    const h = hooks({ windowS: 10, mediaFaultRate: 0.5, clockSkewMs: 0 }, clock);
    const agent = new FleetAgent(
      {
        agent: 'u-1',
        username: 'u-1',
        password: 'x',
        room: { id: 'U1', name: 'U1', building: 'B', floor: '1', campus: 'C' },
      },
      { session: 0, nextSeq: 1, pendingFrom: null },
      h,
      0,
    );
    agent.nextWindowAt = clock.t + 10_000;
    for (let i = 0; i < 600; i++) {
      clock.t += 1000;
      agent.tick(clock.t);
    }
    const records = agent.outbox.unsent(10_000);
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: records.length }, (_, i) => i + 1));
    const captures = records.filter((r) => r.kind === 'capture');
    expect(captures).toHaveLength(60 * 2);
    // Every batch the agent would send is a valid protocol message.
    expect(RecordsBatch.safeParse({ v: 1, session: 1, records: records.slice(0, 500) }).success).toBe(true);
    for (const [start, end] of [
      ['video.black.start', 'video.black.end'],
      ['video.frozen.start', 'video.frozen.end'],
      ['audio.silence.start', 'audio.silence.end'],
    ]) {
      const types = records.filter((r) => r.kind === 'event').map((r) => (r.kind === 'event' ? r.type : ''));
      const opened = types.filter((t) => t === start).length;
      const closed = types.filter((t) => t === end).length;
      expect(opened - closed === 0 || opened - closed === 1).toBe(true);
    }
    expect(records.some((r) => r.kind === 'event')).toBe(true);
  });

  it('a skewed clock shifts its timestamps and reports one clock.skew event', () => {
    const clock = { t: 1_800_000_000_000 };
    const h = hooks({ windowS: 5, clockSkewMs: 60_000 }, clock);
    const agent = new FleetAgent(
      {
        agent: 'u-2',
        username: 'u-2',
        password: 'x',
        room: { id: 'U2', name: 'U2', building: 'B', floor: '1', campus: 'C' },
      },
      { session: 3, nextSeq: 41, pendingFrom: null },
      h,
      -45_000,
    );
    agent.nextWindowAt = clock.t + 5000;
    for (let i = 0; i < 30; i++) {
      clock.t += 1000;
      agent.tick(clock.t);
    }
    const records = agent.outbox.unsent(100);
    expect(records[0]!.seq).toBe(41);
    const skew = records.filter((r) => r.kind === 'event' && r.type === 'clock.skew');
    expect(skew).toHaveLength(1);
    const first = records.find((r) => r.kind === 'capture')!;
    expect(first.kind === 'capture' && first.end).toBe(clock.t - 25_000 - 45_000);
  });

  it('a quiesced agent makes no new windows; a fixed skew is reported without clockSkewMs', () => {
    const clock = { t: 1_800_000_000_000 };
    // clockSkewMs 0: the skew comes from the fleet's per-agent table (FleetConfig.skewByAgent).
    const h = hooks({ windowS: 1, clockSkewMs: 0 }, clock);
    const agent = new FleetAgent(
      {
        agent: 'u-3',
        username: 'u-3',
        password: 'x',
        room: { id: 'U3', name: 'U3', building: 'B', floor: '1', campus: 'C' },
      },
      { session: 1, nextSeq: 1, pendingFrom: null },
      h,
      3_600_000,
    );
    agent.nextWindowAt = clock.t + 1000;
    for (let i = 0; i < 5; i++) {
      clock.t += 1000;
      agent.tick(clock.t);
    }
    const made = agent.counters.nextSeq;
    expect(made).toBeGreaterThan(5);
    const skew = agent.outbox.unsent(100).filter((r) => r.kind === 'event' && r.type === 'clock.skew');
    expect(skew.map((r) => r.kind === 'event' && r.detail.offsetMs)).toEqual([3_600_000]);
    agent.quiesced = true;
    for (let i = 0; i < 5; i++) {
      clock.t += 1000;
      agent.tick(clock.t);
    }
    expect(agent.counters.nextSeq).toBe(made);
  });
});
