import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { RestController } from '../src/media/rest.js';
import { Sources } from '../src/sources.js';
import { freeUdpPort, killAllGenerators, recorder, startGenerator, tools, waitFor } from './media-support.js';

afterAll(() => killAllGenerators());

// docs/agent-media.md "Duty cycle", with the cycle compressed to 24 s (12 s on): a camera that dies
// while the room rests is reported by the next on-slot, within one cycle and before the next class.
describe('duty cycle over real ffmpeg: a camera that dies off-hours', () => {
  it('reports source.down once, within one cycle of dying and before the next class', async () => {
    const port = await freeUdpPort();
    const rec = recorder({ sourceStaleS: 3 }, 5);
    const statuses: string[] = [];
    const sources = new Sources({
      log: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
      clock: { now: () => Date.now() },
      sources: [{ id: 'cam-rest', kind: 'camera', input: `udp://127.0.0.1:${port}` }],
      ffmpeg: tools,
      settings: rec.ctx.settings,
      onRecord: rec.ctx.onRecord,
      onRunning: () => statuses.push('running'),
    });
    await sources.init();
    const t0 = Date.now();
    const classStart = t0 + 120_000;
    const rest = { onS: 12, everyS: 24, precheckS: 10 };
    const steps: string[] = [];
    const offAt: number[] = [];
    const rc = new RestController({
      log: pino({ level: 'silent' }),
      clock: {
        now: () => Date.now(),
        setTimeout: (fn, ms) => setTimeout(fn, ms),
        clearTimeout: (t) => clearTimeout(t as NodeJS.Timeout),
      },
      settings: () => ({ rest, timetable: [[classStart, classStart + 45 * 60_000]] }),
      target: {
        resume: async () => {
          steps.push('on');
          await sources.start();
        },
        pause: async () => {
          steps.push('off');
          offAt.push(Date.now());
          await sources.stop();
        },
      },
    });
    // The camera runs for 30 s, then dies (killed below).
    const gen = startGenerator({ port, duration: 600, audio: false });
    // As the agent does: sources start with the box, the controller rests them at once off-hours.
    await sources.start();
    rc.start();
    try {
      await waitFor(() => statuses.includes('running'), 40_000, 'the camera seen up in an on-slot');
      expect(rc.mode()).toBe('duty');
      await waitFor(() => Date.now() - t0 > 30_000, 35_000, 'the camera to have run 30 s');
      gen.kill('SIGKILL');
      const died = Date.now();
      const nBefore = rec.events.length;
      const afterDeath = () => rec.events.slice(nBefore);
      await waitFor(() => afterDeath().some((e) => e.type === 'source.down'), 60_000, 'source.down');
      const down = afterDeath().find((e) => e.type === 'source.down')!;
      // The death is reported once and nothing else follows it.
      expect(afterDeath().map((e) => e.type)).toEqual(['source.down']);
      // Planned rests are not outages: no down within the seconds after a pause. (A generator
      // starved for sourceStaleS by a loaded machine is a real, if brief, outage: it comes as a
      // down followed by an up, at no particular point of the cycle.)
      const early = rec.events.slice(0, nBefore);
      for (const e of early.filter((x) => x.type === 'source.down'))
        for (const off of offAt) expect(Math.abs(e.ts - off)).toBeGreaterThan(3_000);
      for (let i = 0; i < early.length; i++)
        expect(early[i]!.type).toBe(i % 2 === 0 ? 'source.down' : 'source.up');
      // Within one cycle: up to 24 s to the next slot, then within its 12 s (no output for
      // sourceStaleS + the 2 s analyze time), and a margin for load.
      expect(down.ts - died).toBeLessThan(24_000 + 12_000 + 4_000);
      expect(down.ts).toBeLessThan(classStart - rest.precheckS * 1000);
      expect(steps).toContain('off');
      expect(steps.filter((s) => s === 'on').length).toBeGreaterThanOrEqual(2);
      // The next slots do not report it again.
      const n = steps.length;
      await waitFor(() => steps.length >= n + 2, 40_000, 'another duty slot');
      expect(afterDeath().filter((e) => e.type === 'source.down')).toHaveLength(1);
    } finally {
      await rc.stop();
      await sources.stop();
    }
  }, 150_000);
});
