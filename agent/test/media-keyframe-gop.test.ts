import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_THRESHOLDS } from '../src/media/defaults.js';
import { createSourceMonitor, keyframeDelayS } from '../src/media/monitor.js';
import {
  freeUdpPort,
  generatorOrigin,
  killAllGenerators,
  recorder,
  startGenerator,
  waitFor,
} from './media-support.js';

afterAll(() => killAllGenerators());

// A common IP camera's factory setting: a 2 s GOP with 2 B-frames. With the default delay budget
// (docs/agent-media.md "Cost") it stays on keyframes and reports black and frozen within the
// documented worst delay: one GOP for the onset, the minimum in whole GOPs, two GOPs of decoder hold.
describe('2 s GOP with 2 B-frames over UDP: keyframe mode, frozen 12–30 s, black 40–48 s', () => {
  it('stays in keyframe mode and reports both faults within the documented delay', async () => {
    const port = await freeUdpPort();
    const rec = recorder({ blackMinS: 2, frozenMinS: 10 }, 5);
    const mon = createSourceMonitor(
      { id: 'cam-b2', kind: 'camera', input: `udp://127.0.0.1:${port}` },
      rec.ctx,
    );
    await mon.start();
    const spawned = Date.now();
    const rate = 25;
    const gen = startGenerator({
      port,
      duration: 58,
      gop: 2 * rate,
      bframes: 2,
      audio: false,
      // freezeframes repeats frame 300 (12 s) up to frame 750 (30 s); the black box comes later.
      vf: `split[a][b];[a][b]freezeframes=first=${12 * rate}:last=${30 * rate}:replace=${12 * rate},drawbox=enable='between(t,40,48)':c=black:t=fill`,
    });
    try {
      await waitFor(() => rec.events.some((e) => e.type === 'video.black.end'), 90_000, 'black end');
      // Onsets and delays count from the generator's media time 0, not from its spawn: its start-up
      // on a loaded machine is not the agent's delay.
      const origin = generatorOrigin(gen);
      expect(origin).toBeGreaterThanOrEqual(spawned);
      const g0 = origin ?? spawned;
      const types = rec.events.map((e) => e.type);
      expect(types).toEqual([
        'video.frozen.start',
        'video.frozen.end',
        'video.black.start',
        'video.black.end',
      ]);
      expect(mon.status().decode).toBe('keyframes');
      const at = (type: string) => (rec.events.find((e) => e.type === type)!.ts - g0) / 1000;
      // Onsets at keyframes (every 2 s): frozen from the 12 s or 14 s keyframe, black from 40 s or 42 s.
      expect(at('video.frozen.start')).toBeGreaterThan(11);
      // ts is the onset (from media time), which a pipeline running behind on a loaded machine places
      // late by its lag: bounded by the earliest moment the freeze can be confirmed (12 s +
      // frozenMinS), which a ts taken at detection would reach.
      expect(at('video.frozen.start')).toBeLessThan(12 + 10);
      expect(at('video.black.start')).toBeGreaterThan(39);
      expect(at('video.black.start')).toBeLessThan(44);
      // Arrival after onset: minimum + the documented worst delay for this GOP and hold (6 s),
      // plus 2 s for the 500 ms read batches and load (counted from the generator's media time 0).
      const arrival = (type: string) =>
        rec.arrivals[rec.events.findIndex((e) => e.type === type)]! - (g0 - rec.t0) / 1000;
      const bound = keyframeDelayS(2, 4, 2);
      expect(bound).toBeCloseTo(6, 5);
      expect(keyframeDelayS(2, 4, 10)).toBeCloseTo(6, 5);
      expect(bound).toBeLessThanOrEqual(DEFAULT_THRESHOLDS.maxDetectionDelayS);
      expect(arrival('video.frozen.start')).toBeLessThan(12 + 10 + bound + 2);
      expect(arrival('video.black.start')).toBeLessThan(40 + 2 + bound + 2);
      // Windows count one decoded picture per keyframe: about 2.5 in 5 s.
      const full = rec.windows.filter((w) => w.video && (w.end - w.start) / 1000 >= 5 - 0.01);
      expect(full.length).toBeGreaterThan(3);
      for (const w of full.slice(1)) expect(w.video!.keyframes).toBeLessThanOrEqual(4);
    } finally {
      await mon.stop();
    }
  }, 120_000);
});
