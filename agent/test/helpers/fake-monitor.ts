import type { Probe } from '@classroom/protocol';
import type { MonitorContext, MonitorStatus, SourceConfig, SourceMonitor } from '../../src/media/types.js';

/**
 * A scripted source for session/outbox tests that must not depend on ffmpeg timing. The
 * end-to-end tests use the real media monitor; this one only emits what the test asks for.
 */
export class FakeMonitor implements SourceMonitor {
  readonly id: string;
  started = 0;
  stopped = 0;
  restarts = 0;
  running = false;
  snapshotBytes = 2048;
  private t = 1_700_000_000_000;

  constructor(
    readonly source: SourceConfig,
    readonly ctx: MonitorContext,
  ) {
    this.id = source.id;
  }

  async start(): Promise<void> {
    this.started += 1;
    this.running = true;
  }
  async stop(): Promise<void> {
    this.stopped += 1;
    this.running = false;
  }
  async restart(): Promise<void> {
    this.restarts += 1;
  }
  async snapshot(): Promise<Buffer> {
    if (!this.running) throw new Error(`source ${this.id} is not running`);
    const b = Buffer.alloc(this.snapshotBytes, 0x55);
    b[0] = 0xff;
    b[1] = 0xd8;
    return b;
  }
  async thumbnail(): Promise<{ jpeg: Buffer; at: number }> {
    if (!this.running) throw new Error(`source ${this.id} is not running`);
    const b = Buffer.alloc(512, 0x33);
    b[0] = 0xff;
    b[1] = 0xd8;
    return { jpeg: b, at: this.t };
  }
  async probe(): Promise<Probe> {
    return { codec: 'h264', width: 320, height: 240, fps: 10 };
  }
  status(): MonitorStatus {
    return { id: this.id, state: this.running ? 'running' : 'stopped', since: 0, restarts: this.restarts };
  }

  /** Emits n capture windows of the current window length. */
  emitWindows(n: number): void {
    const w = this.ctx.settings().windowS * 1000;
    for (let i = 0; i < n; i++) {
      const start = this.t;
      this.t += w;
      this.ctx.onRecord({
        kind: 'capture',
        source: this.id,
        start,
        end: this.t,
        video: {
          fps: 10,
          width: 320,
          height: 240,
          keyframes: 1,
          bitrateKbps: 200,
          blackRatio: 0,
          frozenRatio: 0,
          motion: 0.1,
        },
      });
    }
  }
}

export function fakeFactory(): {
  create: (s: SourceConfig, c: MonitorContext) => SourceMonitor;
  monitors: Map<string, FakeMonitor>;
} {
  const monitors = new Map<string, FakeMonitor>();
  return {
    monitors,
    create: (s, c) => {
      const m = new FakeMonitor(s, c);
      monitors.set(s.id, m);
      return m;
    },
  };
}
