import { LIMITS } from '@classroom/protocol';
import type { Logger } from 'pino';
import type { Outbox, StoredRecord } from '../outbox.js';

export interface SenderOptions {
  /** Backlog batches awaiting a hub ack at once (live batches do not count against it). */
  window: number;
  /** Records per batch, at most LIMITS.maxRecordsPerBatch. */
  batchRecords: number;
  /** Resend a batch whose hub ack has not come in this long (a lost ack or a hub that restarted). */
  ackTimeoutMs: number;
}

export const DEFAULT_SENDER_OPTIONS: SenderOptions = {
  window: 8,
  batchRecords: LIMITS.maxRecordsPerBatch,
  ackTimeoutMs: 30_000,
};

export interface SenderContext {
  outbox: Outbox;
  log: Logger;
  clock: { now(): number };
  /** Publishes one records payload (QoS 1); rejects if the connection drops. */
  publish: (payload: string) => Promise<void>;
  options?: Partial<SenderOptions>;
}

interface InFlight {
  seqs: number[];
  pending: number[];
  payload: string;
  sentAt: number;
  historical: boolean;
}

/** Envelope bytes besides the records: `{"v":1,"session":N,"historical":true,"records":[]}`. */
const ENVELOPE_BYTES = 96;

/**
 * Moves records from the outbox to the hub (docs/agent.md "Durable outbox"; DESIGN.md "Delivery is at-least-once"). On every connect, everything still
 * unacked (seq ≤ the boundary taken at connect) is the backlog: it is replayed in windowed batches
 * flagged historical. Records committed after the connect are live and are published at once,
 * ahead of the backlog and outside its window, so a long replay never delays them.
 */
export class Sender {
  private connected = false;
  private session = 0;
  private boundary = 0;
  private cursor = 0;
  private reading = false;
  private live: StoredRecord[] = [];
  private inflight: InFlight[] = [];
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private readonly opts: SenderOptions;
  private readonly log: Logger;
  /** Bumped on every (dis)connect so that a read started for an old connection is discarded. */
  private epoch = 0;

  constructor(private readonly ctx: SenderContext) {
    this.opts = { ...DEFAULT_SENDER_OPTIONS, ...ctx.options };
    this.opts.batchRecords = Math.min(this.opts.batchRecords, LIMITS.maxRecordsPerBatch);
    this.log = ctx.log.child({ module: 'sender' });
  }

  start(): void {
    this.unsubscribe = this.ctx.outbox.onCommitted((records) => this.onCommitted(records));
    this.timer = setInterval(() => this.checkTimeouts(), Math.max(250, this.opts.ackTimeoutMs / 4));
    this.timer.unref?.();
  }

  stop(): void {
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.connected = false;
  }

  /** A new MQTT connection is up and subscribed to ack: replay everything unacked. */
  onConnected(session: number): void {
    this.epoch += 1;
    this.connected = true;
    this.session = session;
    this.boundary = this.ctx.outbox.lastSeq();
    this.cursor = 0;
    this.live = [];
    this.inflight = [];
    if (this.boundary > 0) this.log.info({ session, upTo: this.boundary }, 'replaying unacked backlog');
    this.pump();
  }

  onDisconnected(): void {
    this.epoch += 1;
    this.connected = false;
    this.live = [];
    this.inflight = [];
  }

  /** The hub came back behind a broker that stayed up: what it missed is resent from the top. */
  rewind(): void {
    if (this.connected) this.onConnected(this.session);
  }

  stats(): { inflight: number; backlogRemaining: number } {
    return { inflight: this.inflight.length, backlogRemaining: Math.max(0, this.boundary - this.cursor) };
  }

  /** Frees the window at once; the outbox deletes the acked rows in the background. */
  async ack(ranges: ReadonlyArray<readonly [number, number]>): Promise<void> {
    const deleting = this.ctx.outbox.ack(ranges);
    const covered = (seq: number): boolean => ranges.some(([a, b]) => seq >= a && seq <= b);
    // The hub may ack a batch piecewise (per commit), so track what is still missing of each one.
    const before = this.inflight.length;
    for (const b of this.inflight) b.pending = b.pending.filter((s) => !covered(s));
    this.inflight = this.inflight.filter((b) => b.pending.length > 0);
    if (this.inflight.length !== before) this.pump();
    await deleting;
  }

  private onCommitted(records: StoredRecord[]): void {
    if (!this.connected) return;
    for (const r of records) if (r.seq > this.boundary) this.live.push(r);
    this.pump();
  }

  private pump(): void {
    if (!this.connected) return;
    while (this.live.length > 0) {
      const batch = this.take(this.live);
      this.send(batch, false);
    }
    const backlogInFlight = this.inflight.filter((b) => b.historical).length;
    if (this.reading || this.cursor >= this.boundary || backlogInFlight >= this.opts.window) return;
    this.reading = true;
    const epoch = this.epoch;
    const budget = LIMITS.maxPayloadBytes - ENVELOPE_BYTES;
    this.ctx.outbox
      .read(this.cursor, this.boundary, this.opts.batchRecords, budget)
      .then((records) => {
        this.reading = false;
        if (epoch !== this.epoch) return this.pump();
        if (records.length === 0) {
          this.cursor = this.boundary;
          this.log.info({ session: this.session }, 'backlog replay sent');
          return;
        }
        this.cursor = records[records.length - 1]!.seq;
        this.send(records, true);
        this.pump();
      })
      .catch((err: unknown) => {
        this.reading = false;
        this.log.error({ err }, 'reading the outbox failed; retrying on the next ack or timeout');
      });
  }

  /** Takes the longest prefix of `queue` that fits one batch. */
  private take(queue: StoredRecord[]): StoredRecord[] {
    let size = ENVELOPE_BYTES;
    let n = 0;
    while (n < queue.length && n < this.opts.batchRecords) {
      const add = queue[n]!.json.length * 3 + 1; // UTF-16 length × 3 bounds the UTF-8 size
      if (n > 0 && size + add > LIMITS.maxPayloadBytes) break;
      size += add;
      n += 1;
    }
    return queue.splice(0, n);
  }

  private send(records: StoredRecord[], historical: boolean): void {
    const payload = `{"v":1,"session":${this.session}${historical ? ',"historical":true' : ''},"records":[${records
      .map((r) => r.json)
      .join(',')}]}`;
    const entry: InFlight = {
      seqs: records.map((r) => r.seq),
      pending: records.map((r) => r.seq),
      payload,
      sentAt: this.ctx.clock.now(),
      historical,
    };
    this.inflight.push(entry);
    this.publish(entry);
  }

  private publish(entry: InFlight): void {
    const epoch = this.epoch;
    this.ctx.publish(entry.payload).catch((err: unknown) => {
      // A dropped connection is handled by the reconnect; the records stay in the outbox.
      if (epoch === this.epoch) this.log.warn({ err: String(err) }, 'records publish failed');
    });
  }

  private checkTimeouts(): void {
    if (!this.connected) return;
    const now = this.ctx.clock.now();
    for (const entry of this.inflight) {
      if (now - entry.sentAt >= this.opts.ackTimeoutMs) {
        this.log.warn({ from: entry.seqs[0], count: entry.seqs.length }, 'no ack in time; resending batch');
        entry.sentAt = now;
        this.publish(entry);
      }
    }
  }
}
