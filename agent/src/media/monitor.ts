import { LIMITS, type Probe } from '@classroom/protocol';
import type { Logger } from 'pino';
import { inputSpec, udpBufferWarning } from '../ffmpeg/input.js';
import { redactCredentials } from '../redact.js';
import { Analyzer } from './analyzer.js';
import { Backoff } from './backoff.js';
import { buildPlan, type DecodeMode, keyframeCapable, type Plan, planKey } from './pipeline.js';
import { probeSource } from './probe.js';
import { FfmpegRun } from './run.js';
import { watchdogTicker } from './ticker.js';
import type {
  CaptureWindow,
  MonitorContext,
  MonitorState,
  MonitorStatus,
  SourceConfig,
  SourceEvent,
  SourceMonitor,
} from './types.js';

/**
 * Seconds after the first packet by which keyframe spacing must be known (else: too sparse), at
 * least; a larger delay budget (`maxDetectionDelayS`) waits longer (see checkGop).
 */
const GOP_CHECK_S = 6;

/**
 * Worst detection delay beyond `minS` in keyframe-only mode, for keyframes `gapS` apart that the
 * decoder hands out `lagS` late: an onset shows at the next keyframe (up to one GOP), is confirmed
 * at the first keyframe at least `minS` later (a whole number of GOPs), and every picture arrives
 * late by the decoder's hold, counted in whole GOPs (see Analyzer.decodeLagS). Measured: GOP 1 s
 * with 2 B-frames holds 2 GOPs, so black (2 s) is seen after 2.5 s on average and 3 s at worst.
 */
export function keyframeDelayS(gapS: number, lagS: number, minS: number): number {
  const held = Math.max(0, Math.round(lagS / gapS));
  return gapS + Math.ceil(minS / gapS - 1e-6) * gapS + held * gapS - minS;
}

/** Failures that mean "stream parameters not found in time": read longer on the next try. */
const PARAMS_MISSING = /codec parameters|unspecified size|initializing output|has no video|has no audio/i;

/** Creates the monitor of one source; nothing runs until start(). */
export function createSourceMonitor(source: SourceConfig, ctx: MonitorContext): SourceMonitor {
  return new FfmpegSourceMonitor(source, ctx);
}

/**
 * Supervises one long-running ffmpeg per source (docs/agent-media.md "Supervision"): probe, spawn, parse, window timer,
 * stale-output watchdog, restart with backoff, source.down/up, snapshots.
 */
export class FfmpegSourceMonitor implements SourceMonitor {
  readonly id: string;
  private readonly log: Logger;
  private st: MonitorStatus;
  private run: FfmpegRun | null = null;
  private plan: Plan | null = null;
  private analyzer: Analyzer | null = null;
  private probed: Probe | null = null;
  private mode: DecodeMode | null = null;
  private stopped = true;
  private downReported = false;
  private everUp = false;
  private lastProgress = 0;
  private firstPacketAt: number | null = null;
  private generation = 0;
  /** Grows when a run fails before its first packet (long GOP joined mid-way), up to 16 s. */
  private analyzeS = 2;
  private readonly backoff = new Backoff();
  private retryTimer: NodeJS.Timeout | null = null;
  /** Removes this monitor's watchdog from the shared once-a-second tick. */
  private unwatch: (() => void) | null = null;
  private windowTimer: NodeJS.Timeout | null = null;
  private windowStart = 0;
  private latestJpeg: Buffer | null = null;
  private latestThumb: { jpeg: Buffer; at: number } | null = null;
  private thumbWaiters: ((t: { jpeg: Buffer; at: number }) => void)[] = [];
  private jpegWaiters: ((b: Buffer) => void)[] = [];
  private probeWaiters: ((p: Probe) => void)[] = [];

  constructor(
    private readonly source: SourceConfig,
    private readonly ctx: MonitorContext,
  ) {
    this.id = source.id;
    this.log = ctx.log.child({ module: 'media', source: source.id });
    this.st = { id: source.id, state: 'stopped', since: ctx.clock.now(), restarts: 0 };
  }

  status(): MonitorStatus {
    return { ...this.st, ...(this.mode ? { decode: this.mode } : {}) };
  }

  private setState(state: MonitorState, reason?: string): void {
    if (this.st.state === state && this.st.reason === reason) return;
    this.st = {
      ...this.st,
      state,
      since: this.ctx.clock.now(),
      ...(reason ? { reason } : { reason: undefined }),
    };
    if (reason === undefined) delete this.st.reason;
    this.log.info({ state, reason }, 'source state');
    this.ctx.onStatus?.(this.status());
  }

  private record(r: CaptureWindow | SourceEvent): void {
    try {
      this.ctx.onRecord(r);
    } catch (err) {
      this.log.error({ err }, 'onRecord handler threw');
    }
  }

  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    if (!this.ctx.ffmpeg) {
      this.setState('no-ffmpeg', 'ffmpeg not found: install ffmpeg or set FFMPEG_PATH/FFPROBE_PATH');
      return;
    }
    if (/^udp:\/\//i.test(this.source.input)) {
      const warning = udpBufferWarning();
      if (warning) this.log.warn({ source: this.id }, warning);
    }
    this.setState('starting');
    this.scheduleWindow(true);
    this.unwatch = watchdogTicker.add(() => this.checkStale());
    void this.launch();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.generation++;
    for (const t of [this.retryTimer, this.windowTimer]) if (t) clearTimeout(t);
    this.unwatch?.();
    this.retryTimer = this.windowTimer = this.unwatch = null;
    await this.endRun('stopped');
    this.releaseProbeWaiters('source monitor stopped');
    if (this.st.state !== 'no-ffmpeg') this.setState('stopped');
  }

  async restart(): Promise<void> {
    if (this.stopped || !this.ctx.ffmpeg) return;
    this.generation++;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.endRun('restart requested');
    this.backoff.reset();
    this.st = { ...this.st, restarts: this.st.restarts + 1 };
    void this.launch();
  }

  /**
   * The source's description for birth. While the monitor runs, the source is never opened a
   * second time for it: UDP ports and devices admit one reader, and a second ffprobe failed with
   * "bind failed: Address already in use". The probe comes from the monitor's own ffprobe before
   * ffmpeg starts, then from the stream lines the running ffmpeg prints; until one is known this
   * waits (the caller bounds the wait). `refresh` re-probes non-exclusive sources (e.g. RTSP).
   */
  async probe(refresh = false): Promise<Probe> {
    const good = this.probed && !this.probed.error ? this.probed : null;
    const active = !this.stopped && this.ctx.ffmpeg !== null;
    const exclusive = inputSpec(this.source.input, { timeoutS: 1 }).exclusive;
    if (!active || (refresh && !exclusive)) {
      if (good && !refresh) return good;
      const p = await probeSource(this.ctx.ffmpeg, this.source, { timeoutS: this.t().sourceStaleS });
      if (!p.error || !this.probed) this.probed = p;
      return p;
    }
    if (good && (!refresh || this.run)) return good;
    if (this.st.state === 'down') return this.probed ?? { error: this.st.reason ?? 'source is down' };
    return new Promise<Probe>((resolve) => this.probeWaiters.push(resolve));
  }

  /** A probe of the source arrived (ffprobe before spawning, or ffmpeg's own stream lines). */
  private setProbe(p: Probe): void {
    const good = this.probed && !this.probed.error ? this.probed : null;
    if (p.error && good) return;
    // ffmpeg joined mid-GOP may print a video stream without its size: keep the fuller description.
    if (
      good &&
      ((good.width != null && p.width == null) || (good.sampleRate != null && p.sampleRate == null))
    )
      return;
    this.probed = p;
    if (!p.error) for (const w of this.probeWaiters.splice(0)) w(p);
  }

  /** Answers waiting probe() calls when no probe will come from this run. */
  private releaseProbeWaiters(reason: string): void {
    const p: Probe = this.probed && !this.probed.error ? this.probed : { error: reason.slice(0, 250) };
    for (const w of this.probeWaiters.splice(0)) w(p);
  }

  async snapshot(): Promise<Buffer> {
    if (this.source.kind !== 'camera') throw new Error(`source ${this.id} is a microphone: no picture`);
    if (this.st.state === 'no-ffmpeg') throw new Error(`source ${this.id}: ${this.st.reason}`);
    const img =
      this.latestJpeg && this.st.state === 'running'
        ? this.latestJpeg
        : await new Promise<Buffer>((resolve, reject) => {
            const timer = setTimeout(() => {
              this.jpegWaiters = this.jpegWaiters.filter((w) => w !== done);
              reject(new Error(`source ${this.id} has no picture (state ${this.st.state})`));
            }, 5000);
            const done = (b: Buffer): void => {
              clearTimeout(timer);
              resolve(b);
            };
            this.jpegWaiters.push(done);
          });
    if (img.length > LIMITS.maxSnapshotBytes) {
      throw new Error(`snapshot of ${this.id} is ${img.length} bytes, above ${LIMITS.maxSnapshotBytes}`);
    }
    return img;
  }

  async thumbnail(): Promise<{ jpeg: Buffer; at: number }> {
    if (this.source.kind !== 'camera') throw new Error(`source ${this.id} is a microphone: no picture`);
    if (this.st.state === 'no-ffmpeg') throw new Error(`source ${this.id}: ${this.st.reason}`);
    if (this.latestThumb && this.st.state === 'running') return this.latestThumb;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.thumbWaiters = this.thumbWaiters.filter((w) => w !== done);
        reject(new Error(`source ${this.id} has no picture (state ${this.st.state})`));
      }, 5000);
      const done = (t: { jpeg: Buffer; at: number }): void => {
        clearTimeout(timer);
        resolve(t);
      };
      this.thumbWaiters.push(done);
    });
  }

  private t() {
    return this.ctx.settings().thresholds;
  }

  /** Probes (unless a fresh probe is given), then spawns ffmpeg. */
  private async launch(known?: Probe): Promise<void> {
    const gen = ++this.generation;
    const tools = this.ctx.ffmpeg;
    if (!tools) return;
    // Probing first (ffmpeg is not running now) tells which streams exist and checks reachability.
    const probe =
      known ??
      (await probeSource(tools, this.source, {
        timeoutS: this.t().sourceStaleS,
        analyzeS: this.analyzeS,
      }));
    if (gen !== this.generation || this.stopped) return;
    if (probe.error) {
      this.setProbe(probe);
      this.fail(`probe failed: ${probe.error}`);
      return;
    }
    this.setProbe(probe);
    if (this.source.kind === 'camera' && probe.width == null)
      return this.fail('camera source has no video stream');
    if (this.source.kind === 'microphone' && probe.sampleRate == null)
      return this.fail('microphone has no audio');
    this.mode ??= keyframeCapable(probe.codec) ? 'keyframes' : 'lowfps';
    const plan = buildPlan(this.source, probe, this.t(), this.mode, this.analyzeS);
    this.plan = plan;
    const analyzer = new Analyzer(
      this.id,
      plan.channels,
      () => this.t(),
      (e) => this.record(e),
    );
    this.analyzer = analyzer;
    this.firstPacketAt = null;
    this.lastProgress = this.ctx.clock.now();
    this.log.debug({ args: plan.args }, 'spawning ffmpeg');
    const now = () => this.ctx.clock.now();
    const run = new FfmpegRun(tools.ffmpeg.path, plan, {
      progress: (r) => {
        if (gen === this.generation && analyzer.progress(r, now())) this.progress();
      },
      keyframe: (pts) => gen === this.generation && analyzer.keyframe(pts, now()),
      videoFrame: (f) => gen === this.generation && analyzer.videoFrame(f, now()),
      audioFrame: (f) => gen === this.generation && analyzer.audioFrame(f, now()),
      silence: (e, pts) => gen === this.generation && analyzer.silence(e, pts, now()),
      probe: (p) => gen === this.generation && this.setProbe(p),
      jpeg: (img) => {
        if (gen !== this.generation) return;
        this.latestJpeg = img;
        for (const w of this.jpegWaiters.splice(0)) w(img);
      },
      frame: (img) => {
        if (gen === this.generation) this.ctx.onFrame?.(img, this.ctx.clock.now());
      },
      thumbnail: (img) => {
        if (gen !== this.generation || img.length > LIMITS.maxThumbnailBytes) return;
        const t = { jpeg: img, at: this.ctx.clock.now() };
        this.latestThumb = t;
        for (const w of this.thumbWaiters.splice(0)) w(t);
      },
      exit: (code, signal, lastError) => {
        if (gen !== this.generation || this.stopped) return;
        this.fail(`ffmpeg exited (${signal ?? `code ${code}`})${lastError ? `: ${lastError}` : ''}`);
      },
    });
    this.run = run;
    run.start();
  }

  /** First data of a run: the source is up; later progress feeds the watchdog. */
  private progress(): void {
    const now = this.ctx.clock.now();
    this.lastProgress = now;
    if (this.firstPacketAt === null) {
      this.firstPacketAt = now;
      this.setState('running');
      if (this.downReported) {
        this.downReported = false;
        this.record({
          kind: 'event',
          source: this.id,
          ts: now,
          type: 'source.up',
          detail: { restarts: this.st.restarts },
        });
      }
      this.everUp = true;
      this.backoff.reset();
    }
  }

  private checkStale(): void {
    if (this.stopped || !this.run) return;
    const t = this.t();
    const now = this.ctx.clock.now();
    // Before the first packet ffmpeg may legitimately read analyzeS seconds of stream first.
    const allowS = t.sourceStaleS + (this.firstPacketAt === null ? this.analyzeS : 0);
    if (now - this.lastProgress > allowS * 1000) {
      this.fail(`no output for ${t.sourceStaleS} s`);
      return;
    }
    this.checkGop(now);
  }

  /** Keyframes too sparse for the thresholds: restart decoding every frame at a low rate (docs/agent-media.md "Cost", low-fps fallback). */
  private checkGop(now: number): void {
    if (this.mode !== 'keyframes' || !this.plan?.video || !this.analyzer || this.firstPacketAt === null)
      return;
    const t = this.t();
    const gap = this.analyzer.keyInterval();
    // Until the decoder's hold is measured, judge the spacing alone (as if nothing were held).
    const lag = this.analyzer.decodeLagS() ?? 0;
    const delay =
      gap === null ? null : Math.max(...[t.blackMinS, t.frozenMinS].map((m) => keyframeDelayS(gap, lag, m)));
    const waited = (now - this.firstPacketAt) / 1000;
    const budget = t.maxDetectionDelayS;
    // Two keyframes of the largest GOP that fits the budget (about (budget + minimum) / 2) arrive
    // within budget + 4 s of joining.
    const gopWait = Math.max(GOP_CHECK_S, budget + 4);
    if ((delay !== null && delay > budget + 0.05) || (gap === null && waited > gopWait)) {
      // Logged once per source: the low-fps mode sticks until the monitor is restarted.
      this.log.info(
        { keyIntervalS: gap, decodeLagS: lag, delayS: delay, maxDetectionDelayS: budget },
        gap === null
          ? `no second keyframe within ${gopWait} s; switching to low-fps decode`
          : `keyframes too sparse: worst detection delay ${delay?.toFixed(1)} s > maxDetectionDelayS ${budget} s; switching to low-fps decode`,
      );
      this.mode = 'lowfps';
      // The new run joins mid-GOP again: read at least one GOP to find the parameters.
      this.analyzeS = Math.min(16, Math.max(this.analyzeS, Math.ceil(gap ?? waited) + 2));
      void this.replan('keyframes too sparse');
    }
  }

  /** A planned restart (decode mode or ffmpeg-level threshold changed): no source.down/up. */
  private async replan(reason: string): Promise<void> {
    this.generation++;
    const gen = this.generation;
    await this.endRun(reason);
    if (!this.stopped && gen === this.generation) void this.launch(this.probed ?? undefined);
  }

  private async endRun(reason: string): Promise<void> {
    const run = this.run;
    this.run = null;
    this.analyzer?.endFaults(this.ctx.clock.now(), reason);
    this.analyzer = null;
    if (run) await run.stop();
  }

  private fail(rawReason: string): void {
    if (this.stopped) return;
    // ffmpeg's error lines name the input, password included (docs/agent.md "Secrets").
    const reason = redactCredentials(rawReason);
    this.generation++;
    const gen = this.generation;
    // Joined a long-GOP stream between keyframes: read longer and try again at once; this is a
    // start-up hiccup, not an outage (docs/agent-media.md "Cost": fall back when keyframes are sparse).
    if (this.firstPacketAt === null && PARAMS_MISSING.test(reason) && this.analyzeS < 16) {
      this.analyzeS = Math.min(16, this.analyzeS * 2);
      this.log.info(
        { reason, analyzeS: this.analyzeS },
        'stream parameters not found in time; reading longer',
      );
      const known =
        this.probed &&
        !this.probed.error &&
        /initializing output|codec parameters|unspecified size/i.test(reason);
      void this.endRun(reason).then(() => {
        if (gen === this.generation && !this.stopped)
          void this.launch(known ? (this.probed ?? undefined) : undefined);
      });
      return;
    }
    // The retry waits for this ffmpeg to be gone: it still holds an exclusive input (UDP port).
    const ended = this.endRun(reason);
    this.latestJpeg = null;
    this.latestThumb = null;
    this.releaseProbeWaiters(reason);
    if (!this.downReported) {
      this.downReported = true;
      this.record({
        kind: 'event',
        source: this.id,
        ts: this.ctx.clock.now(),
        type: 'source.down',
        detail: { reason: reason.slice(0, 1000) },
      });
    }
    this.setState('down', reason.slice(0, 250));
    const delay = this.backoff.next();
    this.log.warn({ reason, retryInMs: delay, everUp: this.everUp }, 'source down');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (gen !== this.generation || this.stopped) return;
      void ended.then(() => {
        if (gen !== this.generation || this.stopped) return;
        this.st = { ...this.st, restarts: this.st.restarts + 1 };
        void this.launch();
      });
    }, delay);
  }

  /** Closes windows on wall-clock multiples of windowS; the first one may be partial. */
  private scheduleWindow(first = false): void {
    const now = this.ctx.clock.now();
    if (first) this.windowStart = now;
    const w = Math.max(1, this.ctx.settings().windowS) * 1000;
    const next = Math.floor(now / w) * w + w;
    this.windowTimer = setTimeout(() => this.closeWindow(next), Math.max(1, next - now));
  }

  private closeWindow(end: number): void {
    if (this.stopped) return;
    const start = this.windowStart;
    this.windowStart = end;
    const plan = this.plan;
    if (this.analyzer && plan) {
      const rec = this.analyzer.closeWindow(this.id, start, end, plan.video, plan.audio);
      if (rec?.video) {
        rec.video.width = this.probed?.width ?? null;
        rec.video.height = this.probed?.height ?? null;
      }
      if (rec) this.record(rec);
      if (this.run && planKey(this.t()) !== plan.key) void this.replan('thresholds changed');
    }
    this.scheduleWindow();
  }
}
