import { RoomSummary } from '@classroom/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AlarmEngine } from '../src/alarms/engine.js';
import { PeopleBus } from '../src/alarms/events.js';
import { AlarmStore } from '../src/alarms/store.js';
import { SUMMARY_DEBOUNCE_MS, SummariesModule } from '../src/summaries/module.js';
import { agentView, makeCtx, type TestCtx } from './people-helpers.js';

describe('retained room summaries', () => {
  let t: TestCtx;
  let engine: AlarmEngine;
  let m: SummariesModule;

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    t = await makeCtx();
    const bus = new PeopleBus(t.ctx.log);
    const store = new AlarmStore(t.db);
    await store.migrate();
    engine = new AlarmEngine(store, t.ctx.clock, bus, t.ctx.log, {
      raiseAfterMs: 0,
      clearAfterMs: 0,
      flapWindowMs: 1,
      flapThreshold: 100,
      flapClearMs: 0,
    });
    t.registry.put(agentView('a1', 'R1'));
    m = new SummariesModule(t.ctx, bus, engine);
    await m.start();
  });

  afterEach(async () => {
    await m.stop();
    engine.stop();
    await engine.flush();
    vi.useRealTimers();
    await t.close();
  });

  it('publishes a valid retained summary per room, coalesced and only on change', async () => {
    await vi.advanceTimersByTimeAsync(SUMMARY_DEBOUNCE_MS);
    expect(t.published).toHaveLength(1);
    const first = t.published[0]!;
    expect(first).toMatchObject({ topic: 'classroom/v1/rooms/R1/summary', opts: { qos: 1, retain: true } });
    expect(RoomSummary.safeParse(first.payload).success).toBe(true);

    // Three changes within the debounce window make one publish; a repeat of the same state none.
    const view = t.registry.agent('a1')!;
    view.sources[0]!.status = 'black';
    for (let i = 0; i < 3; i++) {
      t.ctx.bus.emit('agent.availability', {
        agent: 'a1',
        room: 'R1',
        availability: 'online',
        previous: 'online',
        ts: Date.now(),
        reason: 'x',
      });
    }
    await vi.advanceTimersByTimeAsync(SUMMARY_DEBOUNCE_MS);
    expect(t.published).toHaveLength(2);
    expect(t.published[1]!.payload).toMatchObject({
      sources: [
        { id: 'cam', status: 'black' },
        { id: 'mic', status: 'ok' },
      ],
    });
    t.ctx.bus.emit('agent.availability', {
      agent: 'a1',
      room: 'R1',
      availability: 'online',
      previous: 'online',
      ts: Date.now(),
      reason: 'x',
    });
    await vi.advanceTimersByTimeAsync(SUMMARY_DEBOUNCE_MS);
    expect(t.published).toHaveLength(2);

    engine.signal({ agent: 'a1', source: 'cam', type: 'video.black', room: 'R1', active: true });
    await vi.advanceTimersByTimeAsync(SUMMARY_DEBOUNCE_MS);
    expect(t.published).toHaveLength(3);
    expect(t.published[2]!.payload).toMatchObject({ openAlarms: 1, availability: 'online', agent: 'a1' });
  });
});
