import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type NewRecord, Outbox, type OutboxLimits, type StoredRecord } from '../src/outbox.js';
import { type Durability, openAgentDb } from '../src/store/agent-db.js';
import type { Db } from '../src/store/db.js';

const log = pino({ level: 'silent' });

function capture(i: number): NewRecord {
  return {
    kind: 'capture',
    source: 'cam',
    start: i * 1000,
    end: i * 1000 + 1000,
    video: {
      fps: 10,
      width: 1,
      height: 1,
      keyframes: 1,
      bitrateKbps: 1,
      blackRatio: 0,
      frozenRatio: 0,
      motion: 0,
    },
  };
}
function event(i: number): NewRecord {
  return { kind: 'event', source: 'cam', ts: i, type: 'source.down', detail: { i } };
}

interface Built {
  outbox: Outbox;
  reopen(): Promise<Outbox>;
}

/**
 * The outbox contract (house style: one suite per interface, run against each build). Both
 * durability modes must keep every promise: contiguous seqs, never reused, deleted only by acks.
 */
function outboxContract(name: string, durability: Durability): void {
  describe(`outbox contract: ${name}`, () => {
    const dirs: string[] = [];
    const dbs: Db[] = [];
    afterEach(async () => {
      for (const d of dbs.splice(0)) await d.close().catch(() => undefined);
      for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    });

    async function build(
      limits: OutboxLimits = { maxRecords: 1_000_000, maxBytes: 1024 ** 3 },
    ): Promise<Built> {
      const dir = mkdtempSync(join(tmpdir(), 'outbox-'));
      dirs.push(dir);
      const open = async (): Promise<Outbox> => {
        const db = await openAgentDb(dir, durability);
        dbs.push(db);
        const o = new Outbox({ db, log, clock: { now: () => 42 }, limits });
        await o.start();
        return o;
      };
      const outbox = await open();
      return {
        outbox,
        reopen: async () => {
          await outbox.stop();
          for (const d of dbs.splice(0)) await d.close();
          return open();
        },
      };
    }

    it('assigns contiguous seqs from 1, group-committing concurrent appends', async () => {
      const { outbox } = await build();
      const stored = await Promise.all(Array.from({ length: 250 }, (_, i) => outbox.append(capture(i))));
      expect(stored.map((s) => s.seq)).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
      expect(JSON.parse(stored[9]!.json)).toMatchObject({ seq: 10, kind: 'capture', start: 9000 });
      expect(outbox.depth().records).toBe(250);
    });

    it('tells listeners about each commit in seq order', async () => {
      const { outbox } = await build();
      const seen: number[] = [];
      outbox.onCommitted((rs: StoredRecord[]) => seen.push(...rs.map((r) => r.seq)));
      await Promise.all([outbox.append(capture(1)), outbox.append(event(2)), outbox.append(capture(3))]);
      expect(seen).toEqual([1, 2, 3]);
    });

    it('commits the records appended in one turn of the event loop in one transaction', async () => {
      const { outbox } = await build();
      const commits: number[][] = [];
      outbox.onCommitted((rs: StoredRecord[]) => commits.push(rs.map((r) => r.seq)));
      // As the window timers of four sources do when they fire on the same boundary.
      const appended = [1, 2, 3, 4].map((i) => outbox.append(capture(i)));
      await Promise.all(appended);
      expect(commits).toEqual([[1, 2, 3, 4]]);
    });

    it('keeps records and the seq counter across a reopen; seqs are never reused after acks', async () => {
      const b = await build();
      for (let i = 0; i < 5; i++) await b.outbox.append(capture(i));
      expect(await b.outbox.ack([[1, 5]])).toBe(5);
      expect(b.outbox.depth().records).toBe(0);
      const again = await b.reopen();
      expect(again.lastSeq()).toBe(5);
      expect((await again.append(capture(9))).seq).toBe(6);
    });

    it('reads in seq order within a count, a byte budget and an upper bound', async () => {
      const { outbox } = await build();
      for (let i = 0; i < 20; i++) await outbox.append(capture(i));
      expect((await outbox.read(0, 20, 5, 1e9)).map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
      expect((await outbox.read(15, 18, 100, 1e9)).map((r) => r.seq)).toEqual([16, 17, 18]);
      const three = (await outbox.read(0, 20, 3, 1e9)).reduce((n, r) => n + r.json.length + 1, 0);
      expect((await outbox.read(0, 20, 100, three)).length).toBe(3);
    });

    it('deletes only what acks cover, tolerating repeated and unknown ranges', async () => {
      const { outbox } = await build();
      for (let i = 0; i < 10; i++) await outbox.append(capture(i));
      expect(
        await outbox.ack([
          [2, 3],
          [7, 7],
        ]),
      ).toBe(3);
      expect(
        await outbox.ack([
          [2, 3],
          [100, 200],
        ]),
      ).toBe(0);
      expect((await outbox.read(0, 100, 100, 1e9)).map((r) => r.seq)).toEqual([1, 4, 5, 6, 8, 9, 10]);
      expect(outbox.depth().records).toBe(7);
    });

    it('coalesces concurrent acks and reports the count of each', async () => {
      const b = await build();
      for (let i = 0; i < 10; i++) await b.outbox.append(capture(i));
      const counts = await Promise.all([
        b.outbox.ack([[1, 2]]),
        b.outbox.ack([[3, 5]]),
        b.outbox.ack([[1, 5]]),
      ]);
      expect(counts).toEqual([2, 3, 0]);
      expect(b.outbox.depth().records).toBe(5);
      const again = await b.reopen();
      expect(again.depth().records).toBe(5);
    });

    it('refuses a record the hub would reject, without using a seq', async () => {
      const { outbox } = await build();
      await expect(outbox.append({ ...capture(1), source: 'bad/id' } as NewRecord)).rejects.toThrow(/source/);
      expect((await outbox.append(capture(2))).seq).toBe(1);
    });

    it('at its bound drops the oldest capture windows, keeps events, and reports the drop as an event', async () => {
      const { outbox } = await build({ maxRecords: 100, maxBytes: 1024 ** 3 });
      const committed: StoredRecord[] = [];
      outbox.onCommitted((rs) => committed.push(...rs));
      await outbox.append(event(0)); // seq 1: an event older than every capture
      for (let i = 1; i <= 100; i++) await outbox.append(capture(i)); // seqs 2..101: one over the bound
      const drop = committed.find((r) => r.json.includes('outbox.dropped'));
      expect(drop).toBeDefined();
      const detail = (JSON.parse(drop!.json) as { detail: { count: number; fromSeq: number; toSeq: number } })
        .detail;
      expect(detail.fromSeq).toBe(2);
      expect(detail.toSeq).toBe(detail.fromSeq + detail.count - 1);
      expect(detail.count).toBeGreaterThanOrEqual(2);
      const left = (await outbox.read(0, 1e9, 1000, 1e12)).map((r) => r.seq);
      expect(left[0]).toBe(1); // the old event survived
      expect(left).not.toContain(2);
      expect(left).toContain(drop!.seq);
      expect(outbox.depth().records).toBe(left.length);
      expect(outbox.depth().records).toBeLessThanOrEqual(100);
      expect(outbox.depth().droppedTotal).toBe(detail.count);
    });

    it('keeps events beyond the bound when nothing else is left to drop', async () => {
      const { outbox } = await build({ maxRecords: 100, maxBytes: 1024 ** 3 });
      for (let i = 0; i < 110; i++) await outbox.append(event(i));
      expect(outbox.depth().records).toBe(110);
      expect(outbox.depth().droppedTotal).toBe(0);
    });
  });
}

outboxContract('sqlite, synchronous=FULL', 'full');
outboxContract('sqlite, synchronous=NORMAL', 'normal');

describe('outbox: oversized records', () => {
  it('refuses an oversized record without failing the others committed with it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outbox-'));
    const db = await openAgentDb(dir, 'normal');
    try {
      const o = new Outbox({
        db,
        log,
        clock: { now: () => 1 },
        limits: { maxRecords: 1000, maxBytes: 1024 ** 3 },
      });
      await o.start();
      // Schema-valid (unknown keys are not part of the check) but too large for any payload.
      const tooBig = {
        kind: 'capture',
        source: 'cam',
        start: 0,
        end: 1,
        video: {
          fps: 1,
          width: 1,
          height: 1,
          keyframes: 1,
          bitrateKbps: 1,
          blackRatio: 0,
          frozenRatio: 0,
          motion: 0,
        },
        pad: 'x'.repeat(600 * 1024),
      } as unknown as NewRecord;
      const mixed = await Promise.allSettled([o.append(event(3)), o.append(tooBig), o.append(event(4))]);
      expect(mixed.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(o.lastSeq()).toBe(2);
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
