// The camera-profile matrix's media (bench/agent-matrix.bench.mjs): the cells, each cell's fault
// timeline, and the camera's encode of it, made once and cached (the camera's encoder is not the
// box's load, and one encode serves both transports).
//
// Picture: lavfi testsrc2 (moving, textured) with temporal sensor-like noise; sound: a 440 Hz sine,
// AAC stereo 48 kHz 96 kb/s. Video like a classroom IP camera: libx264 superfast High (CABAC,
// deblocking) or libx265 superfast Main, constant GOP (no scene cuts), 0 or 2 B-frames, VBV-capped
// 2.5 Mb/s at 720p, 4 Mb/s at 1080p, 6 Mb/s at 2560×1440.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cameraEncoderArgs } from './camera-media.mjs';

export const RESOLUTIONS = {
  '720p25': { w: 1280, h: 720, fps: 25, kbps: 2500 },
  '1080p25': { w: 1920, h: 1080, fps: 25, kbps: 4000 },
  '1440p20': { w: 2560, h: 1440, fps: 20, kbps: 6000 },
};
export const CODECS = ['h264', 'h265'];
export const GOPS = [1, 2, 4];
export const BFRAMES = [0, 2];
export const TRANSPORTS = ['udp', 'rtsp'];

/** Minimum durations the matrix configures (the monitor's thresholds; frozen/silence shortened to keep cells short). */
export const MIN_S = { black: 2, frozen: 4, silence: 4 };

/** A media profile: everything the encode depends on (both transports share it). */
export const mediaName = (m) => `${m.codec}-${m.res}-gop${m.gopS}-b${m.bframes}`;

/** Every media profile, optionally filtered by `filter` (comma-separated substrings, all must match one of them). */
export function mediaProfiles(filter) {
  const all = [];
  for (const codec of CODECS)
    for (const res of Object.keys(RESOLUTIONS))
      for (const gopS of GOPS) for (const bframes of BFRAMES) all.push({ codec, res, gopS, bframes });
  if (!filter) return all;
  const alts = filter.split(',').map((f) => f.split('+'));
  return all.filter((m) => alts.some((parts) => parts.every((p) => `${mediaName(m)}-`.includes(`${p}-`))));
}

/**
 * Fault timeline in stream seconds, by GOP g. The monitor has joined by J = 4 + 2g s (first
 * keyframe, probing, a retry with a longer analyze time at long GOPs). Black lasts its minimum + two
 * GOPs + 1 s and frozen likewise, so that at least min/g + 1 keyframes fall inside each (in keyframe
 * mode a shorter fault can pass between keyframes, docs/agent-media.md "Cost"); onsets are half a
 * second off the keyframe grid; silence overlaps black (audio is analysed on its own). The stream
 * lasts until the frozen event's bound (at 2 B-frames) has passed, plus 2 s.
 */
export function timeline(gopS, keyframeDelayS) {
  const g = gopS;
  const j = 4 + 2 * g;
  const black = [j + 0.5, j + 0.5 + MIN_S.black + 2 * g + 1];
  const frozen0 = black[1] + g + 1;
  const frozen = [frozen0, frozen0 + MIN_S.frozen + 2 * g + 1];
  const silence = [j + 0.5, j + 0.5 + MIN_S.silence + 3];
  const frozenBound = MIN_S.frozen + keyframeDelayS(g, 2 * g, MIN_S.frozen) + 1;
  const durationS = Math.ceil(Math.max(frozen[0] + frozenBound + 2, frozen[1] + g + 2));
  return { black, frozen, silence, durationS };
}

/**
 * x264 superfast everywhere; x265 superfast at 720p and ultrafast above: x265 superfast encodes
 * 1080p and 1440p at a few frames a second on the shared 2-core bench machine, too slow to make the
 * matrix's media in one session. Ultrafast searches less; the syntax a decoder meets is the same
 * kind (CABAC, deblocking), and the ratio is within each cell, agent and baseline on one stream.
 */
export const preset = (m) => (m.codec === 'h265' && RESOLUTIONS[m.res].h > 720 ? 'ultrafast' : 'superfast');

function encoderArgs(m, tl, out) {
  const codec = m.codec;
  return cameraEncoderArgs(
    { ...RESOLUTIONS[m.res], gopS: m.gopS, bframes: m.bframes, codec, preset: preset(m) },
    { seconds: tl.durationS + 3, faults: tl, out },
  );
}

/**
 * The profile's media file, encoded once into `cacheDir` (named by a hash of the encoder's command
 * line, so a changed timeline or setting encodes anew). Written to a temporary name and renamed, so
 * an interrupted encode is never reused. With `cachedOnly`, null when it is not there yet.
 */
export async function encodeCached(
  ffmpegPath,
  m,
  tl,
  cacheDir,
  { log = console.error, cachedOnly = false } = {},
) {
  mkdirSync(cacheDir, { recursive: true });
  const probeArgs = encoderArgs(m, tl, 'OUT');
  const hash = createHash('sha256').update(probeArgs.join('\0')).digest('hex').slice(0, 10);
  const file = join(cacheDir, `${mediaName(m)}-${hash}.ts`);
  if (existsSync(file) && statSync(file).size > 0) return file;
  if (cachedOnly) return null;
  const tmp = `${file}.part`;
  const t0 = Date.now();
  const p = spawn(ffmpegPath, encoderArgs(m, tl, tmp), { stdio: ['ignore', 'ignore', 'inherit'] });
  const code = await new Promise((r) => p.on('exit', r));
  if (code !== 0) throw new Error(`encoding ${mediaName(m)} failed (ffmpeg exit ${code})`);
  renameSync(tmp, file);
  log(`encoded ${tl.durationS + 3} s of ${mediaName(m)} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return file;
}
