import type { AudioWindow, EventType, Thresholds, VideoWindow } from '@classroom/protocol';
import { type MetaFrame, type ProgressReport, parseDb, type SilenceEdge } from './parse.js';
import { AUDIO_BLOCK_S } from './pipeline.js';
import type { CaptureWindow, SourceEvent } from './types.js';

type Emit = (r: SourceEvent) => void;

interface Acc {
  packets: number;
  keyframes: number;
  bytes: number;
  /** Media seconds spanned by the progress reports that gave `packets` and `bytes`. */
  mediaS: number;
  frames: number;
  black: number;
  frozen: number;
  mafdSum: number;
  mafdN: number;
  aFrames: number;
  aSilent: number;
  powerSum: number;
  peak: number;
  loudSum: number;
  loudN: number;
}

const emptyAcc = (): Acc => ({
  packets: 0,
  keyframes: 0,
  bytes: 0,
  mediaS: 0,
  frames: 0,
  black: 0,
  frozen: 0,
  mafdSum: 0,
  mafdN: 0,
  aFrames: 0,
  aSilent: 0,
  powerSum: 0,
  peak: Number.NEGATIVE_INFINITY,
  loudSum: 0,
  loudN: 0,
});

/**
 * ebur128's short-term loudness spans 3 s; until it has that much audio it prints its floor
 * (-120.7 LUFS), which is no reading at all, not a silent room.
 */
const SHORT_TERM_S = 3;

const round = (v: number, d = 3): number => Math.round(v * 10 ** d) / 10 ** d;
const clampDb = (v: number): number | null =>
  Number.isFinite(v) ? round(Math.max(-200, Math.min(200, v)), 2) : null;
const ratio = (n: number, d: number): number | null =>
  d > 0 ? round(Math.min(1, Math.max(0, n / d))) : null;

/**
 * Turns one ffmpeg run's parsed output into state-transition events and capture windows.
 * Media time (pts, seconds) decides durations, so a late log line does not stretch a fault;
 * wall time for an onset is derived from media time (see wallOf).
 */
export class Analyzer {
  private acc = emptyAcc();
  private black = false;
  private blackSince = 0;
  private blackEvent = false;
  private lastBlackEnd = Number.NEGATIVE_INFINITY;
  private frozen = false;
  private frozenSince = 0;
  private frozenEvent = false;
  private silenceStart: (number | null)[];
  private silenceEvent = false;
  private silenceSince = 0;
  private prevAudioPts: number | null = null;
  /** Media time of this run's first audio block: loudness counts from SHORT_TERM_S after it. */
  private firstAudioPts: number | null = null;
  private keyTimes: number[] = [];
  private keyLags: number[] = [];
  private lastReport: ProgressReport | null = null;
  /** wall ms − media ms, at its smallest seen: the least-delayed reading of the pipeline. */
  private offset: number | null = null;
  /** The stream copy's progress has anchored `offset` (see wallOf). */
  private copyAnchored = false;

  constructor(
    private readonly source: string,
    private readonly channels: number,
    private readonly thresholds: () => Required<Thresholds>,
    private readonly emit: Emit,
  ) {
    this.silenceStart = Array.from({ length: channels }, () => null);
  }

  /**
   * Wall time of media time `pts`, learnt from the reading (`now`, `curPts`) at hand. Lines arrive
   * late by a varying amount (pipe batches, load), never early, so the smallest wall − media
   * difference is the best estimate; a jump of more than 5 s (new timeline) starts afresh.
   * Only the stream copy's readings (`copy`) may start afresh once it has anchored the estimate: a
   * decoded picture comes out late by the decoder's hold, whole GOPs with B-frames (8 s at a 4 s
   * GOP with 2 B-frames, docs/agent-media.md "Cost"), and taking that for a new timeline would put
   * event onsets that much late and hide the hold from decodeLagS.
   */
  private wallOf(pts: number, curPts: number, now: number, copy = false): number {
    const d = now - curPts * 1000;
    const fresh = this.offset !== null && d - this.offset > 5000 && (copy || !this.copyAnchored);
    if (this.offset === null || d < this.offset || fresh) this.offset = d;
    if (copy) this.copyAnchored = true;
    return Math.min(now, this.offset + pts * 1000);
  }

  private event(type: EventType, ts: number, detail: SourceEvent['detail']): void {
    this.emit({ kind: 'event', source: this.source, ts: Math.round(ts), type, detail });
  }

  /**
   * A progress report of the stream copy: the packets and bytes since the previous report, and
   * the media time they span, so that fps and bitrate do not depend on when a report is read.
   * Returns true when the source delivered something since the previous report (liveness).
   */
  progress(r: ProgressReport, now?: number): boolean {
    const prev = this.lastReport;
    if (!Number.isFinite(r.bytes) && !Number.isFinite(r.frames)) return false;
    this.lastReport = r;
    // The stream copy is the least-delayed reading of media time: it anchors wallOf, so that the
    // decoder's own delay (see keyframe) shows as lag instead of hiding in the offset.
    if (now !== undefined && Number.isFinite(r.outTimeS) && r.outTimeS > 0)
      this.wallOf(r.outTimeS, r.outTimeS, now, true);
    if (!prev) return (r.bytes || 0) > 0 || (r.frames || 0) > 0;
    const dFrames = Number.isFinite(r.frames) && Number.isFinite(prev.frames) ? r.frames - prev.frames : 0;
    const dBytes = Number.isFinite(r.bytes) && Number.isFinite(prev.bytes) ? r.bytes - prev.bytes : 0;
    const dt = r.outTimeS - prev.outTimeS;
    if (dFrames < 0 || dBytes < 0) return false;
    // A jump of the media clock (timestamp wrap, new timeline) spans nothing usable.
    if (Number.isFinite(dt) && dt > 0 && dt < 30) {
      this.acc.packets += dFrames;
      this.acc.bytes += dBytes;
      this.acc.mediaS += dt;
    }
    return dFrames > 0 || dBytes > 0;
  }

  /**
   * A decoded keyframe (media time, seconds) read at wall time `now`: the count, keyframe spacing
   * and how late the decoder hands keyframes out.
   */
  keyframe(pts: number, now?: number): void {
    this.acc.keyframes++;
    this.keyTimes.push(pts);
    if (this.keyTimes.length > 5) this.keyTimes.shift();
    if (now !== undefined && this.offset !== null) {
      this.keyLags.push((now - this.offset) / 1000 - pts);
      if (this.keyLags.length > 5) this.keyLags.shift();
    }
  }

  /**
   * Seconds between a keyframe's arrival and its decoded picture, or null before three readings.
   * With B-frames the H.264 decoder holds each picture until as many later ones are decoded as
   * the stream may reorder; in keyframe-only mode those are the next keyframes, so the hold is
   * whole GOPs (2 s for a GOP of 1 s and 2 B-frames). Reading delays only add, so the smallest of
   * the recent readings is the estimate.
   */
  decodeLagS(): number | null {
    return this.keyLags.length >= 3 ? Math.max(0, Math.min(...this.keyLags)) : null;
  }

  /**
   * The recent keyframe interval in seconds (the lower median of the last four gaps), or null
   * while fewer than two were seen. One keyframe lost on the way (a UDP datagram, or most likely data
   * an RTSP server dropped for a client starved on a loaded box) doubles one gap; that must not
   * send a stream with a short GOP to the low-fps decode for good (docs/agent-media.md "Cost"),
   * while a camera whose GOP is long shows it in every gap.
   */
  keyInterval(): number | null {
    const gaps: number[] = [];
    for (let i = 1; i < this.keyTimes.length; i++) {
      const d = this.keyTimes[i]! - this.keyTimes[i - 1]!;
      if (d > 0) gaps.push(d);
    }
    if (gaps.length === 0) return null;
    gaps.sort((a, b) => a - b);
    return gaps[Math.floor((gaps.length - 1) / 2)]!;
  }

  /** One analysed picture: blackdetect / freezedetect transitions and scdet's frame difference. */
  videoFrame(f: MetaFrame, now: number): void {
    const t = this.thresholds();
    const k = f.keys;
    this.wallOf(f.pts, f.pts, now);
    const wall = (pts: number): number => this.wallOf(pts, f.pts, now);
    const bs = k.get('lavfi.black_start');
    const be = k.get('lavfi.black_end');
    if (be !== undefined) {
      this.black = false;
      this.lastBlackEnd = Number(be);
      if (this.blackEvent) {
        this.blackEvent = false;
        this.event('video.black.end', wall(Number(be)), {
          durationS: round(Number(be) - this.blackSince, 1),
        });
      }
    }
    if (bs !== undefined) {
      this.black = true;
      this.blackSince = Number(bs);
    }
    // freezedetect with d=0 marks a changed frame with start+end at once and a still frame with start.
    const fs = k.get('lavfi.freezedetect.freeze_start');
    const fe = k.get('lavfi.freezedetect.freeze_end');
    if (fe !== undefined) this.frozen = false;
    else if (fs !== undefined) {
      this.frozen = true;
      this.frozenSince = Number(fs);
    }
    if (this.black && !this.blackEvent && f.pts - this.blackSince >= t.blackMinS - 1e-6) {
      this.blackEvent = true;
      this.event('video.black.start', wall(this.blackSince), { minS: t.blackMinS });
    }
    // A black picture is also still: frozen is judged only outside black, so one fault is not reported twice (docs/agent-media.md "Events").
    const stillFrom = Math.max(this.frozenSince, this.lastBlackEnd);
    const stillNow = this.frozen && !this.black;
    if (this.frozenEvent && !stillNow) {
      this.frozenEvent = false;
      const endPts = fe !== undefined ? Number(fe) : f.pts;
      this.event('video.frozen.end', wall(endPts), { durationS: round(endPts - stillFrom, 1) });
    } else if (stillNow && !this.frozenEvent && f.pts - stillFrom >= t.frozenMinS - 1e-6) {
      this.frozenEvent = true;
      this.event('video.frozen.start', wall(stillFrom), { minS: t.frozenMinS });
    }
    this.acc.frames++;
    if (this.black) this.acc.black++;
    else if (this.frozen) this.acc.frozen++;
    const mafd = Number(k.get('lavfi.scd.mafd'));
    if (Number.isFinite(mafd)) {
      this.acc.mafdSum += mafd;
      this.acc.mafdN++;
    }
  }

  private allSilent(): boolean {
    return this.silenceStart.every((s) => s !== null);
  }

  /** silencedetect (mono=1) edge of one channel; the source is silent when every channel is. */
  silence(e: SilenceEdge, lastAudioPts: number, now: number): void {
    if (e.channel < 0 || e.channel >= this.silenceStart.length) return;
    const was = this.allSilent();
    this.silenceStart[e.channel] = e.edge === 'start' ? e.t : null;
    const is = this.allSilent();
    if (!was && is) {
      this.silenceSince = Math.max(...(this.silenceStart as number[]));
      // silencedetect confirms a start only after its own d; count that lag as silent too.
      const lagBlocks = Math.max(0, Math.round((lastAudioPts - this.silenceSince) / AUDIO_BLOCK_S));
      this.acc.aSilent += Math.min(lagBlocks, this.acc.aFrames - this.acc.aSilent);
    }
    if (was && !is && this.silenceEvent) {
      this.silenceEvent = false;
      const ts = this.wallOf(e.t, lastAudioPts, now);
      this.event('audio.silence.end', ts, {
        durationS: round(e.t - this.silenceSince, 1),
        channel: e.channel,
      });
    }
  }

  /** One audio block (AUDIO_BLOCK_S): per-channel and overall levels, short-term loudness. */
  audioFrame(f: MetaFrame, now: number): void {
    const t = this.thresholds();
    const k = f.keys;
    this.wallOf(f.pts, f.pts, now);
    const rms = parseDb(k.get('lavfi.astats.Overall.RMS_level'));
    const peak = parseDb(k.get('lavfi.astats.Overall.Peak_level'));
    const m = parseDb(k.get('lavfi.r128.S'));
    this.acc.aFrames++;
    if (rms !== undefined) this.acc.powerSum += rms === Number.NEGATIVE_INFINITY ? 0 : 10 ** (rms / 10);
    if (peak !== undefined && peak > this.acc.peak) this.acc.peak = peak;
    this.firstAudioPts ??= f.pts;
    if (m !== undefined && Number.isFinite(m) && f.pts - this.firstAudioPts >= SHORT_TERM_S - 1e-6) {
      this.acc.loudSum += 10 ** (m / 10);
      this.acc.loudN++;
    }
    // A block is printed once it is complete, and silencedetect has reported any sound in it by
    // then: silence has lasted to the block's end, one block later than its pts says.
    const prev = this.prevAudioPts;
    this.prevAudioPts = f.pts;
    const span =
      prev !== null && f.pts > prev && f.pts - prev <= 2 * AUDIO_BLOCK_S ? f.pts - prev : AUDIO_BLOCK_S;
    if (this.allSilent()) {
      this.acc.aSilent++;
      if (!this.silenceEvent && f.pts + span - this.silenceSince >= t.silenceMinS - 1e-6) {
        this.silenceEvent = true;
        const levels: Record<string, number | null> = {};
        for (let c = 1; c <= this.channels && c <= 8; c++) {
          const v = parseDb(k.get(`lavfi.astats.${c}.RMS_level`));
          levels[`ch${c}RmsDb`] = v === undefined ? null : clampDb(v);
        }
        const ts = this.wallOf(this.silenceSince, f.pts, now);
        this.event('audio.silence.start', ts, { minS: t.silenceMinS, channels: this.channels, ...levels });
      }
    }
  }

  /** Closes the window [start, end): the capture record, or null when nothing arrived in it. */
  closeWindow(
    source: string,
    start: number,
    end: number,
    hasVideo: boolean,
    hasAudio: boolean,
  ): CaptureWindow | null {
    const a = this.acc;
    this.acc = emptyAcc();
    const secs = Math.max(0.001, (end - start) / 1000);
    if (a.packets === 0 && a.bytes === 0 && a.frames === 0 && a.aFrames === 0) return null;
    // Rates over the media time the reports spanned; over the window when none did.
    const rateS = a.mediaS > 0 ? a.mediaS : secs;
    const rec: CaptureWindow = { kind: 'capture', source, start, end };
    if (hasVideo) {
      const v: VideoWindow = {
        fps: round(a.packets / rateS, 2),
        width: null,
        height: null,
        keyframes: a.keyframes,
        bitrateKbps: round((a.bytes * 8) / 1000 / rateS, 1),
        blackRatio: ratio(a.black, a.frames),
        frozenRatio: ratio(a.frozen, a.frames),
        motion: a.mafdN > 0 ? round(Math.min(1, a.mafdSum / a.mafdN / 100), 4) : null,
      };
      rec.video = v;
    }
    if (hasAudio && a.aFrames > 0) {
      const au: AudioWindow = {
        rmsDb: a.powerSum > 0 ? clampDb(10 * Math.log10(a.powerSum / a.aFrames)) : null,
        peakDb: clampDb(a.peak),
        loudnessLufs: a.loudN > 0 ? clampDb(10 * Math.log10(a.loudSum / a.loudN)) : null,
        silenceRatio: ratio(a.aSilent, a.aFrames),
      };
      rec.audio = au;
    }
    return rec;
  }

  /** Ongoing faults, so that a restart of ffmpeg can close them (source.down ends them). */
  /** Ends every ongoing fault at `ts` (its ffmpeg run is over; a new run starts afresh). */
  endFaults(ts: number, reason: string): void {
    if (this.blackEvent) this.event('video.black.end', ts, { reason });
    if (this.frozenEvent) this.event('video.frozen.end', ts, { reason });
    if (this.silenceEvent) this.event('audio.silence.end', ts, { reason });
    this.blackEvent = this.frozenEvent = this.silenceEvent = false;
  }

  activeFaults(): ('black' | 'frozen' | 'silence')[] {
    const out: ('black' | 'frozen' | 'silence')[] = [];
    if (this.blackEvent) out.push('black');
    if (this.frozenEvent) out.push('frozen');
    if (this.silenceEvent) out.push('silence');
    return out;
  }
}
