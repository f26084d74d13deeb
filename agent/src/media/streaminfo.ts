import type { Probe } from '@classroom/protocol';

/** Channel counts of the layout names ffmpeg 5.1 prints in an audio stream line. */
const LAYOUTS: Record<string, number> = {
  mono: 1,
  stereo: 2,
  downmix: 2,
  '2.1': 3,
  '3.0': 3,
  '3.0(back)': 3,
  '3.1': 4,
  '4.0': 4,
  quad: 4,
  'quad(side)': 4,
  '4.1': 5,
  '5.0': 5,
  '5.0(side)': 5,
  '5.1': 6,
  '5.1(side)': 6,
  '6.0': 6,
  '6.1': 7,
  '7.0': 7,
  '7.1': 8,
  '7.1(wide)': 8,
  octagonal: 8,
};

function channelsOf(layout: string): number | null {
  const l = layout.trim();
  const known = LAYOUTS[l];
  if (known !== undefined) return known;
  const m = /^(\d+) channels/.exec(l);
  return m ? Number(m[1]) : null;
}

function fpsOf(text: string): number | null {
  // "25 fps", "29.97 fps", "1k fps"; tbr when fps is absent (variable frame rate).
  const m = /, ([\d.]+)(k?) (?:fps|tbr)\b/.exec(text);
  if (!m) return null;
  const v = Number(m[1]) * (m[2] ? 1000 : 1);
  return Number.isFinite(v) && v > 0 && v < 1000 ? Math.round(v * 1000) / 1000 : null;
}

/**
 * Reads the input description that ffmpeg prints on stderr when it opens its input
 * (`Input #0, mpegts, from …:` and its `Stream #0:N…: Video:/Audio:` lines) and turns it into the
 * birth's `Probe`. The running monitor already parses stderr line by line, so the source is
 * described without opening it a second time: a UDP port or a device admits one reader only
 * (docs/agent-media.md "Supported inputs": a second ffprobe failed with "bind failed: Address already in use").
 */
export class StreamInfoParser {
  private inInput = false;
  private done = false;
  private video: Pick<Probe, 'codec' | 'width' | 'height' | 'fps'> | null = null;
  private audio: Pick<Probe, 'audioCodec' | 'sampleRate' | 'channels'> | null = null;

  constructor(private readonly onProbe: (p: Probe) => void) {}

  /** Feeds one stderr line; returns true when the line was part of the input description. */
  push(line: string): boolean {
    if (this.done) return false;
    if (line.startsWith('Input #0,')) {
      this.inInput = true;
      return true;
    }
    if (!this.inInput) return false;
    // The input description ends where the outputs (or the stream mapping) begin.
    if (line.startsWith('[')) return false; // a log line of some component, not the description
    if (line.startsWith('Output #') || line.startsWith('Stream mapping:') || !line.startsWith(' ')) {
      this.finish();
      return false;
    }
    const m = /^\s+Stream #0:\d+\S*: (Video|Audio): (\w+)(.*)$/.exec(line);
    if (!m) return true;
    const [, type, codec, rest = ''] = m;
    if (type === 'Video' && !this.video) {
      const size = /, (\d+)x(\d+)[ ,]/.exec(`${rest} `);
      this.video = {
        codec: codec ?? null,
        width: size ? Number(size[1]) : null,
        height: size ? Number(size[2]) : null,
        fps: fpsOf(rest),
      };
    } else if (type === 'Audio' && !this.audio) {
      const a = /, (\d+) Hz, ([^,]+)/.exec(rest);
      this.audio = {
        audioCodec: codec ?? null,
        sampleRate: a ? Number(a[1]) : null,
        channels: a ? channelsOf(a[2]!) : null,
      };
    }
    return true;
  }

  private finish(): void {
    this.done = true;
    this.inInput = false;
    if (!this.video && !this.audio) return;
    // A stream seen without its parameters (no SPS yet) describes nothing reliable.
    if (this.video && this.video.width == null) return;
    if (this.audio && this.audio.sampleRate == null) return;
    this.onProbe({
      codec: this.video?.codec ?? null,
      width: this.video?.width ?? null,
      height: this.video?.height ?? null,
      fps: this.video?.fps ?? null,
      audioCodec: this.audio?.audioCodec ?? null,
      sampleRate: this.audio?.sampleRate ?? null,
      channels: this.audio?.channels ?? null,
    });
  }
}
