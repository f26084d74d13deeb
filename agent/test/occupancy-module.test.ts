import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { CaptureWindow } from '../src/media/types.js';
import type { PeopleDetector } from '../src/occupancy/detector.js';
import type { CountResult } from '../src/occupancy/messages.js';
import { OccupancyCounter } from '../src/occupancy/module.js';

/** A detector whose start and counts the test resolves by hand (unit test of the module only). */
function scripted() {
  const counts: ((n: number) => void)[] = [];
  let ready!: () => void;
  let fail!: (e: Error) => void;
  let stopped = 0;
  const d = {
    start: () =>
      new Promise<{ backend: string; initMs: number; simd: boolean }>((res, rej) => {
        ready = () => res({ backend: 'wasm', initMs: 1, simd: true });
        fail = rej;
      }),
    count: () =>
      new Promise<CountResult>((res) =>
        counts.push((n) => res({ people: n, boxes: [], ms: 1, width: 1, height: 1 })),
      ),
    stop: async () => {
      stopped++;
      fail?.(new Error('detector worker exited (code 1)'));
    },
  };
  return {
    detector: d as unknown as PeopleDetector,
    counts,
    ready: () => ready(),
    fail: (e: Error) => fail(e),
    stopped: () => stopped,
  };
}

const cam = { id: 'cam', kind: 'camera' as const, input: 'x', occupancy: { enabled: true, intervalS: 10 } };
const window = (): CaptureWindow => ({ kind: 'capture', source: 'cam', start: 0, end: 10_000 });
const tick = () => new Promise((r) => setImmediate(r));

describe('OccupancyCounter', () => {
  it('starts the model at the first frame, skips frames while one is counted, and summarises per window', async () => {
    const s = scripted();
    const c = new OccupancyCounter({
      log: pino({ level: 'silent' }),
      sources: [cam],
      createDetector: () => s.detector,
    });
    c.start();
    c.frame('cam', Buffer.from('jpeg')); // starts the detector; not counted
    s.ready();
    await tick();
    c.frame('cam', Buffer.from('jpeg'));
    c.frame('cam', Buffer.from('jpeg')); // busy: skipped
    expect(s.counts).toHaveLength(1);
    s.counts[0]!(7);
    await tick();
    c.frame('cam', Buffer.from('jpeg'));
    s.counts[1]!(9);
    await tick();
    const w = window();
    c.annotate(w);
    expect(w.occupancy).toEqual({ people: 8, peak: 9, samples: 2 });
    const next = window();
    c.annotate(next);
    expect(next.occupancy).toBeUndefined();
    expect(c.birthFields('cam')).toEqual({});
    await c.stop();
  });

  it('says "unavailable" with the reason once the model fails, and asks for a new birth once', async () => {
    const s = scripted();
    let births = 0;
    const c = new OccupancyCounter({
      log: pino({ level: 'silent' }),
      sources: [cam, { id: 'mic', kind: 'microphone', input: 'y' }],
      createDetector: () => s.detector,
      onUnavailable: () => births++,
    });
    c.start();
    c.frame('cam', Buffer.from('jpeg'));
    s.fail(new Error('tfjs backend is "cpu", not "wasm"'));
    await tick();
    c.frame('cam', Buffer.from('jpeg'));
    expect(births).toBe(1);
    expect(c.birthFields('cam')).toEqual({
      occupancy: 'unavailable',
      occupancyReason: 'tfjs backend is "cpu", not "wasm"',
    });
    expect(c.birthFields('mic')).toEqual({});
    expect(c.wants('cam')).toBe(false);
    await c.stop();
  });

  it('a stop during the model load ends it at once and is no failure', async () => {
    const s = scripted();
    let births = 0;
    const c = new OccupancyCounter({
      log: pino({ level: 'silent' }),
      sources: [cam],
      createDetector: () => s.detector,
      onUnavailable: () => births++,
    });
    c.start();
    c.frame('cam', Buffer.from('jpeg'));
    await c.stop();
    expect(s.stopped()).toBe(1);
    expect(births).toBe(0);
    expect(c.birthFields('cam')).toEqual({});
  });
});
