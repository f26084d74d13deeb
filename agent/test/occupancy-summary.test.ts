import { CaptureRecord } from '@classroom/protocol';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { withDefaults } from '../src/media/defaults.js';
import { buildPlan } from '../src/media/pipeline.js';
import { COUNT_FILTER, mergeDetections } from '../src/occupancy/scales.js';
import { CountWindow, summarizeCounts } from '../src/occupancy/summary.js';

describe('window summary', () => {
  it('is the median, the maximum and the number of counts', () => {
    expect(summarizeCounts([4, 9, 5])).toEqual({ people: 5, peak: 9, samples: 3 });
    expect(summarizeCounts([3, 8, 4, 6])).toEqual({ people: 5, peak: 8, samples: 4 });
    expect(summarizeCounts([0])).toEqual({ people: 0, peak: 0, samples: 1 });
    expect(summarizeCounts([])).toBeUndefined();
  });

  it('starts afresh after each window and validates as a capture record', () => {
    const w = new CountWindow();
    w.add(12);
    w.add(10);
    w.add(30);
    const s = w.close();
    expect(s).toEqual({ people: 12, peak: 30, samples: 3 });
    expect(w.close()).toBeUndefined();
    const rec = { seq: 1, kind: 'capture', source: 'cam', start: 0, end: 10_000, occupancy: s };
    expect(CaptureRecord.safeParse(rec).success).toBe(true);
    const bad = CaptureRecord.safeParse({ ...rec, occupancy: { people: 5, peak: 3, samples: 2 } });
    expect(bad.success).toBe(false);
    expect(CaptureRecord.safeParse({ ...rec, occupancy: { people: 1, peak: 1, samples: 0 } }).success).toBe(
      false,
    );
  });
});

describe('merging', () => {
  it('keeps one box per face found by two anchors or passes, and keeps neighbours apart', () => {
    const merged = mergeDetections([
      { x: 100, y: 100, w: 30, h: 30, score: 0.9 },
      { x: 102, y: 101, w: 29, h: 30, score: 0.7 }, // same face, other anchor
      { x: 100, y: 100, w: 16, h: 30, score: 0.5 }, // part of it, from the other pass
      { x: 134, y: 100, w: 30, h: 30, score: 0.8 }, // the neighbour
    ]);
    expect(merged.map((b) => b.score)).toEqual([0.9, 0.8]);
  });
});

describe('config and ffmpeg plan', () => {
  const base = {
    agent: 'box-1',
    room: { id: 'A101' },
    broker: { url: 'mqtt://127.0.0.1:1883' },
    dataDir: '/tmp/x',
  };

  it('counts on cameras by default every 30 s, never on microphones', () => {
    const r = parseConfig({
      ...base,
      sources: [
        { id: 'cam', kind: 'camera', input: 'udp://127.0.0.1:5000' },
        { id: 'mic', kind: 'microphone', input: 'alsa:hw:1' },
      ],
    });
    if (!r.ok) throw new Error(r.errors.join());
    expect(r.config.sources[0]!.occupancy).toEqual({ enabled: true, intervalS: 30 });
    expect(r.config.sources[1]!.occupancy?.enabled).toBe(false);
  });

  it('refuses an interval above 30 s and counting on a microphone, naming the field', () => {
    const r = parseConfig({
      ...base,
      sources: [
        { id: 'cam', kind: 'camera', input: 'x.mp4', occupancy: { enabled: true, intervalS: 60 } },
        { id: 'mic', kind: 'microphone', input: 'alsa:hw:1', occupancy: { enabled: true } },
      ],
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.some((e) => e.startsWith('sources.0.occupancy.intervalS:'))).toBe(true);
    expect(r.errors.some((e) => e.startsWith('sources.1.occupancy:'))).toBe(true);
  });

  it('adds the counted picture (PPM at the detector size) to the same ffmpeg only when counting', () => {
    const probe = { codec: 'h264', width: 1280, height: 720, fps: 25 };
    const t = withDefaults({});
    const on = buildPlan(
      { id: 'cam', kind: 'camera', input: 'x.mp4', occupancy: { enabled: true, intervalS: 20 } },
      probe,
      t,
      'keyframes',
    );
    const off = buildPlan(
      { id: 'cam', kind: 'camera', input: 'x.mp4', occupancy: { enabled: false, intervalS: 20 } },
      probe,
      t,
      'keyframes',
    );
    expect(on.occupancy).toBe(true);
    expect(on.args.filter((a) => a === '-i')).toHaveLength(1);
    expect(on.args).toContain('pipe:1');
    expect(on.args.join(' ')).toContain(`${COUNT_FILTER}[occ]`);
    expect(on.args.slice(on.args.indexOf('[occ]'))).toContain('ppm');
    expect(on.args.join(' ')).toContain('gte(t-prev_selected_t,19.55)');
    expect(off.occupancy).toBe(false);
    expect(off.args).not.toContain('pipe:1');
  });
});
