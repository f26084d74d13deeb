// A full disk under the box (docs/agent.md "Full disk"), on a real 8 MiB tmpfs: the outbox gives back its
// reserve and drops the oldest capture windows in a transaction of its own, reports `outbox.dropped` and
// `disk.low`, keeps taking records, never crashes, and restores its reserve once space returns. End to
// end, the same agent then delivers everything to a real hub by itself: every seq is stored once or
// named by a drop event.
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { mountSmallFs, type SmallFs, unmountAll } from '../../test/helpers/smallfs.js';
import { type NewRecord, Outbox, type StoredRecord } from '../src/outbox.js';
import { openAgentDb } from '../src/store/agent-db.js';
import { DiskReserve } from '../src/store/reserve.js';
import { removeDir, tempDir, testAgent, testConfig } from './helpers/agent.js';
import { freePort, waitFor } from './helpers/broker.js';
import { addAgent, type Hub, hubRecords, killAll, startHub } from './helpers/procs.js';

const mounts: SmallFs[] = [];
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
  killAll();
  for (const c of closers) await c().catch(() => undefined);
  for (const m of mounts) m.unmount();
  unmountAll();
});

function capture(i: number): NewRecord {
  return {
    kind: 'capture',
    source: 'cam',
    start: 1_700_000_000_000 + i * 10_000,
    end: 1_700_000_000_000 + i * 10_000 + 10_000,
    video: {
      fps: 25,
      width: 1280,
      height: 720,
      keyframes: 5,
      bitrateKbps: 2500,
      blackRatio: 0,
      frozenRatio: 0,
      motion: 0.123456789,
    },
    audio: { rmsDb: -30.123456, peakDb: -10.123456, loudnessLufs: -28.123456, silenceRatio: 0.01 },
  };
}

/** Every seq 1..last is either still in the outbox or inside the range of an outbox.dropped event. */
function accountedFor(last: number, present: Set<number>, drops: Array<{ fromSeq: number; toSeq: number }>) {
  const missing: number[] = [];
  for (let s = 1; s <= last; s++) {
    if (present.has(s)) continue;
    if (drops.some((d) => s >= d.fromSeq && s <= d.toSeq)) continue;
    missing.push(s);
  }
  return missing;
}

describe('the outbox on a full disk', () => {
  it('drops the oldest windows in its own transaction, reports it, keeps appending, and recovers', async () => {
    const fs = mountSmallFs(16, 'agent-diskfull-');
    mounts.push(fs);
    const db = await openAgentDb(fs.dir);
    let closed = false;
    closers.push(async () => {
      if (!closed) await db.close();
    });
    let now = 1_800_000_000_000;
    const reserve = new DiskReserve(join(fs.dir, 'outbox.reserve'), 6 * 1024 * 1024);
    const outbox = new Outbox({
      db,
      log: pino({ level: process.env.AGENT_TEST_LOG ?? 'silent' }),
      clock: { now: () => now },
      limits: { maxRecords: 10_000_000, maxBytes: 1024 ** 3 }, // only the disk bounds it here
      reserve,
    });
    const committed: StoredRecord[] = [];
    outbox.onCommitted((rs) => committed.push(...rs));
    await outbox.start();
    expect(reserve.held()).toBe(true);
    let i = 0;
    let failed = 0;
    const append = async (n: number) => {
      const all = [];
      for (let k = 0; k < n; k++) all.push(outbox.append(capture(++i)).catch(() => failed++));
      await Promise.all(all);
    };
    // A box that has been offline for a while: a few thousand windows wait, then the disk fills up.
    await append(4000);
    expect(failed).toBe(0);
    fs.fill(0);
    // Until the disk is found full and windows are dropped for room.
    await waitFor(
      async () => {
        await append(200);
        return committed.some((r) => r.json.includes('"outbox.dropped"'));
      },
      'a drop for room on the full disk',
      60_000,
    );
    expect(outbox.diskIsFull()).toBe(true);
    expect(reserve.held()).toBe(false);
    // It keeps taking records on the full disk: each later drop makes room for the next batches.
    const failedBefore = failed;
    await append(3000);
    expect(failed - failedBefore).toBe(0);
    const events = committed
      .filter((r) => r.kind === 'event')
      .map(
        (r) => JSON.parse(r.json) as { seq: number; type: string; detail: Record<string, number | string> },
      );
    const drops = events.filter((e) => e.type === 'outbox.dropped');
    expect(drops.length).toBeGreaterThan(0);
    expect(drops.every((d) => d.detail.reason === 'disk_full')).toBe(true);
    expect(events.filter((e) => e.type === 'disk.low')).toHaveLength(1);
    const present = new Set((await db.all<{ seq: number }>('SELECT seq FROM outbox')).map((r) => r.seq));
    const ranges = drops.map((d) => ({ fromSeq: Number(d.detail.fromSeq), toSeq: Number(d.detail.toSeq) }));
    expect(accountedFor(outbox.lastSeq(), present, ranges)).toEqual([]);
    // The events themselves are never dropped.
    for (const e of events) expect(present.has(e.seq)).toBe(true);
    expect(outbox.depth().records).toBe(present.size);

    // Space returns: the next commits after the retry interval write the reserve again.
    fs.release();
    now += 10_000;
    await append(10);
    expect(reserve.held()).toBe(true);
    expect(outbox.diskIsFull()).toBe(false);
    await outbox.stop();
    expect((await db.all<{ integrity_check: string }>('PRAGMA integrity_check'))[0]?.integrity_check).toBe(
      'ok',
    );
    await db.close();
    closed = true;
  }, 120_000);
});

describe('an agent on a full disk, end to end', () => {
  it('reports disk.low and outbox.dropped, and delivers everything by itself once space returns', async () => {
    const fs = mountSmallFs(16, 'agent-diskfull-e2e-');
    mounts.push(fs);
    const hubDir = tempDir('diskfull-hub-');
    let hub: Hub | null = null;
    const password = await addAgent(hubDir, 'box-1', 'A101');
    const mqttPort = await freePort();
    // The hub is not up yet: the agent keeps everything in its outbox on the small disk.
    const cfg = testConfig(join(fs.dir, 'data'), `mqtt://127.0.0.1:${mqttPort}`, {
      outbox: { reserveBytes: 6 * 1024 * 1024 },
    });
    cfg.broker.password = password;
    const a = testAgent(cfg);
    await a.app.start();
    try {
      const cam = a.monitors.get('cam')!;
      cam.emitWindows(4000);
      await waitFor(() => a.app.status().outbox.records >= 4000, 'windows waiting in the outbox', 60_000);
      fs.fill(0);
      await waitFor(
        async () => {
          cam.emitWindows(300);
          await new Promise((r) => setTimeout(r, 50));
          return a.app.status().outbox.droppedTotal > 0;
        },
        'windows dropped on the full disk',
        60_000,
      );
      cam.emitWindows(500); // still taken on the full disk
      await waitFor(() => a.app.status().outbox.lastSeq >= 0 && !a.app.status().connected, 'still offline');
      fs.release();
      hub = await startHub(hubDir, mqttPort);
      await waitFor(() => a.app.status().outbox.records === 0, 'everything acked by the hub', 60_000);
      const { lastSeq, droppedTotal } = a.app.status().outbox;
      const recs = await hubRecords(hub, 'box-1');
      const seqs = recs.map((r) => r.record.seq);
      expect(new Set(seqs).size).toBe(seqs.length); // stored exactly once
      const views = recs as unknown as Array<{
        record: { seq: number; type?: string; detail?: Record<string, number> };
      }>;
      const drops = views.filter((r) => r.record.type === 'outbox.dropped');
      expect(drops.length).toBeGreaterThan(0);
      expect(views.some((r) => r.record.type === 'disk.low')).toBe(true);
      const ranges = drops.map((d) => ({
        fromSeq: d.record.detail!.fromSeq!,
        toSeq: d.record.detail!.toSeq!,
      }));
      const dropped = ranges.reduce((n, r) => n + (r.toSeq - r.fromSeq + 1), 0);
      expect(dropped).toBe(droppedTotal);
      expect(accountedFor(lastSeq, new Set(seqs), ranges)).toEqual([]);
      expect(a.app.status().recordsNotStored).toBe(0);
    } finally {
      await a.app.stop();
      removeDir(hubDir);
    }
  }, 180_000);
});
