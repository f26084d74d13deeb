import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { bucketStart, splitSpan } from '../src/rollups/buckets.js';
import { RollupsModule } from '../src/rollups/module.js';
import { agentView, makeCtx, type TestCtx } from './people-helpers.js';

const H = 3_600_000;

describe('rollup buckets', () => {
  it('splits a span at hour and day boundaries', () => {
    const h = bucketStart('hour', new Date(2026, 2, 2, 9, 30).getTime());
    expect(splitSpan('hour', h + 50 * 60_000, h + 70 * 60_000)).toEqual([
      [h, 10 * 60_000],
      [h + H, 10 * 60_000],
    ]);
    const midnight = new Date(2026, 2, 3).getTime();
    const parts = splitSpan('day', midnight - H, midnight + 2 * H);
    expect(parts).toEqual([
      [bucketStart('day', midnight - H), H],
      [midnight, 2 * H],
    ]);
  });
});

describe('rollups module (incremental)', () => {
  let t: TestCtx;
  let m: RollupsModule;
  const t0 = new Date(2026, 2, 2, 10, 0).getTime();

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    vi.setSystemTime(t0);
    t = await makeCtx();
    t.registry.put(agentView('a1', 'R1', { availability: 'online' }));
    m = new RollupsModule(t.ctx);
    await m.start();
  });

  afterEach(async () => {
    await m.stop();
    vi.useRealTimers();
    await t.close();
  });

  it('books availability time as uptime across hours, ignoring sleeping time', async () => {
    const avail = (availability: 'online' | 'lost' | 'sleeping', previous: 'online' | 'lost' | 'sleeping') =>
      t.ctx.bus.emit('agent.availability', {
        agent: 'a1',
        room: 'R1',
        availability,
        previous,
        ts: Date.now(),
        reason: 'test',
      });
    vi.setSystemTime(t0 + 45 * 60_000);
    avail('lost', 'online');
    vi.setSystemTime(t0 + 75 * 60_000);
    avail('online', 'lost');
    vi.setSystemTime(t0 + 90 * 60_000);
    avail('sleeping', 'online');
    vi.setSystemTime(t0 + 2 * H);
    const hours = await m.query('R1', 'hour', t0, t0 + 3 * H);
    expect(hours.map((r) => r.uptimeRatio)).toEqual([0.75, 0.5]);
    const [day] = await m.query('R1', 'day', t0, t0 + H);
    // online 45 + 15 min, lost 30 min; the 30 sleeping minutes count neither way.
    expect(day?.uptimeRatio).toBeCloseTo(60 / 90, 3);
  });

  it('adds capture windows as they are committed, split across buckets', async () => {
    const start = t0 + 59 * 60_000 + 55_000;
    t.ctx.bus.emit('records.committed', {
      agent: 'a1',
      room: 'R1',
      historical: true,
      records: [
        {
          seq: 1,
          kind: 'capture',
          source: 'cam',
          start,
          end: start + 10_000,
          video: {
            fps: 25,
            width: 640,
            height: 360,
            keyframes: 5,
            bitrateKbps: 900,
            blackRatio: 0,
            frozenRatio: 0.9,
            motion: 0,
          },
        },
        {
          seq: 2,
          kind: 'capture',
          source: 'mic',
          start,
          end: start + 10_000,
          audio: { rmsDb: -30, peakDb: -12, loudnessLufs: -30, silenceRatio: 0.5 },
        },
      ],
    });
    vi.setSystemTime(t0 + 2 * H);
    const hours = await m.query('R1', 'hour', t0, t0 + 2 * H);
    expect(hours.map((r) => r.captureMinutes)).toEqual([0.08, 0.08]);
    expect(hours.every((r) => r.videoOkRatio === 0)).toBe(true);
    const [day] = await m.query('R1', 'day', t0, t0 + H);
    expect(day?.audioActiveMinutes).toBeCloseTo(5_000 / 60_000, 2);
    expect(day?.captureMinutes).toBeCloseTo(10_000 / 60_000, 2);
  });
});
