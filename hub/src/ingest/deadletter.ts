// Dead-letter table (DESIGN.md "Bad input always gets a clear error and loses nothing"). Writes are
// buffered and flushed together so that a flood of garbage costs one transaction per tick, and the
// buffer is bounded so that it cannot grow the heap: beyond it only the counter moves.
import type { Logger } from 'pino';
import type { Clock, Db } from '../context.js';
import type { CoreMetrics } from '../metrics.js';

/** Bytes of a refused payload kept in the table. */
export const DEAD_LETTER_PAYLOAD_CAP = 2048;
const MAX_BUFFERED = 2000;

export interface DeadLetter {
  reason: string;
  detail: string;
  topic: string;
  agent: string | null;
  payload: Buffer;
}

interface Row {
  ts: number;
  reason: string;
  detail: string;
  topic: string;
  agent: string | null;
  size: number;
  payload: string;
  encoding: 'utf8' | 'base64';
}

export class DeadLetters {
  private buffer: Row[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private dropped = 0;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly metrics: CoreMetrics,
    private readonly log: Logger,
    private readonly flushMs = 100,
  ) {}

  add(d: DeadLetter): void {
    this.metrics.deadLetters.inc({ reason: d.reason });
    this.log.warn(
      {
        reason: d.reason,
        detail: d.detail.slice(0, 200),
        topic: d.topic.slice(0, 200),
        agent: d.agent,
        size: d.payload.length,
      },
      'message dead-lettered',
    );
    if (this.buffer.length >= MAX_BUFFERED) {
      this.dropped++;
      return;
    }
    const head = d.payload.subarray(0, DEAD_LETTER_PAYLOAD_CAP);
    const text = head.toString('utf8');
    const isText = Buffer.from(text, 'utf8').equals(head);
    this.buffer.push({
      ts: this.clock.now(),
      reason: d.reason,
      detail: d.detail.slice(0, 500),
      topic: d.topic.slice(0, 512),
      agent: d.agent,
      size: d.payload.length,
      payload: isText ? text : head.toString('base64'),
      encoding: isText ? 'utf8' : 'base64',
    });
    this.timer ??= this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.flushMs);
  }

  flush(): Promise<void> {
    const rows = this.buffer;
    this.buffer = [];
    if (this.dropped > 0) {
      this.log.warn(
        { dropped: this.dropped },
        'dead-letter buffer full: payload copies not kept (still counted)',
      );
      this.dropped = 0;
    }
    if (rows.length === 0) return this.writing;
    this.writing = this.writing.then(() =>
      this.db
        .transaction(async () => {
          for (const r of rows) {
            await this.db.run(
              'INSERT INTO dead_letters (ts, reason, detail, topic, agent, size, payload, encoding) VALUES (?,?,?,?,?,?,?,?)',
              [r.ts, r.reason, r.detail, r.topic, r.agent, r.size, r.payload, r.encoding],
            );
          }
        })
        .catch((err) => this.log.error({ err, rows: rows.length }, 'writing dead letters failed')),
    );
    return this.writing;
  }

  async stop(): Promise<void> {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
