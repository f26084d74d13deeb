import { Telemetry } from '@classroom/protocol';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { SourceEvent } from '../src/media/types.js';
import { TelemetryReporter } from '../src/telemetry/telemetry.js';
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
      expect(msg).toMatchObject({ session: 3, outboxPending: 7, clockOffsetMs: null });
      expect(msg.diskTotalBytes).toBeGreaterThan(msg.diskFreeBytes);
      expect(msg.memTotalBytes).toBeGreaterThan(0);
      expect(msg.cpuLoad).toBeGreaterThanOrEqual(0);
      expect(msg.cpuLoad).toBeLessThanOrEqual(1);
    } finally {
      removeDir(dir);
    }
  });
});
