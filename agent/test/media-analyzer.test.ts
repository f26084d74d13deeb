import { describe, expect, it } from 'vitest';
import { inputSpec, UDP_BUFFER_BYTES, udpBufferWarning } from '../src/ffmpeg/input.js';
import { Analyzer } from '../src/media/analyzer.js';
import { Backoff } from '../src/media/backoff.js';
import { DEFAULT_THRESHOLDS, withDefaults } from '../src/media/defaults.js';
import { keyframeDelayS } from '../src/media/monitor.js';
import type { MetaFrame } from '../src/media/parse.js';
import { buildPlan, planKey } from '../src/media/pipeline.js';
import type { SourceEvent } from '../src/media/types.js';

const T0 = 1_700_000_000_000;
const vf = (pts: number, keys: Record<string, string | number> = {}): MetaFrame => ({
  instance: 'v',
  pts,
  keys: new Map(Object.entries({ 'lavfi.scd.mafd': '2.000', ...keys }).map(([k, v]) => [k, String(v)])),
});
const af = (pts: number, rms: number, m = -30): MetaFrame => ({
  instance: 'a',
  pts,
  keys: new Map([
    ['lavfi.astats.Overall.RMS_level', Number.isFinite(rms) ? String(rms) : '-inf'],
    ['lavfi.astats.Overall.Peak_level', Number.isFinite(rms) ? String(rms + 3) : '-inf'],
    ['lavfi.astats.1.RMS_level', Number.isFinite(rms) ? String(rms) : '-inf'],
    ['lavfi.astats.2.RMS_level', '-inf'],
    ['lavfi.r128.S', String(m)],
  ]),
});

function setup(t = {}) {
  const events: SourceEvent[] = [];
  const a = new Analyzer(
    'cam',
    2,
    () => withDefaults(t),
    (e) => events.push(e),
  );
  // Media time and wall time advance together in these tests: wall = T0 + pts.
  const at = (pts: number) => T0 + pts * 1000;
  return { a, events, at };
}

describe('Analyzer: black and frozen', () => {
  it('black needs blackMinS of media time; the event carries the onset time', () => {
    const { a, events, at } = setup({ blackMinS: 2 });
    a.videoFrame(vf(0), at(0));
    a.videoFrame(vf(1, { 'lavfi.black_start': 1 }), at(1));
    a.videoFrame(vf(2), at(2));
    expect(events).toEqual([]);
    // A late line: the frame of 3 s arrives at 3.4 s; the onset is still placed at 1 s, from the
    // earlier, timelier readings.
    a.videoFrame(vf(3), at(3.4));
    expect(events).toEqual([
      { kind: 'event', source: 'cam', ts: at(1), type: 'video.black.start', detail: { minS: 2 } },
    ]);
    a.videoFrame(vf(4, { 'lavfi.black_end': 4 }), at(4));
    expect(events[1]).toMatchObject({ type: 'video.black.end', ts: at(4), detail: { durationS: 3 } });
  });

  it('a black blip shorter than blackMinS makes no event', () => {
    const { a, events, at } = setup({ blackMinS: 2 });
    a.videoFrame(vf(1, { 'lavfi.black_start': 1 }), at(1));
    a.videoFrame(vf(2, { 'lavfi.black_end': 2 }), at(2));
    expect(events).toEqual([]);
  });

  it('frozen is suppressed while black and counted from the end of black', () => {
    const { a, events, at } = setup({ blackMinS: 1, frozenMinS: 3 });
    a.videoFrame(vf(0), at(0));
    a.videoFrame(vf(1, { 'lavfi.black_start': 1 }), at(1));
    // freezedetect sees black frames as still: freeze_start without end.
    for (let t = 2; t <= 6; t++)
      a.videoFrame(vf(t, t === 2 ? { 'lavfi.freezedetect.freeze_start': 1 } : {}), at(t));
    expect(events.map((e) => e.type)).toEqual(['video.black.start']);
    // Black ends but the picture after it stays still: frozen counts from 7 s, fires at 10 s.
    a.videoFrame(vf(7, { 'lavfi.black_end': 7, 'lavfi.freezedetect.freeze_start': 7 }), at(7));
    a.videoFrame(vf(9), at(9));
    expect(events.map((e) => e.type)).toEqual(['video.black.start', 'video.black.end']);
    a.videoFrame(vf(10), at(10));
    expect(events[2]).toMatchObject({ type: 'video.frozen.start', ts: at(7), detail: { minS: 3 } });
    a.videoFrame(
      vf(11, { 'lavfi.freezedetect.freeze_end': 11, 'lavfi.freezedetect.freeze_start': 7 }),
      at(11),
    );
    expect(events[3]).toMatchObject({ type: 'video.frozen.end', ts: at(11), detail: { durationS: 4 } });
  });

  it('window ratios: black and frozen frames exclusive, motion from mafd, fps and bitrate from progress reports', () => {
    const { a, at } = setup({ frozenMinS: 100 });
    a.videoFrame(vf(0), at(0));
    a.videoFrame(vf(1, { 'lavfi.black_start': 1 }), at(1));
    a.videoFrame(vf(2, { 'lavfi.black_end': 2, 'lavfi.freezedetect.freeze_start': 1.5 }), at(2));
    a.videoFrame(vf(3), at(3));
    // Progress reports once a second (25 packets of 1000 bytes each) and a keyframe a second. The
    // first report is the baseline; a report without new data is no sign of life.
    expect(a.progress({ frames: 0, bytes: 0, outTimeS: 100, end: false })).toBe(false);
    for (let i = 1; i <= 4; i++) {
      expect(a.progress({ frames: 25 * i, bytes: 25000 * i, outTimeS: 100 + i, end: false })).toBe(true);
      a.keyframe(100 + i);
    }
    expect(a.progress({ frames: 100, bytes: 100000, outTimeS: 104, end: false })).toBe(false);
    const w = a.closeWindow('cam', at(0), at(4), true, false)!;
    expect(w.video).toEqual({
      fps: 25,
      width: null,
      height: null,
      keyframes: 4,
      bitrateKbps: 200,
      blackRatio: 0.25,
      // Still frames count towards the ratio whatever their length; black ones count as black only.
      frozenRatio: 0.5,
      motion: 0.02,
    });
    expect(w.audio).toBeUndefined();
    expect(a.keyInterval()).toBeCloseTo(1, 5);
    expect(a.closeWindow('cam', at(4), at(8), true, false)).toBeNull();
  });
});

describe('keyframe-only decoding: decoder hold and worst detection delay', () => {
  it('measures how late keyframes come out against the stream copy, smallest reading wins', () => {
    const { a, at } = setup();
    expect(a.decodeLagS()).toBeNull();
    // Packets reach the copy in real time; each keyframe comes out of the decoder 2 s later (the
    // hold of a stream with 2 B-frames and a GOP of 1 s), read up to 0.4 s late in pipe batches.
    for (let i = 1; i <= 6; i++) {
      a.progress({ frames: 25 * i, bytes: 1000 * i, outTimeS: i, end: false }, at(i) + (i % 2) * 300);
      if (i >= 3) a.keyframe(i - 2, at(i) + (i % 3) * 200);
      if (i < 5) expect(a.decodeLagS()).toBeNull();
    }
    expect(a.decodeLagS()).toBeCloseTo(2, 5);
    // No hold: pictures come out as their packets arrive (read a little late): about 0.
    const b = setup();
    for (let i = 1; i <= 4; i++) {
      b.a.progress({ frames: 25 * i, bytes: 1000 * i, outTimeS: i, end: false }, b.at(i));
      b.a.keyframe(i, b.at(i) + 150);
    }
    expect(b.a.decodeLagS()).toBeCloseTo(0.15, 5);
  });

  it('a hold longer than 5 s (GOP 4 s, 2 B-frames) is measured, and onsets stay at their media time', () => {
    // The stream copy reports every second in real time; each keyframe (every 4 s) comes out of the
    // decoder 8 s later. The picture and its keyframe line come in either order (one filter split).
    for (const pictureFirst of [true, false]) {
      const { a, events, at } = setup({ blackMinS: 2 });
      for (let i = 1; i <= 40; i++) {
        a.progress({ frames: 25 * i, bytes: 1000 * i, outTimeS: i, end: false }, at(i));
        if (i % 4 !== 0 || i < 12) continue;
        const pts = i - 8;
        const picture = () =>
          a.videoFrame(vf(pts, pts === 16 ? { 'lavfi.black_start': 16 } : {}), at(i) + 100);
        if (pictureFirst) picture();
        a.keyframe(pts, at(i) + 100);
        if (!pictureFirst) picture();
      }
      expect(a.decodeLagS()).toBeCloseTo(8.1, 5);
      // Black from 16 s, confirmed by the keyframe at 20 s, which came out at 28.1 s: the event
      // arrives late by the hold, its ts is still the onset.
      expect(events.map((e) => [e.type, e.ts])).toEqual([['video.black.start', at(16)]]);
    }
  });

  it('keyframe interval: one lost keyframe does not make a 4 s GOP look sparse; a long GOP does', () => {
    const gop = (times: number[]) => {
      const { a } = setup();
      for (const t of times) a.keyframe(t);
      return a.keyInterval();
    };
    expect(gop([0])).toBeNull();
    // The first gap is all there is to go by.
    expect(gop([0, 8.5])).toBeCloseTo(8.5, 5);
    // The keyframe at 12 s lost (seen at load: the RTSP server dropped data for a starved reader).
    expect(gop([0, 4, 8, 16])).toBeCloseTo(4, 5);
    expect(gop([4, 8, 16, 20, 24])).toBeCloseTo(4, 5);
    // A camera with a 10 s GOP, and one that is irregular but long.
    expect(gop([0, 10, 20])).toBeCloseTo(10, 5);
    expect(gop([0, 9, 19, 28, 38])).toBeCloseTo(9, 5);
  });

  it('predicts the worst delay beyond the minimum duration from GOP, decoder hold and minimum', () => {
    // GOP 1 s, 2 B-frames (2 GOPs held), black 2 s: seen at most 1 + 2 + 2 - 2 = 3 s late.
    expect(keyframeDelayS(1, 2.05, 2)).toBeCloseTo(3, 5);
    // A common IP camera: GOP 2 s, no B-frames: 2 s late at worst, for 2 s and 10 s minimums.
    expect(keyframeDelayS(2, 0.1, 2)).toBeCloseTo(2, 5);
    expect(keyframeDelayS(2, 0.1, 10)).toBeCloseTo(2, 5);
    // GOP 2 s with B-frames: 6 s; GOP 3 s: 4 s; a minimum that is not a multiple of the GOP rounds up.
    expect(keyframeDelayS(2, 4, 2)).toBeCloseTo(6, 5);
    expect(keyframeDelayS(3, 0, 2)).toBeCloseTo(4, 5);
    expect(keyframeDelayS(1.5, 0, 2)).toBeCloseTo(2.5, 5);
    // GOP 4 s with 2 B-frames (8 s held): 4 + 4 + 8 - 2 = 14 s for black, 4 + 12 + 8 - 10 = 14 s for
    // frozen: within the default budget (DEFAULT_THRESHOLDS.maxDetectionDelayS, 15 s).
    expect(keyframeDelayS(4, 8.1, 2)).toBeCloseTo(14, 5);
    expect(keyframeDelayS(4, 8.1, 10)).toBeCloseTo(14, 5);
    expect(keyframeDelayS(4, 8.1, 10)).toBeLessThanOrEqual(DEFAULT_THRESHOLDS.maxDetectionDelayS);
    // GOP 5 s with B-frames does not fit: 5 + 5 + 10 - 2 = 18 s.
    expect(keyframeDelayS(5, 10, 2)).toBeGreaterThan(DEFAULT_THRESHOLDS.maxDetectionDelayS);
  });
});

describe('Analyzer: silence judged per channel, loudest wins', () => {
  it('one dead channel is not silence; both silent for silenceMinS is', () => {
    const { a, events, at } = setup({ silenceMinS: 2 });
    // Right channel dead from the start: silencedetect reports it at once.
    a.silence({ channel: 1, edge: 'start', t: 0 }, 0.5, at(0.5));
    for (let i = 0; i < 30; i++) a.audioFrame(af(i / 10, -20), at(i / 10));
    expect(events).toEqual([]);
    // The left one goes quiet at 3.0 s; silencedetect confirms it 0.5 s later.
    a.silence({ channel: 0, edge: 'start', t: 3 }, 3.5, at(3.5));
    for (let i = 30; i <= 60; i++) a.audioFrame(af(i / 10, Number.NEGATIVE_INFINITY, -120.7), at(i / 10));
    expect(events.map((e) => e.type)).toEqual(['audio.silence.start']);
    expect(events[0]).toMatchObject({
      ts: at(3),
      detail: { minS: 2, channels: 2, ch1RmsDb: null, ch2RmsDb: null },
    });
    a.silence({ channel: 0, edge: 'end', t: 6 }, 6, at(6));
    expect(events[1]).toMatchObject({ type: 'audio.silence.end', ts: at(6), detail: { durationS: 3 } });
  });

  it('silence is confirmed by the block whose end reaches the minimum, not one block later', () => {
    const { a, events, at } = setup({ silenceMinS: 8 });
    // The stream copy's progress anchors media time to wall time (blocks themselves are read late).
    a.progress({ frames: 25, bytes: 1000, outTimeS: 40, end: false }, at(40));
    a.silence({ channel: 1, edge: 'start', t: 0 }, 0, at(0));
    // 1 s blocks, each read when complete; both channels silent from 42.5 s.
    for (let i = 40; i <= 52; i++) {
      if (i === 43) a.silence({ channel: 0, edge: 'start', t: 42.5 }, 42, at(43));
      a.audioFrame(af(i, i >= 43 ? Number.NEGATIVE_INFINITY : -20), at(i + 1));
      if (i < 50) expect(events).toEqual([]);
    }
    // Block [50, 51) ends 8.5 s into the silence: that is the one that confirms it.
    expect(events.map((e) => e.type)).toEqual(['audio.silence.start']);
    expect(events[0]?.ts).toBe(at(42.5));
  });

  it('audio window: energy-mean RMS, max peak, loudness and silence ratio', () => {
    const { a, at } = setup();
    // ebur128 prints its floor until it has 3 s of audio: no loudness yet, levels as measured.
    for (let i = 0; i < 3; i++) a.audioFrame(af(i, -20, -120.691), at(i));
    const first = a.closeWindow('mic', at(0), at(3), false, true)!;
    expect(first.audio).toEqual({ rmsDb: -20, peakDb: -17, loudnessLufs: null, silenceRatio: 0 });
    for (let i = 0; i < 10; i++) a.audioFrame(af(3 + i / 10, -20, -23), at(3 + i / 10));
    const w = a.closeWindow('mic', at(3), at(4), false, true)!;
    expect(w.video).toBeUndefined();
    expect(w.audio).toEqual({ rmsDb: -20, peakDb: -17, loudnessLufs: -23, silenceRatio: 0 });
  });

  it('endFaults closes what is open, once', () => {
    const { a, events, at } = setup({ blackMinS: 1 });
    a.videoFrame(vf(0, { 'lavfi.black_start': 0 }), at(0));
    a.videoFrame(vf(1), at(1));
    a.endFaults(at(2), 'ffmpeg stopped');
    a.endFaults(at(3), 'again');
    expect(events.map((e) => [e.type, e.detail])).toEqual([
      ['video.black.start', { minS: 1 }],
      ['video.black.end', { reason: 'ffmpeg stopped' }],
    ]);
  });
});

describe('inputs, plans, defaults and backoff', () => {
  it('maps every supported input kind to ffmpeg input options', () => {
    const o = { timeoutS: 10 };
    expect(inputSpec('rtsp://cam/stream', o).args).toEqual([
      ...[
        '-analyzeduration',
        '2000000',
        '-probesize',
        '5000000',
        '-rtsp_transport',
        'tcp',
        '-timeout',
        '10000000',
      ],
      ...['-i', 'rtsp://cam/stream'],
    ]);
    expect(inputSpec('udp://127.0.0.1:5000', o).url).toBe(
      'udp://127.0.0.1:5000?timeout=10000000&fifo_size=0&buffer_size=4194304',
    );
    expect(inputSpec('udp://239.0.0.1:5000?timeout=1', o).url).toMatch(/\?timeout=1&fifo_size=0&buffer/);
    expect(inputSpec('udp://239.0.0.1:5000?fifo_size=9', o).url).not.toMatch(/fifo_size=0/);
    expect(inputSpec('tcp://10.0.0.2:9000', o).url).toBe('tcp://10.0.0.2:9000?timeout=10000000');
    expect(inputSpec('/dev/video0', o).args).toEqual(['-f', 'v4l2', '-i', '/dev/video0']);
    expect(inputSpec('alsa:hw:1', o).args).toEqual(['-f', 'alsa', '-i', 'hw:1']);
    expect(inputSpec('lavfi:sine', o).args).toEqual(['-re', '-f', 'lavfi', '-i', 'sine']);
    expect(inputSpec('/media/a.mp4', o)).toMatchObject({ args: ['-re', '-i', '/media/a.mp4'], live: false });
    expect(inputSpec('/dev/video0', o).exclusive).toBe(true);
  });

  it('plans keyframe-only decoding for H.264 cameras and audio-only chains for microphones', () => {
    const t = withDefaults({});
    const cam = buildPlan(
      { id: 'c', kind: 'camera', input: 'rtsp://x' },
      { codec: 'h264', width: 1920, height: 1080, sampleRate: 48000, channels: 2 },
      t,
      'keyframes',
    );
    expect(cam.args.join(' ')).toMatch(/-skip_frame nokey -skip_loop_filter all -threads 1 .*-i rtsp:\/\/x/);
    expect(cam.args.join(' ')).toMatch(/scale=w=128.*blackdetect=d=0:pic_th=0.98:pix_th=0.1/);
    expect(cam.args.join(' ')).toMatch(/silencedetect=mono=1:n=-50dB/);
    expect(cam).toMatchObject({ video: true, audio: true, channels: 2 });
    // Packets and bytes come from the once-a-second progress report of a stream copy to /dev/null.
    expect(cam.args.join(' ')).toMatch(/-progress pipe:3 -stats_period 1 /);
    expect(cam.args.join(' ')).toMatch(/-map 0:v:0 -c copy -f data pipe:6/);
    const low = buildPlan(
      { id: 'c', kind: 'camera', input: 'x.ts' },
      { codec: 'h264', width: 640 },
      t,
      'lowfps',
    );
    expect(low.args).toContain('noref');
    expect(low.audio).toBe(false);
    expect(low.args.join(' ')).not.toMatch(/\[0:a:0\]/);
    const mic = buildPlan(
      { id: 'm', kind: 'microphone', input: 'alsa:hw:1' },
      { codec: 'h264', width: 640, sampleRate: 16000, channels: 1 },
      t,
      'keyframes',
    );
    expect(mic).toMatchObject({ video: false, audio: true });
    expect(mic.args.join(' ')).toMatch(/-map 0:a:0 -c copy -f data pipe:6/);
    expect(mic.args).not.toContain('-skip_frame');
    expect(mic.args.join(' ')).toMatch(/aresample=16000,asetnsamples=n=16000/);
    expect(planKey(t)).not.toBe(planKey({ ...t, silenceDb: -40 }));
    expect(planKey(t)).toBe(planKey({ ...t, blackMinS: 9 }));
  });

  it('warns when the kernel caps the UDP socket buffer well below what is asked', () => {
    expect(udpBufferWarning(() => '212992\n')).toMatch(/net\.core\.rmem_max is 212992 bytes.*sysctl -w/);
    expect(udpBufferWarning(() => String(UDP_BUFFER_BYTES))).toBeNull();
    expect(
      udpBufferWarning(() => {
        throw new Error('ENOENT');
      }),
    ).toBeNull();
  });

  it('fills missing thresholds with defaults', () => {
    expect(withDefaults(undefined)).toEqual(DEFAULT_THRESHOLDS);
    expect(withDefaults({ silenceDb: -40 })).toEqual({ ...DEFAULT_THRESHOLDS, silenceDb: -40 });
  });

  it('backs off exponentially with ±20 % jitter up to a cap, and resets', () => {
    const lo = new Backoff(1000, 30_000, () => 0);
    expect([lo.next(), lo.next(), lo.next(), lo.next(), lo.next(), lo.next()]).toEqual([
      800, 1600, 3200, 6400, 12_800, 24_000,
    ]);
    const hi = new Backoff(1000, 30_000, () => 1);
    for (let i = 0; i < 10; i++) hi.next();
    expect(hi.next()).toBe(36_000);
    hi.reset();
    expect(hi.next()).toBe(1200);
  });
});
