import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AlarmEngine, type AlarmTiming } from '../src/alarms/engine.js';
import { PeopleBus } from '../src/alarms/events.js';
import { AlarmStore } from '../src/alarms/store.js';
import type { AlarmTransition } from '../src/alarms/types.js';
import { makeCtx, type TestCtx } from './people-helpers.js';

const TIMING: AlarmTiming = {
  raiseAfterMs: 10_000,
  clearAfterMs: 20_000,
  flapWindowMs: 60_000,
  flapThreshold: 4,
  flapClearMs: 120_000,
};

describe('alarm engine (hysteresis, ack, flapping, sleeping)', () => {
  let t: TestCtx;
  let store: AlarmStore;
  let engine: AlarmEngine;
  let transitions: AlarmTransition[];

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    vi.setSystemTime(new Date('2026-03-02T08:00:00Z'));
    t = await makeCtx();
    store = new AlarmStore(t.db);
    await store.migrate();
    const bus = new PeopleBus(t.ctx.log);
    transitions = [];
    bus.on('alarm.transition', (tr) => transitions.push(tr));
    engine = new AlarmEngine(store, t.ctx.clock, bus, t.ctx.log, TIMING);
    await engine.load();
  });

  afterEach(async () => {
    engine.stop();
    await engine.flush();
    vi.useRealTimers();
    await t.close();
  });

  const black = (active: boolean) =>
    engine.signal({ agent: 'a1', source: 'cam', type: 'video.black', room: 'r1', active });

  it('raises only after the condition held for raiseAfter', async () => {
    black(true);
    await vi.advanceTimersByTimeAsync(9_999);
    expect(engine.list()).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(engine.list()).toHaveLength(1);
    expect(engine.list()[0]).toMatchObject({
      state: 'active',
      agent: 'a1',
      source: 'cam',
      type: 'video.black',
    });
  });

  it('ignores a blip shorter than raiseAfter', async () => {
    black(true);
    await vi.advanceTimersByTimeAsync(5_000);
    black(false);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(engine.list()).toHaveLength(0);
    expect(transitions).toHaveLength(0);
  });

  it('clears only after the condition stayed away for clearAfter, and a return keeps it open', async () => {
    black(true);
    await vi.advanceTimersByTimeAsync(10_000);
    black(false);
    await vi.advanceTimersByTimeAsync(15_000);
    black(true);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(engine.list()[0]?.state).toBe('active');
    black(false);
    await vi.advanceTimersByTimeAsync(19_999);
    expect(engine.list()[0]?.state).toBe('active');
    await vi.advanceTimersByTimeAsync(1);
    expect(engine.list()[0]?.state).toBe('cleared');
    expect(transitions.map((x) => x.to)).toEqual(['active', 'cleared']);
  });

  it('acknowledges with who and note, refuses a second ack, and keeps the full history', async () => {
    black(true);
    await vi.advanceTimersByTimeAsync(10_000);
    const id = engine.list()[0]!.id;
    const acked = await engine.ack(id, 'wang', 'technician on the way');
    expect(acked).toMatchObject({ state: 'acked', ackedBy: 'wang', ackNote: 'technician on the way' });
    await expect(engine.ack(id, 'li', null)).rejects.toThrow(/is acked, not active/);
    await expect(engine.ack('nope', 'li', null)).rejects.toThrow(/not found/);
    black(false);
    await vi.advanceTimersByTimeAsync(20_000);
    // Raised again later: same row, fresh lifecycle.
    black(true);
    await vi.advanceTimersByTimeAsync(10_000);
    await engine.flush();
    const row = await store.get(id);
    expect(row).toMatchObject({ state: 'active', raiseCount: 2, ackedBy: null });
    const history = await store.history(id);
    expect(history.map((h) => [h.from, h.to])).toEqual([
      [null, 'active'],
      ['active', 'acked'],
      ['acked', 'cleared'],
      ['cleared', 'active'],
    ]);
    expect(history[1]).toMatchObject({ who: 'wang', note: 'technician on the way' });
  });

  it('damps flapping: one raise, held until quiet for flapClear', async () => {
    for (let i = 0; i < 6; i++) {
      black(true);
      await vi.advanceTimersByTimeAsync(2_000);
      black(false);
      await vi.advanceTimersByTimeAsync(2_000);
    }
    // Flapping is detected on the 4th change, raised at once, and never cleared in between.
    expect(transitions.map((x) => x.to)).toEqual(['active']);
    expect(engine.list()[0]).toMatchObject({ state: 'active', flapping: true });
    await vi.advanceTimersByTimeAsync(TIMING.clearAfterMs * 2);
    expect(engine.list()[0]?.state).toBe('active');
    await vi.advanceTimersByTimeAsync(TIMING.flapClearMs);
    expect(engine.list()[0]?.state).toBe('cleared');
    expect(transitions.map((x) => x.to)).toEqual(['active', 'cleared']);
  });

  it('raises no media alarms for a sleeping room, but still agent alarms', async () => {
    black(true);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(engine.list()[0]?.state).toBe('active');
    engine.setSleeping('a1', true);
    expect(engine.list()[0]?.state).toBe('cleared');
    engine.signal({ agent: 'a1', source: 'mic', type: 'audio.silent', room: 'r1', active: true });
    black(true);
    engine.signal({ agent: 'a1', source: null, type: 'agent.offline', room: 'r1', active: true });
    await vi.advanceTimersByTimeAsync(60_000);
    const open = engine.list().filter((a) => a.state !== 'cleared');
    expect(open.map((a) => a.type)).toEqual(['agent.offline']);
    engine.setSleeping('a1', false);
    engine.signal({ agent: 'a1', source: 'mic', type: 'audio.silent', room: 'r1', active: true });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(engine.openCount((a) => a.type === 'audio.silent')).toBe(1);
  });

  it('raises no media alarms for a room in maintenance; other rooms are unaffected', async () => {
    black(true);
    engine.signal({ agent: 'a2', source: 'cam', type: 'video.black', room: 'r2', active: true });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(engine.openCount()).toBe(2);
    engine.setMaintenance('r1', true);
    expect(engine.openCount((a) => a.room === 'r1')).toBe(0);
    expect(engine.openCount((a) => a.room === 'r2')).toBe(1);
    black(true);
    engine.signal({ agent: 'a1', source: null, type: 'agent.offline', room: 'r1', active: true });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(
      engine
        .list()
        .filter((a) => a.room === 'r1' && a.state !== 'cleared')
        .map((a) => a.type),
    ).toEqual(['agent.offline']);
    engine.setMaintenance('r1', false);
    black(true);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(engine.openCount((a) => a.type === 'video.black' && a.room === 'r1')).toBe(1);
  });

  it('reloads open alarms after a restart and clears them once a new session shows them gone', async () => {
    black(true);
    await vi.advanceTimersByTimeAsync(10_000);
    await engine.flush();
    const bus = new PeopleBus(t.ctx.log);
    const again = new AlarmEngine(store, t.ctx.clock, bus, t.ctx.log, TIMING);
    await again.load();
    expect(again.list()[0]).toMatchObject({ state: 'active', type: 'video.black' });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(again.list()[0]?.state).toBe('active');
    again.resetMedia('a1');
    await vi.advanceTimersByTimeAsync(20_000);
    expect(again.list()[0]?.state).toBe('cleared');
    again.stop();
    await again.flush();
  });
});
