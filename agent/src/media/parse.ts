// Parsers for the line formats of ffmpeg 5.1 that the monitor relies on. The exact strings are
// pinned in agent/test/media-parse.test.ts against output of the installed ffmpeg.

/**
 * One `-progress` report of ffmpeg (`key=value` lines ending with `progress=continue|end`), every
 * `-stats_period` seconds. `frames` counts the packets of the first video output stream (the
 * stream copy), `bytes` is the size written to the first output (the stream copy), and `outTimeS`
 * the media time reached; NaN where ffmpeg printed N/A.
 */
export interface ProgressReport {
  frames: number;
  bytes: number;
  outTimeS: number;
  end: boolean;
}

/** Collects `-progress` lines into reports. */
export class ProgressParser {
  private cur = new Map<string, string>();

  constructor(private readonly onReport: (r: ProgressReport) => void) {}

  push(line: string): void {
    const eq = line.indexOf('=');
    if (eq <= 0) return;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1).trim();
    if (key !== 'progress') {
      this.cur.set(key, value);
      return;
    }
    const num = (k: string): number => {
      const v = this.cur.get(k);
      return v === undefined || v === '' ? Number.NaN : Number(v);
    };
    this.onReport({
      frames: num('frame'),
      bytes: num('total_size'),
      outTimeS: num('out_time_us') / 1e6,
      end: value === 'end',
    });
    this.cur = new Map();
  }
}

/** A frame's metadata as printed by a `metadata`/`ametadata` filter in `mode=print`. */
export interface MetaFrame {
  /** The filter instance that printed it, e.g. `metadata@cvm`. */
  instance: string;
  pts: number;
  keys: Map<string, string>;
}

const LOG_PREFIX = /^\[([^\]\s]+) @ 0x[0-9a-f]+\] (.*)$/;
const FRAME_HEAD = /^frame:\s*\d+\s+pts:\s*\S+\s+pts_time:(\S+)/;

/** Media time of a `metadata=print` frame header (`frame:N pts:P pts_time:T`), or null. */
export function parseFrameHead(text: string): number | null {
  const m = FRAME_HEAD.exec(text);
  if (!m) return null;
  const t = Number(m[1]);
  return Number.isFinite(t) ? t : null;
}

export interface LogLine {
  /** The logging context (filter instance or component), e.g. `metadata@cvm`, `silencedetect`. */
  ctx: string;
  text: string;
}

/** Splits an ffmpeg log line `[ctx @ 0xADDR] text`; lines without that prefix give null. */
export function parseLogLine(line: string): LogLine | null {
  const m = LOG_PREFIX.exec(line);
  return m ? { ctx: m[1]!, text: m[2]! } : null;
}

/**
 * Groups `metadata=print` output into frames. A print block is written in one go by the filter,
 * and the monitor puts a second print filter (the "end marker", printing one key) after the first,
 * so a frame is complete as soon as the marker prints its key line: no wait for the next frame.
 * The marker's key joins the frame. A frame without the marker's key is flushed by the next header.
 */
export class MetaAssembler {
  private cur: MetaFrame | null = null;

  constructor(
    private readonly instance: string,
    private readonly endMarker: string,
    private readonly onFrame: (f: MetaFrame) => void,
  ) {}

  /** Returns true when the line belonged to this assembler. */
  push(l: LogLine): boolean {
    const own = l.ctx === this.instance;
    if (!own && l.ctx !== this.endMarker) return false;
    if (FRAME_HEAD.test(l.text)) {
      if (own) {
        this.flush();
        const head = FRAME_HEAD.exec(l.text)!;
        this.cur = { instance: this.instance, pts: Number(head[1]), keys: new Map() };
      }
      return true;
    }
    const eq = l.text.indexOf('=');
    if (eq > 0 && this.cur) this.cur.keys.set(l.text.slice(0, eq), l.text.slice(eq + 1).trim());
    if (!own) this.flush();
    return true;
  }

  flush(): void {
    const f = this.cur;
    this.cur = null;
    if (f && Number.isFinite(f.pts)) this.onFrame(f);
  }
}

/** `channel: 0 | silence_start: 4.03206` / `channel: 0 | silence_end: 7.04 | silence_duration: 3.0` (mono=1). */
export interface SilenceEdge {
  channel: number;
  edge: 'start' | 'end';
  t: number;
}

export function parseSilenceLine(text: string): SilenceEdge | null {
  const m = /^(?:channel: (\d+) \| )?silence_(start|end): (-?[\d.]+(?:e[-+]?\d+)?)/.exec(text);
  if (!m) return null;
  const t = Number(m[3]);
  if (!Number.isFinite(t)) return null;
  return { channel: m[1] === undefined ? 0 : Number(m[1]), edge: m[2] as 'start' | 'end', t };
}

/** Parses a dB value as astats/ebur128 print it; `-inf` and `inf` come back as ±Infinity. */
export function parseDb(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (v === '-inf') return Number.NEGATIVE_INFINITY;
  if (v === 'inf') return Number.POSITIVE_INFINITY;
  const n = Number(v);
  return Number.isNaN(n) ? undefined : n;
}

/** Input stream lines ffmpeg prints at start, e.g. `Stream #0:0[0x100]: Video: h264 (High) …`. */
export function parseStreamLine(line: string): { type: 'video' | 'audio'; codec: string } | null {
  const m = /^\s*Stream #0:\d+\S*: (Video|Audio): (\w+)/.exec(line);
  if (!m) return null;
  return { type: m[1] === 'Video' ? 'video' : 'audio', codec: m[2]! };
}
