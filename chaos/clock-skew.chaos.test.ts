// Clock skew of ±1 h on two boxes among many: their records keep seq order, `clock.skew` is reported
// (event and telemetry clockOffsetMs, DESIGN.md), and the hub files them under the box's own times,
// unchanged, with its own receivedAt beside them (RELIABILITY.md, "Clock skew").
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningHub, startHub } from '../hub/src/app.js';
import { apiFor, TOKEN, tempDir } from '../hub/test/core-helpers.js';
import { describeLoad, drain, log, progress, startFleet } from './lib/fleet.js';
import { type StoredRecordView, storedRecords, tally } from './lib/ledger.mjs';
import { chaosCase } from './lib/report.js';
import { waitFor } from './lib/wait.js';

const t = tempDir('chaos-skew-');
let hub: RunningHub | null = null;
afterAll(async () => {
  await hub?.stop();
  t.remove();
});

const ROOMS = 30;
const HOUR = 3_600_000;
const SKEWS: Record<string, number> = { 'skew-00001': HOUR, 'skew-00002': -HOUR };
/** How far receivedAt may trail a record's own (corrected) time on a loaded machine. */
const LATENCY_BOUND_MS = 60_000;

const timeOf = (r: StoredRecordView): number =>
  r.record.kind === 'capture' ? r.record.start! : r.record.ts!;

describe('chaos: clock skew', () => {
  it('keeps seq order, reports clock.skew and files records under the box time', async () => {
    await chaosCase(
      {
        id: 'clock-skew',
        order: 5,
        title: 'Clock skew ±1 h on a box',
        load: describeLoad(ROOMS, '; SQLite store'),
      },
      async ({ faults, notes }) => {
        hub = await startHub({
          dataDir: t.dir,
          httpPort: 0,
          mqttPort: 0,
          adminToken: TOKEN,
          log: log.child({ module: 'hub' }),
        });
        const base = `http://127.0.0.1:${hub.httpPort}`;
        const api = apiFor(hub.httpPort, TOKEN);
        const fleet = await startFleet({
          brokerUrl: `mqtt://127.0.0.1:${hub.mqttPort}`,
          rooms: ROOMS,
          prefix: 'skew',
          api: base,
          adminToken: TOKEN,
          over: { skewByAgent: SKEWS },
        });
        faults.push('skew-00001 runs 1 h fast, skew-00002 1 h slow, from their first record on');
        await progress(fleet, 600, 'load with skewed clocks');
        // Telemetry carries the offset (DESIGN.md: clockOffsetMs), so the dashboard shows it.
        for (const [agent, skew] of Object.entries(SKEWS)) {
          await waitFor(
            async () =>
              (
                await api<{ telemetry: { clockOffsetMs: number | null } | null }>(
                  'GET',
                  `/api/agents/${agent}`,
                )
              ).body.telemetry?.clockOffsetMs === skew,
            `${agent} telemetry with clockOffsetMs ${skew}`,
            30_000,
          );
        }
        const ledgers = await drain(fleet);
        const stored = await storedRecords(base, TOKEN, (a) => a.startsWith('skew-'));
        const result = tally(ledgers, stored);

        for (const agent of ['skew-00001', 'skew-00002', 'skew-00003']) {
          const skew = SKEWS[agent] ?? 0;
          const records = [...(stored.get(agent) ?? [])].sort((a, b) => a.record.seq - b.record.seq);
          expect(records.length).toBeGreaterThan(10);
          // Seq order is time order on the box's own clock within each stream (one source's captures;
          // the box's events): nothing was reordered or re-timed. Across streams a capture's start and
          // an event's ts are different instants of a window, so only streams are compared.
          const lastOf = new Map<string, number>();
          for (const r of records) {
            const stream =
              r.record.kind === 'capture' ? `capture/${(r.record as { source?: string }).source}` : 'event';
            const prev = lastOf.get(stream);
            if (prev !== undefined) expect(timeOf(r)).toBeGreaterThanOrEqual(prev);
            lastOf.set(stream, timeOf(r));
          }
          expect(lastOf.size).toBeGreaterThanOrEqual(2);
          // Filed under the box's time, unchanged: own time minus skew is close to the hub's receivedAt.
          for (const r of records) {
            const lag = r.receivedAt - (timeOf(r) - skew);
            expect(lag).toBeGreaterThan(-LATENCY_BOUND_MS);
            expect(lag).toBeLessThan(LATENCY_BOUND_MS);
          }
          const skewEvents = records.filter((r) => r.record.type === 'clock.skew');
          if (skew === 0) expect(skewEvents).toHaveLength(0);
          else expect(skewEvents.map((r) => r.record.detail?.offsetMs)).toEqual([skew]);
          // A time-range query in the box's time finds its records; one in the hub's time does not.
          const first = Math.min(...records.map(timeOf));
          const last = Math.max(...records.map(timeOf));
          const q = (from: number, to: number) =>
            api<{ records: StoredRecordView[] }>(
              'GET',
              `/api/records?agent=${agent}&from=${from}&to=${to}&limit=1000`,
            );
          expect((await q(first, last + 1)).body.records.length).toBeGreaterThan(0);
          if (skew !== 0) expect((await q(first - skew, last + 1 - skew)).body.records).toHaveLength(0);
        }
        notes.push(
          'seq order = time order per stream for the skewed boxes; clock.skew event with offsetMs ±3600000 stored once each; telemetry clockOffsetMs ±3600000; record times stored as sent (receivedAt − (time − skew) within ±60 s); time-range queries match the box time',
        );
        expect(result).toMatchObject({ lost: 0, duplicated: 0, unexpected: 0, reportedDropped: 0 });
        return result;
      },
    );
  });
});
