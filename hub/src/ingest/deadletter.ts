// Dead-letter table (DESIGN.md "Bad input always gets a clear error and loses nothing"). Writes are
// buffered and flushed together so that a flood of garbage costs one transaction per tick, and the
// buffer is bounded so that it cannot grow the heap: beyond it only the counter moves. Each agent's
// share is rate-limited and the table capped by count (deadletter-limits.ts, docs/hub.md "Per-agent bounds").
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import type { Clock, Db } from '../context.js';
import type { CoreMetrics } from '../metrics.js';
import {
  DEFAULT_DEAD_LETTER_LIMITS,
  type DeadLetterLimits,
  DeadLetterRate,
  pruneDeadLetters,
} from './deadletter-limits.js';

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
  private readonly rate: DeadLetterRate;
  private readonly unstored: Counter<'cause'>;
  private readonly trimmed: Counter<string>;
  /** Agents told (in the log) that their dead letters are only counted now, and when. */
  private readonly limitedLogged = new Map<string, number>();
  private insertedSinceGlobalTrim = Number.POSITIVE_INFINITY;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly metrics: CoreMetrics,
    private readonly log: Logger,
    private readonly flushMs = 100,
    private readonly limits: DeadLetterLimits = DEFAULT_DEAD_LETTER_LIMITS,
  ) {
    this.rate = new DeadLetterRate(clock, limits);
    this.unstored = new Counter({
      name: 'classroom_hub_dead_letters_unstored_total',
      help: 'Dead letters counted but not stored: rate (the agent exceeded its dead-letter rate) or buffer (write buffer full)',
      labelNames: ['cause'],
      registers: [metrics.registry],
    });
    this.trimmed = new Counter({
      name: 'classroom_hub_dead_letters_trimmed_total',
      help: 'Stored dead letters deleted, oldest first, because an agent or the table reached its row cap',
      registers: [metrics.registry],
    });
  }

  add(d: DeadLetter): void {
    this.metrics.deadLetters.inc({ reason: d.reason });
    if (!this.rate.take(d.agent)) {
      this.unstored.inc({ cause: 'rate' });
      this.noteLimited(d.agent);
      return;
    }
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
      this.unstored.inc({ cause: 'buffer' });
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
        .then(() => this.trim(rows))
        .catch((err) => this.log.error({ err, rows: rows.length }, 'writing dead letters failed')),
    );
    return this.writing;
  }

  /**
   * Keeps the agents of this batch within their cap, and the whole table within its cap every 1,000
   * rows (a tenth of the cap when that is smaller), so the overall count costs little per flush.
   */
  private async trim(rows: Row[]): Promise<void> {
    this.insertedSinceGlobalTrim += rows.length;
    const every = Math.max(1, Math.min(1000, Math.floor(this.limits.maxRows / 10)));
    const global = this.insertedSinceGlobalTrim >= every;
    if (global) this.insertedSinceGlobalTrim = 0;
    const n = await pruneDeadLetters(this.db, {
      maxRowsPerAgent: this.limits.maxRowsPerAgent,
      agents: rows.map((r) => r.agent),
      ...(global ? { maxRows: this.limits.maxRows } : {}),
    });
    if (n > 0) this.trimmed.inc(n);
  }

  /** One log line per agent and minute while its dead letters are only counted. */
  private noteLimited(agent: string | null): void {
    const key = agent ?? '';
    const now = this.clock.now();
    const last = this.limitedLogged.get(key);
    if (last !== undefined && now - last < 60_000) return;
    if (this.limitedLogged.size >= 10_000) this.limitedLogged.clear();
    this.limitedLogged.set(key, now);
    this.log.warn(
      { agent, perMinute: this.limits.perAgentPerMinute, burst: this.limits.burst },
      'agent exceeds its dead-letter rate: further refusals are counted (classroom_hub_dead_letters_unstored_total), not stored',
    );
  }

  async stop(): Promise<void> {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
    this.metrics.registry.removeSingleMetric('classroom_hub_dead_letters_unstored_total');
    this.metrics.registry.removeSingleMetric('classroom_hub_dead_letters_trimmed_total');
  }
}
