import { Telemetry } from '@classroom/protocol';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { SourceEvent } from '../src/media/types.js';
import { parseChronyTracking, TelemetryReporter } from '../src/telemetry/telemetry.js';
import { removeDir, tempDir } from './helpers/agent.js';

describe('telemetry', () => {
  it('collects a valid message from the real system, with the outbox depth and session', async () => {
    const dir = tempDir();
    const events: SourceEvent[] = [];
    try {
      const t = new TelemetryReporter({
        log: pino({ level: 'silent' }),
        clock: { now: () => Date.now() },
        dataDir: dir,
        intervalS: () => 30,
        outboxPending: () => 7,
        session: () => 3,
        publish: () => undefined,
        onEvent: (e) => events.push(e),
      });
      const msg = await t.collect();
      expect(Telemetry.safeParse(msg).success).toBe(true);
      expect(msg).toMatchObject({ session: 3, outboxPending: 7 });
      // No ntpServer: chrony's view when it runs here, else null.
      expect(msg.clockOffsetMs === null || Number.isInteger(msg.clockOffsetMs)).toBe(true);
      expect(msg.diskTotalBytes).toBeGreaterThan(msg.diskFreeBytes);
      expect(msg.memTotalBytes).toBeGreaterThan(0);
      expect(msg.cpuLoad).toBeGreaterThanOrEqual(0);
      expect(msg.cpuLoad).toBeLessThanOrEqual(1);
    } finally {
      removeDir(dir);
    }
  });
});

describe('chrony time-sync status', () => {
  it('turns "System time" (clock fast by 13 ms) into an offset of -13 ms', () => {
    const line =
      'A29FC87B,162.159.200.123,3,1732250000.123,0.013000000,-0.000020000,0.000030000,-9.123,0.001,0.050,0.020,0.010,0.001,64.2,Normal';
    expect(parseChronyTracking(line)).toBe(-13);
    expect(parseChronyTracking('506 Cannot talk to daemon')).toBeNull();
  });
});
