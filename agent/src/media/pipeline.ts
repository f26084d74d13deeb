import type { Probe, Thresholds } from '@classroom/protocol';
import { inputSpec } from '../ffmpeg/input.js';
import { COUNT_FILTER } from '../occupancy/scales.js';
import type { SourceConfig } from './types.js';

/** keyframes: decode only keyframes (H.264/H.265); lowfps: decode all, analyse ~2 frames/s. */
export type DecodeMode = 'keyframes' | 'lowfps';

/** Names of the print filters the parser listens to (see parse.ts MetaAssembler). */
export const META = {
  video: 'metadata@cvm',
  videoEnd: 'metadata@cve',
  audio: 'ametadata@cam',
  audioEnd: 'ametadata@cae',
  /** Prints one header line per decoded keyframe. */
  key: 'metadata@cvk',
} as const;

/** Seconds between ffmpeg's `-progress` reports (packets, bytes: fps, bitrate, liveness). */
export const PROGRESS_PERIOD_S = 1;

/**
 * Analysis width. Area-averaging down to 128 px removes what re-encoding a still picture changes
 * between keyframes (about 0.5 % mean difference at 256 px, under 0.2 % at 128 px) while real
 * motion stays above 1 %, and a frame this small costs next to nothing.
 */
const ANALYSIS_WIDTH = 128;
const SNAPSHOT_WIDTH = 640;
/**
 * Patrol-wall thumbnails (docs/agent.md, `thumbnail`): scaled from the picture already kept for the
 * snapshot, so they cost one small scale and JPEG encode per SNAPSHOT_GAP_S and no extra decoding.
 */
export const THUMBNAIL_WIDTH = 320;
/**
 * Seconds between snapshot pictures (JPEG-encoded continuously so that a snapshot never opens the
 * source again): a snapshot is at most this much older than the analysed picture. Every 1.9 s
 * cost a fifth of the agent's ffmpeg time at 720p25; every 5 s costs a twelfth.
 */
const SNAPSHOT_GAP_S = 5;
/** Seconds between analysed frames at most ~2/s: enough for second-level thresholds. */
const MIN_FRAME_GAP_S = 0.45;
/** Analysis sample rate of the audio chain. */
const AUDIO_RATE = 16000;
/** Seconds of audio per analysed block (one astats reading, one loudness reading). */
export const AUDIO_BLOCK_S = 1;

export interface Plan {
  args: string[];
  mode: DecodeMode;
  video: boolean;
  audio: boolean;
  channels: number;
  /** Full-size frames for people counting come out on stdout. */
  occupancy: boolean;
  /** Thresholds baked into the ffmpeg command; a change of any of them needs a restart. */
  key: string;
}

/** Whether keyframe-only decoding is possible for this codec at all. */
export function keyframeCapable(codec: string | null | undefined): boolean {
  return codec === 'h264' || codec === 'hevc';
}

export function planKey(t: Required<Thresholds>): string {
  return [t.blackPixelRatio, t.blackLuma, t.frozenNoiseDb, t.silenceDb, t.sourceStaleS].join('/');
}

/**
 * Builds the one long-running ffmpeg command for a source (docs/agent-media.md "Cost": one ffmpeg per source):
 * - output 1, fd 6 (/dev/null): the source's packets, stream-copied into the `data` muxer. It is
 *   never read: ffmpeg's `-progress` report on fd 3, once a second, gives its packet count and
 *   bytes (fps, bitrate) and serves as the watchdog's liveness signal. Per-packet text output
 *   cost a flushed write and a parsed line per packet (docs/agent-media.md "Cost");
 * - output 2, null: the analysis chains, printing per-frame metadata on stderr, parsed line by line
 *   (metadata=print:file= is block-buffered, see docs/agent-media.md "Cost"), and one line per decoded keyframe;
 * - output 3, fd 4: the analysed frames as MJPEG, the source of snapshots without reopening it;
 * - output 4, fd 5: the same pictures at THUMBNAIL_WIDTH, for the patrol wall;
 * - output 5, stdout (only when the camera counts people): one analysed picture every
 *   `occupancy.intervalS`, scaled to the detector's picture (COUNT_FILTER), as raw RGB (PPM) for the detector
 *   (docs/occupancy.md "Frames": the count reuses this decode, it never opens the stream again).
 */
export function buildPlan(
  source: SourceConfig,
  probe: Probe,
  t: Required<Thresholds>,
  mode: DecodeMode,
  analyzeS = 2,
): Plan {
  const spec = inputSpec(source.input, { timeoutS: t.sourceStaleS, analyzeS });
  const video = source.kind === 'camera' && probe.width != null;
  const audio = probe.sampleRate != null && probe.sampleRate > 0;
  const channels = Math.max(1, probe.channels ?? 1);
  const pre: string[] = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info'];
  pre.push('-progress', 'pipe:3', '-stats_period', String(PROGRESS_PERIOD_S));
  if (video) {
    // Frame threading delays output by one frame per thread: with one keyframe a second that is
    // seconds of latency, so keyframe decoding is single-threaded.
    // The in-loop deblocking filter is a fifth of H.264 decoding and changes nothing that the
    // 128 px analysis or a 640 px snapshot can see (docs/agent-media.md "Cost").
    if (mode === 'keyframes') pre.push('-skip_frame', 'nokey', '-skip_loop_filter', 'all', '-threads', '1');
    else pre.push('-skip_frame', 'noref', '-skip_loop_filter', 'all', '-threads', '2');
  }
  const graph: string[] = [];
  const occupancy = video && source.occupancy?.enabled === true;
  if (video) {
    // Keyframes are counted on the decoded pictures (in keyframe mode every decoded picture is
    // one): a header line per keyframe, instead of a line per packet.
    graph.push(
      '[0:v:0]split=2[vk][v0]',
      `[vk]select='eq(key,1)',metadata=mode=add:key=cvk:value=1,${META.key}=mode=print,nullsink`,
      // Analysis area-scales the full picture straight to 128 px (a fifth of the cost of a 640 px
      // pass first); only the pictures kept for snapshots are scaled to 640 px.
      `[v0]select='isnan(prev_selected_t)+gte(t-prev_selected_t,${MIN_FRAME_GAP_S})',` +
        (occupancy ? 'split=3[va][vs][vo]' : 'split=2[va][vs]'),
      `[va]scale=w=${ANALYSIS_WIDTH}:h=-2:flags=area,format=gray,` +
        `blackdetect=d=0:pic_th=${t.blackPixelRatio}:pix_th=${t.blackLuma},` +
        `freezedetect=n=${t.frozenNoiseDb}dB:d=0,scdet=threshold=100,` +
        `${META.video}=mode=print,${META.videoEnd}=mode=print:key=lavfi.scd.mafd[vout]`,
      `[vs]select='isnan(prev_selected_t)+gte(t-prev_selected_t,${SNAPSHOT_GAP_S})',` +
        `scale=w='min(${SNAPSHOT_WIDTH},iw)':h=-2:flags=bilinear,format=yuvj420p,split=2[snap][ts]`,
      `[ts]scale=w='min(${THUMBNAIL_WIDTH},iw)':h=-2:flags=bilinear[thumb]`,
    );
    if (occupancy) {
      // A little under the interval, so the analysed frames' ~0.5 s spacing cannot push one
      // count a whole frame gap later each time.
      const gap = Math.max(1, (source.occupancy?.intervalS ?? 30) - MIN_FRAME_GAP_S);
      graph.push(
        `[vo]select='isnan(prev_selected_t)+gte(t-prev_selected_t,${gap})',` + `${COUNT_FILTER}[occ]`,
      );
    }
  }
  if (audio) {
    // Speech-band analysis at 16 kHz costs a third of 48 kHz and changes levels and loudness by
    // well under 1 dB; 1 s blocks keep the stderr lines few (docs/agent-media.md "Cost"). Silence edges come
    // from silencedetect per sample, so the block length only sets the resolution of the ratio.
    graph.push(
      `[0:a:0]aresample=${AUDIO_RATE},asetnsamples=n=${AUDIO_RATE * AUDIO_BLOCK_S}:p=0,` +
        'astats=metadata=1:reset=1:measure_perchannel=RMS_level:measure_overall=RMS_level+Peak_level,' +
        `silencedetect=mono=1:n=${t.silenceDb}dB:d=0.5,${META.audio}=mode=print,` +
        // ebur128 cuts 100 ms frames: print the short-term (3 s) loudness once per block.
        `ebur128=metadata=1:framelog=verbose,aselect='not(mod(n,${AUDIO_BLOCK_S * 10}))',` +
        `${META.audioEnd}=mode=print:key=lavfi.r128.S[aout]`,
    );
  }
  const out: string[] = ['-filter_complex', graph.join(';'), '-filter_complex_threads', '1'];
  // Packets of one stream are enough: video for a camera, audio for a microphone.
  out.push('-map', video ? '0:v:0' : '0:a:0', '-c', 'copy', '-f', 'data', 'pipe:6');
  if (video) out.push('-map', '[vout]');
  if (audio) out.push('-map', '[aout]');
  out.push('-fps_mode', 'passthrough', '-f', 'null', '-');
  if (video) {
    out.push('-map', '[snap]', '-fps_mode', 'passthrough', '-c:v', 'mjpeg', '-q:v', '6');
    out.push('-flush_packets', '1', '-f', 'image2pipe', 'pipe:4');
    out.push('-map', '[thumb]', '-fps_mode', 'passthrough', '-c:v', 'mjpeg', '-q:v', '7');
    out.push('-flush_packets', '1', '-f', 'image2pipe', 'pipe:5');
  }
  if (occupancy) {
    out.push('-map', '[occ]', '-fps_mode', 'passthrough', '-c:v', 'ppm');
    out.push('-flush_packets', '1', '-f', 'image2pipe', 'pipe:1');
  }
  return {
    args: [...pre, ...spec.args, ...out],
    mode,
    video,
    audio,
    channels,
    occupancy,
    key: planKey(t),
  };
}
