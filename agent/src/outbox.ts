import { LIMITS, RecordSchema, type RecordT } from '@classroom/protocol';
import type { Logger } from 'pino';
import type { CaptureWindow, SourceEvent } from './media/types.js';
import { readMeta, writeMeta } from './store/agent-db.js';
import type { Db } from './store/db.js';
import type { DiskReserve } from './store/reserve.js';

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
  /** Space held back for drop-oldest when the disk is full (docs/agent.md "Full disk"). */
  reserve?: DiskReserve;
}

/** How often, at most, the outbox tries to write its reserve again after a full disk. */
const RESERVE_RETRY_MS = 5000;
/** Attempts of one batch against a full disk, each dropping twice as much as the one before. */
const FULL_ATTEMPTS = 5;

export function isDiskFull(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e.code === 'SQLITE_FULL' || /SQLITE_FULL|database or disk is full/.test(String(e.message ?? ''));
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
  /** True from the first SQLITE_FULL until the reserve could be written again. */
  private diskFull = false;
  private reserveHeld = false;
  private lastReserveTry = 0;
  /** A `disk.low` for this episode is still to be committed. */
  private diskLowOwed = false;
  /**
   * Seqs given to records that could not be written even after the reserve was released: they are
   * named by an `outbox.dropped` in the next transaction that commits, so the hub never sees a silent
   * gap (DESIGN.md "Delivery is at-least-once, stored exactly once").
   */
  private lost: { from: number; to: number } | null = null;

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
    this.reserveHeld = this.ctx.reserve?.ensure() ?? false;
    if (this.ctx.reserve && !this.reserveHeld) {
      this.log.warn(
        { file: this.ctx.reserve.file, bytes: this.ctx.reserve.bytes },
        'no room for the outbox reserve',
      );
    }
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

  /** Whether the disk was found full and has not had room for the reserve since. */
  diskIsFull(): boolean {
    return this.diskFull;
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
      // The first commit waits for the rest of this turn of the event loop: the windows of every
      // source close on the same wall-clock boundary (docs/agent-media.md "What is measured"), so a box's
      // sources share one transaction, one fsync and one publish instead of one each.
      if (!this.flushing)
        this.flushing = new Promise<void>((r) => setImmediate(r)).then(() => this.flushLoop());
    });
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, 5000);
        try {
          const committed = await this.commitWithRoom(batch);
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

  /**
   * Commits the batch; on SQLITE_FULL gives back the reserve, drops the oldest capture windows in a
   * transaction of their own (it frees the pages the batch then reuses) and tries again, dropping
   * twice as much each time. Before this, drop-oldest ran only inside the very transaction that failed.
   */
  private async commitWithRoom(batch: Pending[]): Promise<{ own: StoredRecord[]; all: StoredRecord[] }> {
    for (let attempt = 0; ; attempt++) {
      try {
        const out = await this.commit(batch);
        this.afterCommit();
        return out;
      } catch (err) {
        if (!isDiskFull(err)) throw err;
        if (attempt + 1 < FULL_ATTEMPTS) {
          const batchBytes = batch.reduce((n, p) => n + Buffer.byteLength(JSON.stringify(p.record)), 0);
          const { made, room } = await this.makeRoom(attempt, batchBytes);
          this.emit(made); // committed already, whatever becomes of the batch
          if (room) continue;
        }
        // No room could be made: the records are lost. Their seqs are named by a drop event.
        await this.recordLost(batch.length);
        throw err;
      }
    }
  }

  /**
   * Gives the next `n` seqs to records that could not be written and tries at once to commit the
   * `outbox.dropped` that names them; if even that does not fit, the next commit carries it.
   */
  private async recordLost(n: number): Promise<void> {
    const from = this.committedSeq + 1;
    this.committedSeq += n;
    this.lost = { from: this.lost?.from ?? from, to: this.committedSeq };
    this.log.error(
      { count: n, fromSeq: from, toSeq: this.committedSeq },
      'disk full: records not stored; an outbox.dropped will name them',
    );
    try {
      const made = await this.ctx.db.transaction(async () => {
        const out = await this.putOwed(this.committedSeq);
        await writeMeta(this.ctx.db, 'droppedTotal', this.droppedTotal + this.lostCount());
        await writeMeta(this.ctx.db, 'lastSeq', out.seq);
        return out;
      });
      this.settleOwed(made);
      this.emit(made.records);
    } catch (err) {
      if (!isDiskFull(err)) this.log.error({ err }, 'writing the drop event failed');
    }
  }

  private lostCount(): number {
    return this.lost ? this.lost.to - this.lost.from + 1 : 0;
  }

  /**
   * Inserts the reports still owed (the drop event for lost seqs, the episode's `disk.low`) after
   * `seq`, inside the caller's transaction; `settleOwed` once it has committed.
   */
  private async putOwed(
    seq: number,
  ): Promise<{ seq: number; records: StoredRecord[]; bytes: number; lost: number; diskLow: boolean }> {
    const { db } = this.ctx;
    const ts = this.ctx.clock.now();
    const owed: NewRecord[] = [];
    const lost = this.lostCount();
    if (this.lost) {
      owed.push({
        kind: 'event',
        source: null,
        ts,
        type: 'outbox.dropped',
        detail: { count: lost, fromSeq: this.lost.from, toSeq: this.lost.to, reason: 'disk_full' },
      });
    }
    const diskLow = this.diskLowOwed;
    if (diskLow) {
      owed.push({
        kind: 'event',
        source: null,
        ts,
        type: 'disk.low',
        detail: { reason: 'disk_full', freeBytes: this.ctx.reserve?.freeBytes() ?? null },
      });
    }
    const records: StoredRecord[] = [];
    let bytes = 0;
    for (const r of owed) {
      seq += 1;
      const json = JSON.stringify({ seq, ...r });
      const size = Buffer.byteLength(json);
      await db.run('INSERT INTO outbox (seq, kind, bytes, json) VALUES (?, ?, ?, ?)', [
        seq,
        r.kind,
        size,
        json,
      ]);
      records.push({ seq, kind: r.kind, json });
      bytes += size;
    }
    return { seq, records, bytes, lost, diskLow };
  }

  private settleOwed(made: {
    seq: number;
    records: StoredRecord[];
    bytes: number;
    lost: number;
    diskLow: boolean;
  }): void {
    this.committedSeq = Math.max(this.committedSeq, made.seq);
    this.count += made.records.length;
    this.bytes += made.bytes;
    if (made.lost > 0) {
      this.droppedTotal += made.lost;
      this.lost = null;
    }
    if (made.diskLow) this.diskLowOwed = false;
  }

  /** After a full disk: tries now and then to write the reserve again; once it is back, the episode ends. */
  private afterCommit(): void {
    const reserve = this.ctx.reserve;
    if (!reserve || (this.reserveHeld && !this.diskFull)) return;
    const now = this.ctx.clock.now();
    if (now - this.lastReserveTry < RESERVE_RETRY_MS) return;
    this.lastReserveTry = now;
    this.reserveHeld = reserve.ensure();
    if (this.reserveHeld && this.diskFull) {
      this.diskFull = false;
      // A disk.low still owed stays owed: the episode happened even if it could not be told yet.
      this.log.info({ freeBytes: reserve.freeBytes() }, 'disk has room again; outbox reserve restored');
    }
  }

  /**
   * Frees room on a full disk: releases the reserve, then deletes the oldest capture windows (at least
   * 64 KiB, twice the batch, 1 % of the outbox, doubled per attempt) and records `outbox.dropped`, plus
   * `disk.low` once per episode, whether or not there was anything to drop. Returns the events it
   * committed, and whether it made room (released the reserve or dropped windows): with an empty outbox
   * the reserve's space alone is what the retried batch is written into.
   */
  private async makeRoom(
    attempt: number,
    batchBytes: number,
  ): Promise<{ made: StoredRecord[]; room: boolean }> {
    const { db } = this.ctx;
    if (!this.diskFull) {
      this.diskFull = true;
      this.diskLowOwed = true;
      this.log.error(
        { pending: this.count, bytes: this.bytes },
        'disk full: releasing the reserve and dropping oldest capture windows',
      );
    }
    const released = this.ctx.reserve?.release() ?? false;
    if (released) this.reserveHeld = false;
    // In WAL mode the newest pages live in the WAL until a checkpoint copies them into the database
    // file, which may need to grow for them: the reserve's space is for that. Once the checkpoint is
    // through, the WAL starts over inside its own file, so the drop and the retried batch need no new
    // blocks (the drop frees pages the batch reuses). Never TRUNCATE here: the WAL's blocks are room too.
    await db
      .exec('PRAGMA wal_checkpoint(RESTART)')
      .catch((err: unknown) =>
        this.log.warn({ err: (err as Error).message }, 'checkpoint on the full disk failed'),
      );
    const target = Math.max(64 * 1024, batchBytes * 2, this.bytes * 0.01) * 2 ** attempt;
    let dropped = { count: 0, bytes: 0, from: 0, to: 0 };
    let owed: Awaited<ReturnType<Outbox['putOwed']>> | null = null;
    let dropEvent: StoredRecord | null = null;
    try {
      await db.transaction(async () => {
        dropped = await this.dropOldest(target);
        let seq = this.committedSeq;
        if (dropped.count > 0) {
          seq += 1;
          const json = JSON.stringify({
            seq,
            kind: 'event',
            source: null,
            ts: this.ctx.clock.now(),
            type: 'outbox.dropped',
            detail: { count: dropped.count, fromSeq: dropped.from, toSeq: dropped.to, reason: 'disk_full' },
          });
          await db.run('INSERT INTO outbox (seq, kind, bytes, json) VALUES (?, ?, ?, ?)', [
            seq,
            'event',
            Buffer.byteLength(json),
            json,
          ]);
          dropEvent = { seq, kind: 'event', json };
        }
        owed = await this.putOwed(seq);
        if (owed.records.length === 0 && dropped.count === 0) return;
        await writeMeta(db, 'droppedTotal', this.droppedTotal + dropped.count + owed.lost);
        await writeMeta(db, 'lastSeq', owed.seq);
      });
    } catch (err) {
      if (!isDiskFull(err)) throw err;
      // Not even the drop fits: only the reserve's space (if any was given back) is left to try.
      this.log.error({ err: (err as Error).message }, 'disk full: could not drop or report');
      return { made: [], room: released };
    }
    const made: StoredRecord[] = [];
    const ev = dropEvent as StoredRecord | null;
    if (ev) {
      made.push(ev);
      this.committedSeq = ev.seq;
      this.count += 1 - dropped.count;
      this.bytes += Buffer.byteLength(ev.json) - dropped.bytes;
      this.droppedTotal += dropped.count;
      this.log.warn(
        { dropped: dropped.count, fromSeq: dropped.from, toSeq: dropped.to, pending: this.count },
        'disk full: dropped oldest capture windows',
      );
    } else {
      this.log.error({ pending: this.count }, 'disk full and the outbox holds no capture windows to drop');
    }
    const o = owed as Awaited<ReturnType<Outbox['putOwed']>> | null;
    if (o) {
      this.settleOwed(o);
      made.push(...o.records);
    }
    if (made.length > 0) await db.exec('PRAGMA wal_checkpoint(PASSIVE)').catch(() => undefined);
    return { made, room: released || dropped.count > 0 };
  }

  /** Deletes the oldest capture windows, at least `bytes` of them (inside the caller's transaction). */
  private async dropOldest(
    bytes: number,
  ): Promise<{ count: number; bytes: number; from: number; to: number }> {
    const { db } = this.ctx;
    let count = 0;
    let size = 0;
    let from = 0;
    let to = 0;
    let after = 0;
    while (size < bytes) {
      const rows = await db.all<{ seq: number; bytes: number }>(
        "SELECT seq, bytes FROM outbox WHERE kind = 'capture' AND seq > ? ORDER BY seq LIMIT 1000",
        [after],
      );
      if (rows.length === 0) break;
      for (const row of rows) {
        if (size >= bytes) break;
        if (from === 0) from = row.seq;
        to = row.seq;
        count += 1;
        size += row.bytes;
      }
      after = rows[rows.length - 1]!.seq;
    }
    if (count > 0)
      await db.run("DELETE FROM outbox WHERE kind = 'capture' AND seq BETWEEN ? AND ?", [from, to]);
    return { count, bytes: size, from, to };
  }

  private async commit(batch: Pending[]): Promise<{ own: StoredRecord[]; all: StoredRecord[] }> {
    const { db } = this.ctx;
    let seq = this.committedSeq;
    let added = 0;
    let addedBytes = 0;
    const own: StoredRecord[] = [];
    const all: StoredRecord[] = [];
    let dropped = { count: 0, bytes: 0, from: 0, to: 0 };
    let owed: Awaited<ReturnType<Outbox['putOwed']>> | null = null;
    await db.transaction(async () => {
      // Reports a full disk still owes go first: they name seqs below the batch's.
      owed = await this.putOwed(seq);
      seq = owed.seq;
      all.push(...owed.records);
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
        dropped = await this.enforceBound(
          this.count + added + owed.records.length,
          this.bytes + addedBytes + owed.bytes,
        );
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
        }
        if (dropped.count > 0 || owed.lost > 0)
          await writeMeta(db, 'droppedTotal', this.droppedTotal + dropped.count + owed.lost);
      } finally {
        await insert.finalize();
      }
      await writeMeta(db, 'lastSeq', seq);
    });
    this.committedSeq = seq;
    this.count += added - dropped.count;
    this.bytes += addedBytes - dropped.bytes;
    const o = owed as Awaited<ReturnType<Outbox['putOwed']>> | null;
    if (o) this.settleOwed(o);
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
