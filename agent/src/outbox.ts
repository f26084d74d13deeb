import { LIMITS, RecordSchema, type RecordT } from '@classroom/protocol';
import type { Logger } from 'pino';
import type { CaptureWindow, SourceEvent } from './media/types.js';
import { readMeta, writeMeta } from './store/agent-db.js';
import type { Db } from './store/db.js';

export type NewRecord = CaptureWindow | SourceEvent;

/** A record as stored: its seq and its JSON text (seq included), ready to splice into a batch. */
export interface StoredRecord {
  seq: number;
  kind: RecordT['kind'];
  json: string;
}

export interface OutboxLimits {
  /** Most records kept; beyond it the oldest capture windows are dropped. */
  maxRecords: number;
  /** Most bytes of record JSON kept; same policy. */
  maxBytes: number;
}

export interface OutboxContext {
  db: Db;
  log: Logger;
  clock: { now(): number };
  limits: OutboxLimits;
}

/** Rejected at append: a record the hub would dead-letter must never enter the outbox. */
export class InvalidRecordError extends Error {
  override name = 'InvalidRecordError';
}

interface Pending {
  record: NewRecord;
  resolve: (r: StoredRecord) => void;
  reject: (err: Error) => void;
}

/** Largest record JSON: a batch of one must still fit a payload with its envelope. */
const MAX_RECORD_BYTES = LIMITS.maxPayloadBytes - 1024;

/**
 * The durable outbox (docs/agent.md "Durable outbox"; DESIGN.md "Delivery is at-least-once"). A record is committed with its seq before anyone may publish
 * it, and deleted only when a hub ack covers it. Appends that arrive while a commit runs are
 * group-committed in the next transaction, so a burst costs one fsync, not one per record.
 */
export class Outbox {
  private committedSeq = 0;
  private count = 0;
  private bytes = 0;
  private droppedTotal = 0;
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private ackQueue: Array<{
    ranges: ReadonlyArray<readonly [number, number]>;
    resolve: (n: number) => void;
    reject: (err: Error) => void;
  }> = [];
  private acking: Promise<void> | null = null;
  private readonly listeners = new Set<(records: StoredRecord[]) => void>();
  private readonly log: Logger;

  constructor(private readonly ctx: OutboxContext) {
    this.log = ctx.log.child({ module: 'outbox' });
  }

  async start(): Promise<void> {
    const { db } = this.ctx;
    const last = await readMeta(db, 'lastSeq');
    const row = await db.get<{ c: number; b: number | null; m: number | null }>(
      'SELECT count(*) AS c, sum(bytes) AS b, max(seq) AS m FROM outbox',
    );
    // max(seq) guards against a meta row lost to an older build; seqs only ever go up.
    this.committedSeq = Math.max(last, row?.m ?? 0);
    this.count = row?.c ?? 0;
    this.bytes = row?.b ?? 0;
    this.droppedTotal = await readMeta(db, 'droppedTotal');
    this.log.info({ pending: this.count, bytes: this.bytes, lastSeq: this.committedSeq }, 'outbox opened');
  }

  async stop(): Promise<void> {
    while (this.flushing || this.acking) await (this.flushing ?? this.acking);
  }

  /** Called after every commit with the records it made durable (in seq order), drop events included. */
  onCommitted(fn: (records: StoredRecord[]) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Highest seq committed so far. */
  lastSeq(): number {
    return this.committedSeq;
  }

  depth(): { records: number; bytes: number; droppedTotal: number } {
    return { records: this.count, bytes: this.bytes, droppedTotal: this.droppedTotal };
  }

  /** Validates, assigns the next seq and commits. Resolves once the record is durable. */
  append(record: NewRecord): Promise<StoredRecord> {
    const probe = RecordSchema.safeParse({ ...record, seq: 1 });
    if (!probe.success) {
      const issue = probe.error.issues[0];
      return Promise.reject(
        new InvalidRecordError(
          `invalid ${record.kind} record from source ${String(record.source)}: ${issue?.path.join('.')}: ${issue?.message}`,
        ),
      );
    }
    // Checked here, not in the commit: one oversized record must not fail its whole group.
    const size = Buffer.byteLength(JSON.stringify({ seq: LIMITS.maxSeq, ...record }));
    if (size > MAX_RECORD_BYTES) {
      return Promise.reject(
        new InvalidRecordError(
          `${record.kind} record from source ${String(record.source)} is ${size} bytes; at most ${MAX_RECORD_BYTES}`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      if (!this.flushing) this.flushing = this.flushLoop();
    });
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, 5000);
        try {
          const committed = await this.commit(batch);
          for (const [i, p] of batch.entries()) p.resolve(committed.own[i]!);
          this.emit(committed.all);
        } catch (err) {
          this.log.error({ err }, 'outbox commit failed');
          for (const p of batch) p.reject(err as Error);
        }
      }
    } finally {
      this.flushing = null;
    }
  }

  private emit(records: StoredRecord[]): void {
    for (const fn of this.listeners) {
      try {
        fn(records);
      } catch (err) {
        this.log.error({ err }, 'outbox listener failed');
      }
    }
  }

  private async commit(batch: Pending[]): Promise<{ own: StoredRecord[]; all: StoredRecord[] }> {
    const { db } = this.ctx;
    let seq = this.committedSeq;
    let added = 0;
    let addedBytes = 0;
    const own: StoredRecord[] = [];
    const all: StoredRecord[] = [];
    let dropped = { count: 0, bytes: 0, from: 0, to: 0 };
    await db.transaction(async () => {
      const insert = db.prepare('INSERT INTO outbox (seq, kind, bytes, json) VALUES (?, ?, ?, ?)');
      try {
        const put = async (r: NewRecord): Promise<StoredRecord> => {
          seq += 1;
          const json = JSON.stringify({ seq, ...r });
          const size = Buffer.byteLength(json);
          await insert.run([seq, r.kind, size, json]);
          added += 1;
          addedBytes += size;
          return { seq, kind: r.kind, json };
        };
        for (const p of batch) {
          const stored = await put(p.record);
          own.push(stored);
          all.push(stored);
        }
        // this.count is exact here: acks change it only inside their own (serialised) transaction.
        dropped = await this.enforceBound(this.count + added, this.bytes + addedBytes);
        if (dropped.count > 0) {
          // The drop is itself an event, so the hub learns which seqs will never come (DESIGN: records).
          all.push(
            await put({
              kind: 'event',
              source: null,
              ts: this.ctx.clock.now(),
              type: 'outbox.dropped',
              detail: { count: dropped.count, fromSeq: dropped.from, toSeq: dropped.to },
            }),
          );
          await writeMeta(db, 'droppedTotal', this.droppedTotal + dropped.count);
        }
      } finally {
        await insert.finalize();
      }
      await writeMeta(db, 'lastSeq', seq);
    });
    this.committedSeq = seq;
    this.count += added - dropped.count;
    this.bytes += addedBytes - dropped.bytes;
    if (dropped.count > 0) {
      this.droppedTotal += dropped.count;
      this.log.warn(
        { dropped: dropped.count, fromSeq: dropped.from, toSeq: dropped.to, pending: this.count },
        'outbox full: dropped oldest capture windows',
      );
    }
    return { own, all };
  }

  /**
   * Deletes the oldest capture windows until the outbox is back under its bound, with 1 % slack so
   * a full outbox does not drop on every append. Events are never dropped (docs/agent.md "Durable outbox").
   */
  private async enforceBound(
    count: number,
    bytes: number,
  ): Promise<{ count: number; bytes: number; from: number; to: number }> {
    const { maxRecords, maxBytes } = this.ctx.limits;
    const none = { count: 0, bytes: 0, from: 0, to: 0 };
    if (count <= maxRecords && bytes <= maxBytes) return none;
    const targetCount = Math.floor(maxRecords * 0.99);
    const targetBytes = Math.floor(maxBytes * 0.99);
    const { db } = this.ctx;
    let dropCount = 0;
    let dropBytes = 0;
    let from = 0;
    let to = 0;
    let after = 0;
    while (count - dropCount > targetCount || bytes - dropBytes > targetBytes) {
      const rows = await db.all<{ seq: number; bytes: number }>(
        "SELECT seq, bytes FROM outbox WHERE kind = 'capture' AND seq > ? ORDER BY seq LIMIT 1000",
        [after],
      );
      if (rows.length === 0) break;
      for (const row of rows) {
        if (count - dropCount <= targetCount && bytes - dropBytes <= targetBytes) break;
        if (from === 0) from = row.seq;
        to = row.seq;
        dropCount += 1;
        dropBytes += row.bytes;
      }
      after = rows[rows.length - 1]!.seq;
    }
    if (dropCount === 0) {
      this.log.warn({ count, bytes }, 'outbox over its bound but holds only events; keeping them');
      return none;
    }
    await db.run("DELETE FROM outbox WHERE kind = 'capture' AND seq BETWEEN ? AND ?", [from, to]);
    return { count: dropCount, bytes: dropBytes, from, to };
  }

  /** Up to `limit` records with seq in (after, upTo], oldest first, within `maxBytes` of JSON. */
  async read(after: number, upTo: number, limit: number, maxBytes: number): Promise<StoredRecord[]> {
    const rows = await this.ctx.db.all<StoredRecord & { bytes: number }>(
      'SELECT seq, kind, bytes, json FROM outbox WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?',
      [after, upTo, limit],
    );
    const out: StoredRecord[] = [];
    let size = 0;
    for (const r of rows) {
      if (out.length > 0 && size + r.bytes + 1 > maxBytes) break;
      size += r.bytes + 1;
      out.push({ seq: r.seq, kind: r.kind, json: r.json });
    }
    return out;
  }

  /**
   * Deletes every record the ranges cover; resolves with how many were deleted. Acks that arrive
   * while a delete runs are coalesced into the next transaction. Deletes are committed without
   * an fsync of their own (synchronous=NORMAL for that transaction): a delete lost to a power cut
   * only makes the agent resend records the hub already has, which it drops and acks again.
   */
  ack(ranges: ReadonlyArray<readonly [number, number]>): Promise<number> {
    return new Promise((resolve, reject) => {
      this.ackQueue.push({ ranges, resolve, reject });
      if (!this.acking) this.acking = this.ackLoop();
    });
  }

  private async ackLoop(): Promise<void> {
    const { db } = this.ctx;
    try {
      while (this.ackQueue.length > 0) {
        const batch = this.ackQueue.splice(0);
        try {
          const counts = await db.transaction(
            async () => {
              const out: number[] = [];
              for (const item of batch) {
                let deleted = 0;
                for (const [from, to] of item.ranges) {
                  const row = await db.get<{ c: number; b: number | null }>(
                    'SELECT count(*) AS c, sum(bytes) AS b FROM outbox WHERE seq BETWEEN ? AND ?',
                    [from, to],
                  );
                  if (!row || row.c === 0) continue;
                  await db.run('DELETE FROM outbox WHERE seq BETWEEN ? AND ?', [from, to]);
                  deleted += row.c;
                  this.count -= row.c;
                  this.bytes -= row.b ?? 0;
                }
                out.push(deleted);
              }
              return out;
            },
            { relaxed: true },
          );
          for (const [i, item] of batch.entries()) item.resolve(counts[i] ?? 0);
        } catch (err) {
          this.log.error({ err }, 'deleting acked records failed; they will be resent');
          for (const item of batch) item.reject(err as Error);
        }
      }
    } finally {
      this.acking = null;
    }
  }
}
