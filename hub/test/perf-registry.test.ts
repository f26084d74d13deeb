// The incremental structures behind fast summaries: the registry's room index and availability counts,
// and the alarm engine's open count per room, each checked against a full recomputation.
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AlarmEngine } from '../src/alarms/engine.js';
import { PeopleBus } from '../src/alarms/events.js';
import { AlarmStore } from '../src/alarms/store.js';
import { createBus, systemClock } from '../src/context.js';
import { AgentRegistry } from '../src/registry/registry.js';
import { birth } from './core-helpers.js';
import { makeCtx, type TestCtx } from './people-helpers.js';

const log = pino({ level: 'silent' });
const room = (id: string) => ({ id, name: id, building: 'A', floor: '1', campus: 'Main' });

function consistent(reg: AgentRegistry): void {
  const all = reg.agents();
  expect(all.map((a) => a.agent)).toEqual([...all.map((a) => a.agent)].sort());
  const rooms = new Set(all.flatMap((a) => (a.room ? [a.room.id] : [])));
  expect(new Set(reg.roomIds())).toEqual(rooms);
  for (const r of [...rooms, 'NOPE']) {
    expect(reg.byRoom(r), r).toEqual(all.filter((a) => a.room?.id === r));
  }
  const counts = { online: 0, offline: 0, lost: 0, sleeping: 0, unknown: 0 };
  for (const a of all) counts[a.availability]++;
  expect(reg.counts()).toEqual(counts);
}

describe('registry room index', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('stays consistent across loads, provisioning, births, room moves and availability changes', () => {
    const reg = new AgentRegistry({ clock: systemClock, bus: createBus(new EventEmitter(), log), log });
    reg.start(1000);
    reg.load({ agent: 'z9', room: room('R1'), birth: null, session: 1, lastSeen: null });
    reg.load({ agent: 'a0', room: null, birth: birth('a0', 'R2', 3), session: 3, lastSeen: null });
    reg.ensure('m5', null); // provisioned with no room yet
    consistent(reg);
    expect(reg.byRoom('R1').map((a) => a.agent)).toEqual(['z9']);

    reg.ensure('m5', room('R1')); // a room given later
    reg.onBirth('b1', birth('b1', 'R1', 1, 10));
    reg.onBirth('c2', birth('c2', 'R3', 1, 10));
    consistent(reg);
    expect(reg.byRoom('R1').map((a) => a.agent)).toEqual(['b1', 'm5', 'z9']);

    reg.onBirth('b1', birth('b1', 'R3', 2, 10)); // a box with no provisioned room follows its birth
    // The provisioned room is authoritative (docs/hub-identity.md): a birth naming another room is filed
    // under the provisioned one, and provisioning a room (`agents move`) moves a box born elsewhere.
    reg.onBirth('z9', birth('z9', 'R4', 2, 10));
    reg.ensure('c2', room('R9'));
    consistent(reg);
    expect(reg.byRoom('R1').map((a) => a.agent)).toEqual(['m5', 'z9']);
    expect(reg.byRoom('R3').map((a) => a.agent)).toEqual(['b1']);
    expect(reg.byRoom('R4')).toEqual([]);
    expect(reg.byRoom('R9').map((a) => a.agent)).toEqual(['c2']);

    reg.onBirth('b1', birth('b1', 'R3', 1, 10)); // stale birth: ignored
    reg.onState('c2', { v: 1, state: 'offline', session: 1, ts: Date.now() });
    reg.onState('b1', { v: 1, state: 'sleeping', session: 2, ts: Date.now() });
    consistent(reg);
    vi.advanceTimersByTime(40_000); // z9 goes lost after 3 silent intervals
    expect(reg.agent('z9')?.availability).toBe('lost');
    consistent(reg);
    reg.onTelemetry('z9', {
      v: 1,
      session: 2,
      ts: Date.now(),
      cpu: { load1: 0, usage: 0 },
      memory: { usedBytes: 0, totalBytes: 1 },
      disk: { freeBytes: 1, totalBytes: 1 },
    } as never);
    expect(reg.agent('z9')?.availability).toBe('online');
    consistent(reg);
    reg.stop();
  });
});

describe('alarm open count per room', () => {
  let t: TestCtx;
  let engine: AlarmEngine;

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    t = await makeCtx();
    const store = new AlarmStore(t.db);
    await store.migrate();
    engine = new AlarmEngine(store, t.ctx.clock, new PeopleBus(t.ctx.log), t.ctx.log, {
      raiseAfterMs: 1_000,
      clearAfterMs: 1_000,
      flapWindowMs: 60_000,
      flapThreshold: 100,
      flapClearMs: 60_000,
    });
    await engine.load();
  });

  afterEach(async () => {
    engine.stop();
    await engine.flush();
    vi.useRealTimers();
    await t.close();
  });

  const check = () => {
    for (const r of ['r1', 'r2', 'r3', null]) {
      expect(engine.openCountInRoom(r), String(r)).toBe(engine.openCount((a) => a.room === r));
    }
  };

  it('matches a full scan through raise, ack, clear, re-raise in another room, maintenance and reload', async () => {
    const sig = (agent: string, type: 'video.black' | 'audio.silent', r: string | null, active: boolean) =>
      engine.signal({ agent, source: type === 'video.black' ? 'cam' : 'mic', type, room: r, active });
    sig('a1', 'video.black', 'r1', true);
    sig('a1', 'audio.silent', 'r1', true);
    sig('a2', 'video.black', 'r2', true);
    sig('a3', 'video.black', null, true);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(engine.openCountInRoom('r1')).toBe(2);
    check();
    const a2 = engine.list().find((a) => a.agent === 'a2');
    await engine.ack(a2?.id ?? '', 'op', null); // acked is still open
    expect(engine.openCountInRoom('r2')).toBe(1);
    sig('a1', 'video.black', 'r1', false);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(engine.openCountInRoom('r1')).toBe(1);
    check();
    sig('a1', 'video.black', 'r3', true); // re-raised after the box moved to r3
    await vi.advanceTimersByTimeAsync(1_000);
    expect(engine.openCountInRoom('r3')).toBe(1);
    check();
    engine.setMaintenance('r1', true); // clears r1's media alarms
    await vi.advanceTimersByTimeAsync(1_000);
    check();
    await engine.flush();

    // Per-agent condition index: sleeping or a new session of one agent touches only its own alarms.
    sig('b1', 'video.black', 'r2', true);
    sig('b2', 'video.black', 'r2', true);
    sig('b2', 'audio.silent', 'r2', true);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(engine.openCountInRoom('r2')).toBe(4);
    engine.setSleeping('b1', true);
    expect(engine.openCountInRoom('r2')).toBe(3);
    engine.resetMedia('b2'); // conditions gone: both clear after clearAfter
    await vi.advanceTimersByTimeAsync(1_000);
    expect(engine.list().filter((a) => a.agent.startsWith('b') && a.state !== 'cleared')).toEqual([]);
    expect(engine.openCountInRoom('r2')).toBe(1);
    check();
    await engine.flush();

    const again = new AlarmEngine(new AlarmStore(t.db), t.ctx.clock, new PeopleBus(t.ctx.log), t.ctx.log);
    await again.load();
    for (const r of ['r1', 'r2', 'r3', null])
      expect(again.openCountInRoom(r)).toBe(engine.openCountInRoom(r));
    again.stop();
  });
});
