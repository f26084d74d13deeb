import { execFile } from 'node:child_process';
import { statfs } from 'node:fs/promises';
import { uptime } from 'node:os';
import type { Telemetry as TelemetryMsg } from '@classroom/protocol';
import type { Logger } from 'pino';
import type { SourceEvent } from '../media/types.js';
import { CpuLoadMeter, cpuTemperature, memory } from './host.js';
import { queryNtpOffset } from './ntp.js';

export interface TelemetryContext {
  log: Logger;
  clock: { now(): number };
  dataDir: string;
  ntpServer?: string;
  intervalS: () => number;
  outboxPending: () => number;
  /** Sources' watch modes (docs/agent-media.md "Duty cycle"); undefined: all at full watch, field left out. */
  watch?: () => { id: string; mode: 'full' | 'duty' }[] | undefined;
  session: () => number;
  /** Publishes when connected; telemetry is QoS 0 and simply skipped offline. */
  publish: (msg: TelemetryMsg) => void;
  /** disk.low / clock.skew transitions go to the outbox like any event. */
  onEvent: (event: SourceEvent) => void;
}

/** Below this share of free space on the dataDir disk we raise disk.low (and clear it at twice). */
const DISK_LOW_RATIO = 0.05;
/** Beyond this clock offset we raise clock.skew: capture windows would be misplaced in time. */
const CLOCK_SKEW_MS = 2000;

/** Device status every telemetryIntervalS (docs/agent.md "Telemetry"; DESIGN.md `telemetry` topic). */
export class TelemetryReporter {
  private timer: NodeJS.Timeout | null = null;
  private diskLow = false;
  private skewed = false;
  private running = false;
  private readonly cpuLoad = new CpuLoadMeter();
  private readonly log: Logger;

  constructor(private readonly ctx: TelemetryContext) {
    this.log = ctx.log.child({ module: 'telemetry' });
  }

  start(): void {
    this.running = true;
    this.schedule(1000);
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** After a (re)connect: report within a second instead of up to a whole interval later. */
  soon(): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.schedule(1000);
  }

  /** Called after set-config changed telemetryIntervalS. */
  reschedule(): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.schedule(this.ctx.intervalS() * 1000);
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref?.();
  }

  private async tick(): Promise<void> {
    try {
      const msg = await this.collect();
      this.ctx.publish(msg);
    } catch (err) {
      this.log.error({ err }, 'telemetry collection failed');
    }
    if (this.running) this.schedule(this.ctx.intervalS() * 1000);
  }

  async collect(): Promise<TelemetryMsg> {
    const [temperature, disk, offset] = await Promise.all([
      cpuTemperature().catch(() => null),
      statfs(this.ctx.dataDir).catch((err: unknown) => {
        this.log.warn({ err: String(err) }, 'cannot stat the dataDir filesystem');
        return null;
      }),
      this.clockOffset(),
    ]);
    const diskTotal = disk ? disk.blocks * disk.bsize : 0;
    const diskFree = disk ? disk.bavail * disk.bsize : 0;
    const mem = memory();
    const msg: TelemetryMsg = {
      v: 1,
      session: this.ctx.session(),
      ts: this.ctx.clock.now(),
      cpuLoad: this.cpuLoad.read(),
      memUsedBytes: mem.usedBytes,
      memTotalBytes: mem.totalBytes,
      diskFreeBytes: diskFree,
      diskTotalBytes: diskTotal,
      temperatureC: temperature,
      uptimeS: Math.round(uptime()),
      clockOffsetMs: offset,
      outboxPending: this.ctx.outboxPending(),
    };
    const watch = this.ctx.watch?.();
    if (watch) msg.watch = watch;
    this.checkTransitions(msg);
    return msg;
  }

  /** SNTP against ntpServer when configured, else the offset chrony reports, else null. */
  private async clockOffset(): Promise<number | null> {
    if (!this.ctx.ntpServer) return chronyOffsetMs();
    try {
      return Math.round(await queryNtpOffset(this.ctx.ntpServer, { now: () => this.ctx.clock.now() }));
    } catch (err) {
      this.log.debug({ err: String(err) }, 'NTP query failed');
      return null;
    }
  }

  private checkTransitions(msg: TelemetryMsg): void {
    const ts = msg.ts;
    if (msg.diskTotalBytes > 0) {
      const ratio = msg.diskFreeBytes / msg.diskTotalBytes;
      if (!this.diskLow && ratio < DISK_LOW_RATIO) {
        this.diskLow = true;
        this.ctx.onEvent({
          kind: 'event',
          source: null,
          ts,
          type: 'disk.low',
          detail: { freeBytes: msg.diskFreeBytes, freeRatio: ratio },
        });
      } else if (this.diskLow && ratio >= DISK_LOW_RATIO * 2) {
        this.diskLow = false;
      }
    }
    if (msg.clockOffsetMs !== null) {
      const skewed = Math.abs(msg.clockOffsetMs) > CLOCK_SKEW_MS;
      if (skewed && !this.skewed) {
        this.ctx.onEvent({
          kind: 'event',
          source: null,
          ts,
          type: 'clock.skew',
          detail: { offsetMs: msg.clockOffsetMs },
        });
      }
      this.skewed = skewed;
    }
  }
}

/**
 * Parses `chronyc -c tracking` (CSV). Field 5 is "System time": how far the system clock is from
 * NTP time in seconds, positive when the clock is fast. Our offset is the other way round
 * (positive = the reference is ahead), as in the SNTP query.
 */
export function parseChronyTracking(csv: string): number | null {
  const fields = csv.trim().split(',');
  const systemTime = Number(fields[4]);
  if (fields.length < 6 || !Number.isFinite(systemTime)) return null;
  return Math.round(-systemTime * 1000);
}

/** How long a box without `chronyc` waits before looking for it again (it may be installed later). */
const CHRONY_MISSING_RETRY_MS = 10 * 60_000;
let chronyMissingUntil = 0;

/**
 * The system's own time-sync status via chrony, when it runs; null otherwise. A box without
 * chrony is not asked every report: each try forks the agent (docs/agent.md "Telemetry").
 */
function chronyOffsetMs(now = Date.now()): Promise<number | null> {
  if (now < chronyMissingUntil) return Promise.resolve(null);
  return new Promise((resolve) => {
    execFile('chronyc', ['-c', 'tracking'], { timeout: 2000 }, (err, stdout) => {
      if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT')
        chronyMissingUntil = now + CHRONY_MISSING_RETRY_MS;
      resolve(err ? null : parseChronyTracking(stdout));
    });
  });
}
