import type { Probe } from '@classroom/protocol';
import ffmpeg from 'fluent-ffmpeg';
import { inputSpec } from '../ffmpeg/input.js';
import type { FfmpegTools } from '../ffmpeg/locate.js';
import { redactCredentials } from '../redact.js';
import type { SourceConfig } from './types.js';

export interface ProbeOptions {
  /** Network socket timeout handed to ffprobe, seconds. */
  timeoutS?: number;
  /** Seconds of a live stream to analyse (see InputOptions.analyzeS). */
  analyzeS?: number;
}

function rate(r: string | undefined): number | null {
  if (!r) return null;
  const [n, d] = r.split('/').map(Number);
  if (n === undefined || !Number.isFinite(n) || n <= 0) return null;
  const v = d ? n / d : n;
  return Number.isFinite(v) && v > 0 && v < 1000 ? Math.round(v * 1000) / 1000 : null;
}

function clip(s: string): string {
  return redactCredentials(s).replace(/\s+/g, ' ').trim().slice(0, 250);
}

/**
 * Probes one source with ffprobe through fluent-ffmpeg (the birth's `sources[].probe`, DESIGN.md topic table; docs/agent-media.md "Supported inputs"): video codec,
 * size and frame rate, audio codec, sample rate and channels. Never rejects: a failure comes back
 * as `{ error }` so that birth can still describe the source.
 */
export function probeSource(
  tools: FfmpegTools | null,
  source: Pick<SourceConfig, 'input'>,
  opts: ProbeOptions = {},
): Promise<Probe> {
  if (!tools) return Promise.resolve({ error: 'ffprobe not available (ffmpeg not found)' });
  const timeoutS = opts.timeoutS ?? 8;
  const spec = inputSpec(source.input, { timeoutS, analyzeS: opts.analyzeS });
  return new Promise<Probe>((resolve) => {
    let done = false;
    const finish = (p: Probe): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(p);
    };
    // The socket timeout normally ends ffprobe first; this only bounds inputs that have none.
    const timer = setTimeout(
      () => finish({ error: `ffprobe gave no answer within ${timeoutS + 4 + (opts.analyzeS ?? 2)} s` }),
      (timeoutS + 4 + (opts.analyzeS ?? 2)) * 1000,
    );
    const cmd = ffmpeg(spec.url).setFfprobePath(tools.ffprobe.path);
    cmd.ffprobe([...spec.probeOptions, '-v', 'error'], (err: unknown, data) => {
      if (err) {
        const msg = err instanceof Error ? err.message : String(err);
        finish({ error: clip(`ffprobe failed: ${msg}`) });
        return;
      }
      const v = data.streams.find((s) => s.codec_type === 'video');
      const a = data.streams.find((s) => s.codec_type === 'audio');
      if (!v && !a) {
        finish({ error: 'ffprobe found no audio or video stream' });
        return;
      }
      finish({
        codec: v?.codec_name ?? null,
        width: v?.width ?? null,
        height: v?.height ?? null,
        fps: rate(v?.avg_frame_rate) ?? rate(v?.r_frame_rate),
        audioCodec: a?.codec_name ?? null,
        sampleRate: a?.sample_rate !== undefined ? Number(a.sample_rate) || null : null,
        channels: a?.channels ?? null,
      });
    });
  });
}
