import { existsSync } from 'node:fs';

/** A time span of the generated stream, in seconds from the scenario start. */
export interface Span {
  fromS: number;
  toS: number;
}

export interface CameraGraphOptions {
  port: number;
  width: number;
  height: number;
  fps: number;
  /** Text burnt in beside the clock (room name); restricted to a safe character set. */
  label: string;
  black: Span[];
  frozen: Span[];
  /** Seconds of scenario time already elapsed when this generator starts (after a replug). */
  offsetS: number;
  /** Font for the clock overlay; null leaves the overlay out (no font on the machine). */
  fontFile: string | null;
  /** People in the room over time (docs/simulators.md "People"); absent: the moving test pattern. */
  people?: PeopleGraph | undefined;
}

/** From `atS` (seconds from the scenario start) until the next step, `count` people are in view. */
export interface PeopleStep {
  atS: number;
  count: number;
}

export interface PeopleGraph {
  steps: PeopleStep[];
  /** A still picture of the room per head count (people.ts renderRoomFrames). */
  frames: ReadonlyMap<number, string>;
}

export interface MicGraphOptions {
  port: number;
  sampleRate: number;
  silent: Span[];
  offsetS: number;
}

const FONT_CANDIDATES = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf',
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf',
  '/usr/share/fonts/TTF/DejaVuSansMono.ttf',
  '/System/Library/Fonts/Menlo.ttc',
];

/** First font file found among common locations; drawtext needs one (fontconfig may be absent). */
export function findFont(candidates: string[] = FONT_CANDIDATES): string | null {
  return candidates.find((f) => existsSync(f)) ?? null;
}

/** Spans moved into the generator's own clock (which restarts at 0), dropping those already over. */
export function shiftSpans(spans: Span[], offsetS: number): Span[] {
  return spans
    .map((s) => ({ fromS: Math.max(0, s.fromS - offsetS), toS: s.toS - offsetS }))
    .filter((s) => s.toS > 0 && s.toS > s.fromS);
}

/**
 * The people timeline in the generator's own clock: the count in force at `offsetS` from 0, then
 * each later step, merged where the count does not change.
 */
export function shiftSteps(steps: PeopleStep[], offsetS: number): PeopleStep[] {
  const sorted = [...steps].sort((a, b) => a.atS - b.atS);
  let first = 0;
  for (const s of sorted) if (s.atS <= offsetS) first = s.count;
  const out: PeopleStep[] = [{ atS: 0, count: first }];
  for (const s of sorted) {
    if (s.atS <= offsetS) continue;
    if (s.count === out[out.length - 1]!.count) continue;
    out.push({ atS: s.atS - offsetS, count: s.count });
  }
  return out;
}

/**
 * Inputs and graph of the room picture. Each head count's still JPEG is decoded once and repeated
 * from memory (`loop`); the still of the count in force is laid over the empty room, switched by
 * time expressions like the faults, and the whole paced to real time by `realtime` (the inputs have
 * no `-re`). A timeline of any length costs one input per distinct count. A plain block the size
 * of a trolley moves along the floor below the rows, so the picture is never still: the agent
 * analyses 128 px pictures about a second apart and would rightly call a still room frozen
 * (freezedetect at -50 dB, docs/agent-media.md). Plain, because BlazeFace found faces in testsrc2.
 */
function peopleSource(p: PeopleGraph, o: CameraGraphOptions): { inputs: string[]; graph: string } {
  const steps = shiftSteps(p.steps, o.offsetS);
  const counts = [...new Set([0, ...steps.map((s) => s.count)])];
  const inputs: string[] = [];
  const parts: string[] = [];
  counts.forEach((n, i) => {
    const file = p.frames.get(n);
    if (file === undefined) throw new Error(`no room picture rendered for ${n} people`);
    inputs.push('-framerate', String(o.fps), '-i', file);
    parts.push(`[${i}:v]format=yuv420p,loop=loop=-1:size=1:start=0,setpts=N/(${o.fps}*TB)[p${i}]`);
  });
  let current = '[p0]';
  counts.forEach((n, i) => {
    if (i === 0) return;
    const spans = steps.flatMap((s, k) =>
      s.count === n ? [{ fromS: s.atS, toS: steps[k + 1]?.atS ?? 1e9 }] : [],
    );
    parts.push(`${current}[p${i}]overlay=enable='${between(spans)}'[q${i}]`);
    current = `[q${i}]`;
  });
  const mw = Math.round(o.width / 5 / 2) * 2;
  const mh = Math.round(o.height / 7 / 2) * 2;
  parts.push(`color=c=0x2f4f7f:size=${mw}x${mh}:rate=${o.fps}[mov]`);
  // One pass over the width every ~6 s, from the frame's own time.
  const speed = Math.round(o.width / 6);
  parts.push(
    `${current}realtime[room]`,
    `[room][mov]overlay=x='mod(t*${speed},W+w)-w':y=H-h-${Math.round(o.height / 60)}:shortest=1`,
  );
  return { inputs, graph: parts.join(';') };
}

function between(spans: Span[]): string {
  return spans.map((s) => `between(t,${s.fromS.toFixed(3)},${s.toS.toFixed(3)})`).join('+');
}

function udpUrl(port: number): string {
  // 1316 = 7 TS packets: one datagram never splits a TS packet.
  return `udp://127.0.0.1:${port}?pkt_size=1316`;
}

/**
 * ffmpeg arguments for a synthetic IP camera: a moving test pattern with a wall clock, H.264 in
 * MPEG-TS over UDP. Faults are time expressions in one filter graph, so a single process follows
 * the timeline with frame-exact timing (docs/simulators.md "Synthetic media"): `freezeframes` repeats one frame (the encoder hangs),
 * a full-frame `drawbox` is the covered lens.
 */
export function cameraArgs(o: CameraGraphOptions): string[] {
  const frozen = shiftSpans(o.frozen, o.offsetS);
  const black = shiftSpans(o.black, o.offsetS);
  const label = o.label.replace(/[^A-Za-z0-9 ._-]/g, '').slice(0, 40);
  const chain: string[] = [];
  if (o.fontFile !== null) {
    const font = o.fontFile.replace(/[\\':]/g, (c) => `\\${c}`);
    // A room with people shows its name only, small: BlazeFace counted the clock's big digits as
    // faces at some seconds, and a count must not depend on the time of day.
    const text = o.people ? label : `${label} %{localtime\\:%X}`;
    const size = o.people ? Math.round(o.height / 40) : Math.round(o.height / 14);
    chain.push(
      `drawtext=fontfile='${font}':text='${text}':x=8:y=8:fontsize=${Math.max(12, size)}:fontcolor=white:box=1:boxcolor=black@0.6`,
    );
  }
  // The picture: a room with people (still pictures per head count), or the moving test pattern.
  const source = o.people
    ? peopleSource(o.people, o)
    : {
        inputs: ['-re', '-f', 'lavfi', '-i', `testsrc2=size=${o.width}x${o.height}:rate=${o.fps}`],
        graph: '',
      };
  const inputCount = o.people ? source.inputs.filter((a) => a === '-i').length : 1;
  // Each freeze needs its own reference copy of the stream to take the repeated frame from.
  const parts: string[] = [];
  let current = '[0:v]';
  if (source.graph) {
    parts.push(`${source.graph}[base]`);
    current = '[base]';
  }
  const pre = chain.length > 0 ? `${chain.join(',')},` : '';
  if (frozen.length > 0) {
    const refs = frozen.map((_, i) => `[r${i}]`).join('');
    parts.push(`${current}${pre}split=${frozen.length + 1}[s]${refs}`);
    current = '[s]';
    frozen.forEach((span, i) => {
      const first = Math.round(span.fromS * o.fps);
      const last = Math.max(first, Math.round(span.toS * o.fps) - 1);
      parts.push(`${current}[r${i}]freezeframes=first=${first}:last=${last}:replace=${first}[f${i}]`);
      current = `[f${i}]`;
    });
  } else if (pre) {
    parts.push(`${current}${pre.slice(0, -1)}[c]`);
    current = '[c]';
  }
  // A covered lens still shows sensor noise: a black, noisy layer laid over the picture, so the
  // picture is black but not frozen. (The noise filter's own timeline switch repeats one noise
  // pattern, which freezedetect rightly calls frozen, hence a separate always-noisy input.)
  const blackInput =
    black.length > 0
      ? [
          '-re',
          '-f',
          'lavfi',
          '-i',
          `color=c=black:s=${o.width}x${o.height}:r=${o.fps},noise=alls=8:allf=t+u`,
        ]
      : [];
  parts.push(
    black.length > 0
      ? `${current}[${inputCount}:v]overlay=enable='${between(black)}':shortest=1[v]`
      : `${current}null[v]`,
  );
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostdin',
    ...source.inputs,
    ...blackInput,
    '-filter_complex',
    parts.join(';'),
    '-map',
    '[v]',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-tune',
    'zerolatency',
    '-g',
    String(o.fps),
    '-pix_fmt',
    'yuv420p',
    '-b:v',
    o.people ? '1200k' : '400k',
    '-f',
    'mpegts',
    udpUrl(o.port),
  ];
}

/**
 * ffmpeg arguments for a synthetic microphone: pink noise shaped at syllable rate (about 4 Hz) so
 * it reads like speech to level meters, AAC in MPEG-TS over UDP. Silence (a muted mic) is a
 * time-gated `volume=0`.
 */
export function micArgs(o: MicGraphOptions): string[] {
  const silent = shiftSpans(o.silent, o.offsetS);
  const filters = ["volume='0.55+0.45*sin(2*PI*4*t)*sin(2*PI*0.3*t)':eval=frame"];
  if (silent.length > 0) filters.push(`volume=0:enable='${between(silent)}'`);
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostdin',
    '-re',
    '-f',
    'lavfi',
    '-i',
    `anoisesrc=color=pink:amplitude=0.4:sample_rate=${o.sampleRate}`,
    '-af',
    filters.join(','),
    '-ac',
    '1',
    '-c:a',
    'aac',
    '-b:a',
    '48k',
    '-f',
    'mpegts',
    udpUrl(o.port),
  ];
}
