import { RecordsBatch } from '@classroom/protocol';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Outbox, StoredRecord } from '../src/outbox.js';
import { Sender } from '../src/session/sender.js';

/** An in-memory stand-in for the outbox (unit test of the sender only). */
class MemOutbox {
  rows: StoredRecord[] = [];
  listeners: Array<(r: StoredRecord[]) => void> = [];
  add(n: number): StoredRecord[] {
    const out: StoredRecord[] = [];
    for (let i = 0; i < n; i++) {
      const seq = (this.rows.at(-1)?.seq ?? this.acked) + 1;
      const r: StoredRecord = {
        seq,
        kind: 'event',
        json: JSON.stringify({ seq, kind: 'event', source: null, ts: seq, type: 'disk.low', detail: {} }),
      };
      this.rows.push(r);
      out.push(r);
    }
    for (const l of this.listeners) l(out);
    return out;
  }
  acked = 0;
  lastSeq(): number {
    return this.rows.at(-1)?.seq ?? this.acked;
  }
  onCommitted(fn: (r: StoredRecord[]) => void): () => void {
    this.listeners.push(fn);
    return () => undefined;
  }
  async read(after: number, upTo: number, limit: number): Promise<StoredRecord[]> {
    return this.rows.filter((r) => r.seq > after && r.seq <= upTo).slice(0, limit);
  }
  async ack(ranges: ReadonlyArray<readonly [number, number]>): Promise<number> {
    const before = this.rows.length;
    this.rows = this.rows.filter((r) => !ranges.some(([a, b]) => r.seq >= a && r.seq <= b));
    return before - this.rows.length;
  }
}

interface Sent {
  historical: boolean;
  seqs: number[];
}

describe('sender (fake timers, in-memory outbox)', () => {
  let outbox: MemOutbox;
  let sent: Sent[];
  let sender: Sender;

  beforeEach(() => {
    vi.useFakeTimers();
    outbox = new MemOutbox();
    sent = [];
    sender = new Sender({
      outbox: outbox as unknown as Outbox,
      log: pino({ level: 'silent' }),
      clock: { now: () => Date.now() },
      options: { window: 2, batchRecords: 10, ackTimeoutMs: 5000 },
      publish: async (payload) => {
        const parsed = RecordsBatch.parse(JSON.parse(payload));
        sent.push({ historical: parsed.historical === true, seqs: parsed.records.map((r) => r.seq) });
      },
    });
    sender.start();
  });

  afterEach(() => {
    sender.stop();
    vi.useRealTimers();
  });

  const flush = () => vi.advanceTimersByTimeAsync(0);

  it('replays the backlog in windowed, historical batches and moves on only with acks', async () => {
    outbox.add(45);
    sender.onConnected(1);
    await flush();
    expect(sent.map((s) => s.seqs[0])).toEqual([1, 11]); // window of 2 batches
    expect(sent.every((s) => s.historical && s.seqs.length === 10)).toBe(true);
    await sender.ack([[1, 10]]);
    await flush();
    expect(sent.map((s) => s.seqs[0])).toEqual([1, 11, 21]);
    await sender.ack([[11, 30]]);
    await flush();
    expect(sent.map((s) => s.seqs[0])).toEqual([1, 11, 21, 31, 41]);
    expect(sent.at(-1)!.seqs).toEqual([41, 42, 43, 44, 45]);
  });

  it('sends live records at once, unflagged, even with the backlog window full', async () => {
    outbox.add(100);
    sender.onConnected(1);
    await flush();
    expect(sent).toHaveLength(2);
    outbox.add(3);
    await flush();
    expect(sent).toHaveLength(3);
    expect(sent[2]).toEqual({ historical: false, seqs: [101, 102, 103] });
  });

  it('counts a batch acked piecewise, and resends one whose ack never came', async () => {
    outbox.add(20);
    sender.onConnected(1);
    await flush();
    await sender.ack([[1, 5]]);
    await sender.ack([[6, 10]]);
    await flush();
    expect(sent).toHaveLength(2); // batch 1 fully acked in two pieces; nothing left to read
    expect(sender.stats().inflight).toBe(1);
    await vi.advanceTimersByTimeAsync(6000);
    expect(sent).toHaveLength(3);
    expect(sent[2]!.seqs[0]).toBe(11); // the unacked batch again
  });

  it('sends nothing while disconnected and replays everything on the next connect', async () => {
    outbox.add(5);
    await flush();
    expect(sent).toHaveLength(0);
    sender.onConnected(1);
    await flush();
    sender.onDisconnected();
    outbox.add(5);
    await flush();
    expect(sent).toHaveLength(1);
    sender.onConnected(2);
    await flush();
    expect(sent[1]).toEqual({ historical: true, seqs: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] });
  });
});
