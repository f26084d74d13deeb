import type { RecordT } from '@classroom/protocol';

/**
 * The in-memory outbox of one protocol-level agent: records wait here from creation until an ack
 * covers them (DESIGN: "deletes a record only when an ack covers it"). Bounded: when full, the oldest
 * capture windows are dropped and the caller reports an `outbox.dropped` event for the range.
 */
export class MemoryOutbox {
  private records: RecordT[] = [];
  /** Highest seq already published in the current send pass; a resend starts over from 0. */
  sentThrough = 0;

  constructor(private readonly max: number) {}

  get size(): number {
    return this.records.length;
  }

  /** Adds a record; returns the seq range dropped to stay within the bound, if any. */
  push(record: RecordT): { count: number; fromSeq: number; toSeq: number } | null {
    this.records.push(record);
    if (this.records.length <= this.max) return null;
    const excess = this.records.length - this.max;
    const dropped: RecordT[] = [];
    const kept: RecordT[] = [];
    for (const r of this.records) {
      if (dropped.length < excess && r.kind === 'capture') dropped.push(r);
      else kept.push(r);
    }
    this.records = kept;
    if (dropped.length === 0) return null;
    return { count: dropped.length, fromSeq: dropped[0]!.seq, toSeq: dropped[dropped.length - 1]!.seq };
  }

  /** Up to `max` records not yet published in this pass, in seq order. */
  unsent(max: number): RecordT[] {
    const out: RecordT[] = [];
    for (const r of this.records) {
      if (r.seq <= this.sentThrough) continue;
      out.push(r);
      if (out.length >= max) break;
    }
    return out;
  }

  /** Removes every record an ack range covers; returns how many went. */
  ack(ranges: ReadonlyArray<readonly [number, number]>): number {
    const before = this.records.length;
    this.records = this.records.filter((r) => !ranges.some(([a, b]) => r.seq >= a && r.seq <= b));
    return before - this.records.length;
  }

  /** Seq of the oldest record still waiting, or null. */
  oldestSeq(): number | null {
    return this.records[0]?.seq ?? null;
  }

  oldest(): RecordT | undefined {
    return this.records[0];
  }

  rewind(): void {
    this.sentThrough = 0;
  }
}
