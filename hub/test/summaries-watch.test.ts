import { RoomSummary } from '@classroom/protocol';
import { describe, expect, it } from 'vitest';
import { buildSummary } from '../src/summaries/module.js';
import { agentView } from './people-helpers.js';

// docs/agent-media.md "Duty cycle": the room summary says which sources rest on the duty cycle.
describe('room summary: watch mode from the agent telemetry', () => {
  const telemetry = {
    v: 1 as const,
    session: 1,
    ts: Date.now(),
    cpuLoad: 0.1,
    memUsedBytes: 1,
    memTotalBytes: 2,
    diskFreeBytes: 1,
    diskTotalBytes: 2,
    temperatureC: null,
    uptimeS: 1,
    clockOffsetMs: null,
    outboxPending: 0,
  };

  it('copies each source mode, and leaves the field out without one', () => {
    const withWatch = agentView('a1', 'R1', {
      telemetry: { ...telemetry, watch: [{ id: 'cam', mode: 'duty' }] },
    });
    const s = buildSummary('R1', [withWatch], 0, Date.now())!;
    expect(RoomSummary.safeParse(s).success).toBe(true);
    expect(s.sources.map((x) => [x.id, x.watch])).toEqual([
      ['cam', 'duty'],
      ['mic', undefined],
    ]);
    expect('watch' in s.sources[1]!).toBe(false);
    const plain = buildSummary('R1', [agentView('a1', 'R1', { telemetry })], 0, Date.now())!;
    expect(plain.sources.every((x) => !('watch' in x))).toBe(true);
  });
});
