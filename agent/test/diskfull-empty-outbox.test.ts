// A disk that fills while the outbox is EMPTY (docs/agent.md "Full disk"), on a real tmpfs: there is
// nothing old to drop, so the reserve's space is what the first record is written into, `disk.low` is
// reported all the same, and a record that really cannot be written is named by an `outbox.dropped`
// (never a silent gap in seqs, DESIGN.md "Delivery is at-least-once, stored exactly once"). End to end,
// every record not reported dropped then reaches a real hub exactly once.
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { mountSmallFs, type SmallFs, unmountAll } from '../../test/helpers/smallfs.js';
import { type NewRecord, Outbox, type StoredRecord } from '../src/outbox.js';
import { openAgentDb } from '../src/store/agent-db.js';
import { DiskReserve } from '../src/store/reserve.js';
import { removeDir, tempDir, testAgent, testConfig } from './helpers/agent.js';
import { freePort, waitFor } from './helpers/broker.js';
import { addAgent, hubRecords, killAll, startHub } from './helpers/procs.js';

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
      motion: 0.5,
    },
    audio: { rmsDb: -30, peakDb: -10, loudnessLufs: -28, silenceRatio: 0.01 },
  };
}

function sourceDown(i: number): NewRecord {
  return {
    kind: 'event',
    source: 'cam',
    ts: 1_700_000_000_000 + i,
    type: 'source.down',
    detail: { reason: `connection refused ${'x'.repeat(900)}`, attempt: i },
  };
}

interface EventView {
  seq: number;
  type?: string;
  detail?: Record<string, number | string | null>;
}

/** Seqs in 1..last that are neither present nor inside an `outbox.dropped` range. */
function unaccounted(last: number, present: Set<number>, events: EventView[]): number[] {
  const drops = events
    .filter((e) => e.type === 'outbox.dropped')
    .map((e) => ({ from: Number(e.detail?.fromSeq), to: Number(e.detail?.toSeq) }));
  const missing: number[] = [];
  for (let s = 1; s <= last; s++) {
    if (present.has(s) || drops.some((d) => s >= d.from && s <= d.to)) continue;
    missing.push(s);
  }
  return missing;
}

async function openOutbox(dir: string, reserveBytes: number, clock: { now(): number }) {
  const db = await openAgentDb(dir);
  let closed = false;
  closers.push(async () => {
    if (!closed) await db.close();
  });
  const reserve = new DiskReserve(join(dir, 'outbox.reserve'), reserveBytes);
  const outbox = new Outbox({
    db,
    log: pino({ level: process.env.AGENT_TEST_LOG ?? 'silent' }),
    clock,
    limits: { maxRecords: 10_000_000, maxBytes: 1024 ** 3 },
    reserve,
  });
  const committed: StoredRecord[] = [];
  outbox.onCommitted((rs) => committed.push(...rs));
  await outbox.start();
  const close = async () => {
    await outbox.stop();
    await db.close();
    closed = true;
  };
  const events = () =>
    committed.filter((r) => r.kind === 'event').map((r) => JSON.parse(r.json) as EventView);
  const present = async () =>
    new Set((await db.all<{ seq: number }>('SELECT seq FROM outbox')).map((r) => r.seq));
  return { db, outbox, reserve, committed, events, present, close };
}

describe('the outbox when the disk fills while it is empty', () => {
  it('writes the first record into the released reserve and reports disk.low', async () => {
    const fs = mountSmallFs(16, 'agent-diskfull-empty-');
    mounts.push(fs);
    const now = 1_800_000_000_000;
    const o = await openOutbox(fs.dir, 4 * 1024 * 1024, { now: () => now });
    expect(o.reserve.held()).toBe(true);
    expect(o.outbox.depth().records).toBe(0);
    // An empty WAL, so the first write needs a new block and must meet the full disk.
    await o.db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    fs.fill(0);
    // The very first record on the full disk, with nothing old to drop, is stored.
    const first = await o.outbox.append(capture(1));
    // disk.low is committed first (seq 1), in the released reserve's space, then the window (seq 2).
    expect(first.seq).toBe(2);
    expect(o.outbox.depth()).toEqual({ records: 2, bytes: expect.any(Number), droppedTotal: 0 });
    expect([...(await o.present())].sort((x, y) => x - y)).toEqual([1, 2]);
    expect(o.outbox.diskIsFull()).toBe(true);
    expect(o.reserve.held()).toBe(false);
    const lows = o.events().filter((e) => e.type === 'disk.low');
    expect(lows).toHaveLength(1);
    expect(lows[0]?.seq).toBe(1);
    expect(lows[0]?.detail?.reason).toBe('disk_full');
    // More records go on being taken: the oldest windows now make room for them.
    let failed = 0;
    for (let i = 2; i <= 300; i++) await o.outbox.append(capture(i)).catch(() => failed++);
    expect(failed).toBe(0);
    const present = await o.present();
    expect(unaccounted(o.outbox.lastSeq(), present, o.events())).toEqual([]);
    expect(o.events().filter((e) => e.type === 'disk.low')).toHaveLength(1);
    await o.close();
  }, 120_000);

  it('names a record it cannot write in an outbox.dropped, never a silent seq gap', async () => {
    const fs = mountSmallFs(16, 'agent-diskfull-noreserve-');
    mounts.push(fs);
    let now = 1_800_000_000_000;
    // No reserve at all: on a disk with no byte free the record cannot be written.
    const o = await openOutbox(fs.dir, 0, { now: () => now });
    await o.outbox.append(capture(0)); // seq 1, before the disk fills
    fs.fill(0);
    // Events are never dropped, so on a disk with no byte free they must soon fail to be written.
    const lost: number[] = [];
    for (let i = 1; i <= 3000 && lost.length < 3; i++) {
      await o.outbox.append(sourceDown(i)).catch(() => lost.push(i));
    }
    expect(lost.length).toBe(3);
    expect(o.outbox.diskIsFull()).toBe(true);
    // Space returns: the next commit writes the drop event for what was lost, and disk.low.
    fs.release();
    now += 10_000;
    const after = await o.outbox.append(capture(100));
    const events = o.events();
    const drops = events.filter((e) => e.type === 'outbox.dropped');
    expect(drops.length).toBeGreaterThan(0);
    const droppedCount = drops.reduce((n, d) => n + Number(d.detail?.count), 0);
    expect(droppedCount).toBe(lost.length);
    expect(o.outbox.depth().droppedTotal).toBe(lost.length);
    expect(events.filter((e) => e.type === 'disk.low')).toHaveLength(1);
    const present = await o.present();
    expect(present.has(after.seq)).toBe(true);
    expect(unaccounted(o.outbox.lastSeq(), present, events)).toEqual([]);
    // The drop event is durable: it survives a restart, and seqs go on from it.
    await o.close();
    const again = await openOutbox(fs.dir, 0, { now: () => now });
    const kept = await again.db.all<{ json: string }>(
      "SELECT json FROM outbox WHERE kind = 'event' ORDER BY seq",
    );
    expect(kept.map((r) => (JSON.parse(r.json) as EventView).type)).toContain('outbox.dropped');
    expect(again.outbox.lastSeq()).toBe(after.seq);
    expect(again.outbox.depth().droppedTotal).toBe(lost.length);
    await again.close();
  }, 120_000);
});

describe('an agent whose disk fills while its outbox is empty, end to end', () => {
  it('reports disk.low, keeps running, and delivers every record not dropped to a real hub once', async () => {
    const fs = mountSmallFs(16, 'agent-diskfull-empty-e2e-');
    mounts.push(fs);
    const hubDir = tempDir('diskfull-empty-hub-');
    const password = await addAgent(hubDir, 'box-1', 'A101');
    const mqttPort = await freePort();
    // The hub is not up yet, so nothing is acked; the outbox starts empty.
    const cfg = testConfig(join(fs.dir, 'data'), `mqtt://127.0.0.1:${mqttPort}`, {
      outbox: { reserveBytes: 4 * 1024 * 1024 },
    });
    cfg.broker.password = password;
    const a = testAgent(cfg);
    await a.app.start();
    try {
      expect(a.app.status().outbox.records).toBe(0);
      fs.fill(0);
      const cam = a.monitors.get('cam')!;
      // One window at a time until the disk is found full: then an event (disk.low) gets a seq too.
      let windows = 0;
      while (a.app.status().outbox.lastSeq <= windows && windows < 2000) {
        cam.emitWindows(1);
        windows += 1;
        await waitFor(
          () => a.app.status().outbox.lastSeq >= windows || a.app.status().recordsNotStored > 0,
          'a window on the full disk',
          60_000,
        );
      }
      // The window that met the full disk is stored, in the released reserve's space; nothing was lost.
      expect(a.app.status().outbox.lastSeq).toBeGreaterThan(windows);
      expect(a.app.status().outbox.records).toBe(a.app.status().outbox.lastSeq);
      expect(a.app.status().recordsNotStored).toBe(0);
      cam.emitWindows(200);
      await waitFor(
        () => a.app.status().outbox.lastSeq >= windows + 200,
        'more records on the full disk',
        60_000,
      );
      expect(a.app.status().connected).toBe(false);
      fs.release();
      const hub = await startHub(hubDir, mqttPort);
      await waitFor(() => a.app.status().outbox.records === 0, 'everything acked by the hub', 60_000);
      const { lastSeq, droppedTotal } = a.app.status().outbox;
      const recs = (await hubRecords(hub, 'box-1')) as unknown as Array<{ record: EventView }>;
      const seqs = recs.map((r) => r.record.seq);
      expect(new Set(seqs).size).toBe(seqs.length); // stored exactly once
      const events = recs.map((r) => r.record);
      expect(events.some((e) => e.type === 'disk.low' && e.detail?.reason === 'disk_full')).toBe(true);
      const named = events
        .filter((e) => e.type === 'outbox.dropped')
        .reduce((n, d) => n + Number(d.detail?.count), 0);
      expect(named).toBe(droppedTotal);
      expect(unaccounted(lastSeq, new Set(seqs), events)).toEqual([]);
      expect(a.app.status().recordsNotStored).toBe(0);
      // The agent kept running through it and is connected to the hub now.
      expect(a.app.status().connected).toBe(true);
    } finally {
      await a.app.stop();
      removeDir(hubDir);
    }
  }, 180_000);
});
