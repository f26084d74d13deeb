// Rollup deltas are written as multi-row upserts in slices of FLUSH_ROWS (so a flush never holds the
// write queue for long): every row must land, deltas must add up across flushes, and a failed flush
// must keep what was not written.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FLUSH_ROWS, migrateRollups, RollupAccumulator } from '../src/rollups/accumulator.js';
import { makeCtx, type TestCtx } from './people-helpers.js';

const HOUR = 3_600_000;
// Local midnight: buckets follow the hub's time zone.
const T0 = new Date(2026, 2, 2, 0, 0, 0).getTime();

describe('rollup flush in slices', () => {
  let t: TestCtx;
  beforeEach(async () => {
    t = await makeCtx();
    await migrateRollups(t.db);
  });
  afterEach(async () => t.close());

  const sums = async () =>
    t.db.all<{ n: number; online: number; down: number }>(
      `SELECT COUNT(*) AS n, SUM(online_ms) AS online, SUM(down_ms) AS down FROM rollups WHERE bucket = 'hour'`,
    );

  it('writes more rows than one slice holds, and adds to existing rows on the next flush', async () => {
    const acc = new RollupAccumulator(t.db);
    const rooms = Math.ceil((FLUSH_ROWS * 2.5) / 2); // 2 hour rows + 1 day row per room
    for (let r = 0; r < rooms; r++) acc.addSpan(`R${r}`, 'online_ms', T0 + 30 * 60_000, T0 + 90 * 60_000);
    expect(acc.size).toBeGreaterThan(FLUSH_ROWS * 2);
    await acc.flush();
    expect(acc.size).toBe(0);
    expect(await sums()).toEqual([{ n: rooms * 2, online: rooms * HOUR, down: 0 }]);

    for (let r = 0; r < rooms; r++) acc.addSpan(`R${r}`, 'down_ms', T0, T0 + 10 * 60_000);
    acc.addSpan('R0', 'online_ms', T0, T0 + 1_000);
    await acc.flush();
    expect(await sums()).toEqual([{ n: rooms * 2, online: rooms * HOUR + 1_000, down: rooms * 600_000 }]);
    const day = await t.db.all<{ online_ms: number; down_ms: number }>(
      `SELECT online_ms, down_ms FROM rollups WHERE room = 'R0' AND bucket = 'day'`,
    );
    expect(day).toEqual([{ online_ms: HOUR + 1_000, down_ms: 600_000 }]);
  });

  it('books every field of a capture window across bucket boundaries from one split', async () => {
    const acc = new RollupAccumulator(t.db);
    const start = T0 + HOUR - 4_000; // 4 s in the first hour, 6 s in the next
    acc.addCapture('R1', {
      seq: 1,
      kind: 'capture',
      source: 'cam',
      start,
      end: start + 10_000,
      video: {
        fps: 25,
        width: 640,
        height: 360,
        keyframes: 5,
        bitrateKbps: 900,
        blackRatio: 0,
        frozenRatio: 0,
        motion: 0.1,
      },
      audio: { rmsDb: -30, peakDb: -10, loudnessLufs: -28, silenceRatio: 0.25 },
    } as never);
    acc.addCapture('R1', {
      seq: 2,
      kind: 'capture',
      source: 'cam',
      start: start + 10_000,
      end: start + 20_000,
      video: {
        fps: 25,
        width: 640,
        height: 360,
        keyframes: 5,
        bitrateKbps: 900,
        blackRatio: 0.9,
        frozenRatio: 0,
        motion: 0,
      },
    } as never);
    await acc.flush();
    const rows = await t.db.all(
      `SELECT bucket, start, video_ms, video_ok_ms, capture_ms, audio_ms, audio_active_ms FROM rollups
       WHERE room = 'R1' ORDER BY bucket, start`,
    );
    expect(rows).toEqual([
      {
        bucket: 'day',
        start: T0,
        video_ms: 20_000,
        video_ok_ms: 10_000,
        capture_ms: 20_000,
        audio_ms: 10_000,
        audio_active_ms: 7_500,
      },
      {
        bucket: 'hour',
        start: T0,
        video_ms: 4_000,
        video_ok_ms: 4_000,
        capture_ms: 4_000,
        audio_ms: 4_000,
        audio_active_ms: 3_000,
      },
      {
        bucket: 'hour',
        start: T0 + HOUR,
        video_ms: 16_000,
        video_ok_ms: 6_000,
        capture_ms: 16_000,
        audio_ms: 6_000,
        audio_active_ms: 4_500,
      },
    ]);
  });

  it('keeps the deltas of slices not written when a write fails, and writes them on retry', async () => {
    const db = t.db;
    let calls = 0;
    const flaky = new Proxy(db, {
      get(target, prop, receiver) {
        if (prop === 'run')
          return (sql: string, params?: unknown[]) => {
            calls++;
            if (calls === 2) return Promise.reject(new Error('disk full'));
            return target.run(sql, params);
          };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const acc = new RollupAccumulator(flaky);
    const rooms = FLUSH_ROWS * 2; // 3 rows per room: several slices
    for (let r = 0; r < rooms; r++) acc.addSpan(`R${r}`, 'online_ms', T0, T0 + 2 * HOUR);
    await expect(acc.flush()).rejects.toThrow('disk full');
    expect(acc.size).toBe(rooms * 3 - FLUSH_ROWS);
    await acc.flush();
    expect(await sums()).toEqual([{ n: rooms * 2, online: rooms * 2 * HOUR, down: 0 }]);
  });
});
