// Utilization arithmetic, occupancy rollups and the class.empty report with fake time
// (docs/hub-people.md "Occupancy", "Utilization").
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PeopleBus } from '../src/alarms/events.js';
import { RollupsModule } from '../src/rollups/module.js';
import { migrateSchedule } from '../src/schedule/store.js';
import { migrateCore } from '../src/store/schema.js';
import { type ClassEmpty, ClassEmptyModule, classEmptyTickMs } from '../src/utilization/class-empty.js';
import { utilizationCells } from '../src/utilization/compute.js';
import { agentView, makeCtx, type TestCtx } from './people-helpers.js';

const M = 60_000;
const H = 60 * M;

describe('utilization cells', () => {
  const day = new Date(2026, 2, 2).getTime();
  const at = (h: number, m = 0) => day + h * H + m * M;

  it('lays the timetable over the counts: empty classes, unbooked use, uncounted time and seat use', () => {
    const periods = [
      { start: at(8), end: at(9, 30) }, // class 1: full for its first hour, then the box is silent
      { start: at(10), end: at(11) }, // class 2: nobody comes
    ];
    const windows = [
      { start: at(8), end: at(9), people: 30, peak: 33 },
      { start: at(10), end: at(11), people: 0, peak: 0 },
      { start: at(12), end: at(12, 30), people: 5, peak: 6 }, // no class booked
    ];
    const cells = utilizationCells('hour', at(8), at(13), periods, windows, 60);
    expect(cells.map((c) => c.start)).toEqual([at(8), at(9), at(10), at(11), at(12)]);
    const [h8, h9, h10, h11, h12] = cells;
    expect(h8).toMatchObject({
      scheduledMinutes: 60,
      occupiedMinutes: 60,
      scheduledEmptyMinutes: 0,
      occupiedUnscheduledMinutes: 0,
      scheduledUncountedMinutes: 0,
      peopleMean: 30,
      peoplePeak: 33,
      seatUse: 0.5,
    });
    expect(h9).toMatchObject({
      scheduledMinutes: 30,
      scheduledUncountedMinutes: 30,
      peopleMean: null,
      seatUse: null,
    });
    expect(h10).toMatchObject({
      scheduledMinutes: 60,
      scheduledEmptyMinutes: 60,
      occupiedMinutes: 0,
      seatUse: 0,
    });
    expect(h11).toMatchObject({ scheduledMinutes: 0, occupiedMinutes: 0, peopleMean: null });
    expect(h12).toMatchObject({
      scheduledMinutes: 0,
      occupiedUnscheduledMinutes: 30,
      occupiedMinutes: 30,
      seatUse: null,
    });

    const days = utilizationCells('day', at(0), at(24), periods, windows, null);
    expect(days).toHaveLength(1);
    expect(days[0]).toMatchObject({
      scheduledMinutes: 150,
      occupiedMinutes: 90,
      scheduledEmptyMinutes: 60,
      seatUse: null,
    });
  });

  it('counts overlapping classes once and splits a window at a class edge', () => {
    const periods = [
      { start: at(8), end: at(9) },
      { start: at(8, 30), end: at(9, 15) },
    ];
    const windows = [{ start: at(9), end: at(9, 30), people: 2, peak: 2 }];
    const [h8, h9] = utilizationCells('hour', at(8), at(10), periods, windows, 10);
    expect(h8!.scheduledMinutes).toBe(60);
    expect(h9).toMatchObject({
      scheduledMinutes: 15,
      occupiedMinutes: 30,
      occupiedUnscheduledMinutes: 15,
      seatUse: 0.2,
    });
  });
});

describe('occupancy in rollups', () => {
  let t: TestCtx;
  let m: RollupsModule;
  const t0 = new Date(2026, 2, 2, 10, 0).getTime();

  beforeEach(async () => {
    t = await makeCtx();
    t.registry.put(agentView('a1', 'R1'));
    m = new RollupsModule(t.ctx);
    await m.start();
  });
  afterEach(async () => {
    await m.stop();
    await t.close();
  });

  it('books peopleMean, peoplePeak and occupiedMinutes from capture windows', async () => {
    const win = (seq: number, startMin: number, people: number, peak: number) => ({
      seq,
      kind: 'capture' as const,
      source: 'cam',
      start: t0 + startMin * M,
      end: t0 + (startMin + 10) * M,
      occupancy: { people, peak, samples: 20 },
    });
    t.ctx.bus.emit('records.committed', {
      agent: 'a1',
      room: 'R1',
      historical: false,
      records: [win(1, 0, 20, 24), win(2, 10, 10, 12), win(3, 20, 0, 0)],
    });
    // A window without a count adds nothing to the people figures.
    t.ctx.bus.emit('records.committed', {
      agent: 'a1',
      room: 'R1',
      historical: false,
      records: [{ seq: 4, kind: 'capture', source: 'cam', start: t0 + 30 * M, end: t0 + 40 * M }],
    });
    const [hour] = await m.query('R1', 'hour', t0, t0 + H);
    expect(hour).toMatchObject({ peopleMean: 10, peoplePeak: 24, occupiedMinutes: 20 });
    const [other] = await m.query('R1', 'hour', t0 + H, t0 + 2 * H);
    expect(other).toBeUndefined();
  });
});

describe('class.empty', () => {
  let t: TestCtx;
  let people: PeopleBus;
  let got: ClassEmpty[];
  let mod: ClassEmptyModule;
  const start = new Date(2026, 2, 2, 8, 0).getTime();

  const period = (id: string, room: string, s: number, e: number) =>
    t.db.run(
      'INSERT INTO schedule_periods (id, room, start, end_ts, title, origin, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      [id, room, s, e, `Class ${id}`, 'csv', s - H],
    );
  let seq = 0;
  const window = (room: string, s: number, people: number | null) => {
    seq++;
    const body = {
      seq,
      kind: 'capture',
      source: 'cam',
      start: s,
      end: s + M,
      ...(people === null ? {} : { occupancy: { people, peak: people, samples: 2 } }),
    };
    return t.db.run(
      'INSERT INTO records (agent, seq, kind, source, ts, end_ts, room, type, historical, received_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 0, ?, ?)',
      [`box-${room}`, seq, 'capture', 'cam', s, s + M, room, s, JSON.stringify(body)],
    );
  };

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    vi.setSystemTime(start - 5 * M);
    t = await makeCtx();
    await migrateCore(t.db);
    await migrateSchedule(t.db);
    people = new PeopleBus(t.ctx.log);
    got = [];
    people.on('class.empty', (e) => got.push(e));
    mod = new ClassEmptyModule(t.ctx, people);
    await mod.start();
  });
  afterEach(async () => {
    await mod.stop();
    vi.useRealTimers();
    await t.close();
  });

  it('reports a counted, empty class once, after 15 minutes; never a class that met or was not counted', async () => {
    await period('p-empty', 'R-empty', start, start + 90 * M);
    await period('p-met', 'R-met', start, start + 90 * M);
    await period('p-blind', 'R-blind', start, start + 90 * M);
    for (let i = 0; i < 15; i++) {
      await window('R-empty', start + i * M, 0);
      await window('R-met', start + i * M, i === 12 ? 3 : 0);
      await window('R-blind', start + i * M, null);
    }
    vi.setSystemTime(start + 14 * M);
    await mod.tick();
    expect(got).toEqual([]);

    await vi.advanceTimersByTimeAsync(2 * M);
    // A pass the interval started before the 15th minute may still be reading the store: the first
    // tick joins it, the second is a pass of its own at the 16th minute.
    await mod.tick();
    await mod.tick();
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({
      room: 'R-empty',
      period: { id: 'p-empty', title: 'Class p-empty', start },
      afterMinutes: 15,
      countedMinutes: 15,
    });
    await vi.advanceTimersByTimeAsync(10 * M);
    expect(got).toHaveLength(1);

    // A restarted hub on the same store does not send it again (the claim row).
    await mod.stop();
    mod = new ClassEmptyModule(t.ctx, people);
    await mod.start();
    await mod.tick();
    expect(got).toHaveLength(1);
  });

  it('waits for the configured time', async () => {
    await mod.stop();
    mod = new ClassEmptyModule(t.ctx, people, 30 * M);
    await mod.start();
    await period('p-late', 'R-late', start, start + 90 * M);
    for (let i = 0; i < 30; i++) await window('R-late', start + i * M, 0);
    vi.setSystemTime(start + 20 * M);
    await mod.tick();
    expect(got).toEqual([]);
    vi.setSystemTime(start + 31 * M);
    await mod.tick();
    expect(got.map((e) => [e.room, e.afterMinutes])).toEqual([['R-late', 30]]);
  });

  it('looks more often when the delay is short (42 s: every 7 s, not every 30 s)', async () => {
    expect(classEmptyTickMs(15 * M)).toBe(30_000);
    expect(classEmptyTickMs(42_000)).toBe(7_000);
    expect(classEmptyTickMs(0)).toBe(1_000);
    await mod.stop();
    const every = vi.spyOn(t.ctx.clock, 'setInterval');
    mod = new ClassEmptyModule(t.ctx, people, 42_000);
    await mod.start();
    expect(every).toHaveBeenCalledWith(expect.any(Function), 7_000);
    every.mockRestore();
  });
});
