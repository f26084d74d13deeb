// Runs a retention pass (sweep.ts) shortly after start and then every few hours, off the ingest path:
// the pass shares the store's writer with ingest in small batches, and nothing waits for it.
import type { Logger } from 'pino';
import type { Clock, HubModule } from '../context.js';
import type { Store } from '../store/open.js';
import { ensurePartitions, isPartitioned } from './partitions.js';
import type { RetentionPolicy } from './policy.js';
import { PassAborted, type RetentionReport, runPass } from './sweep.js';

export interface RetentionSchedule {
  /** Delay of the first pass after start (default 5 min: start-up and replays come first). */
  firstMs: number;
  /** Time between passes (default 6 h: a day's worth of rows is a few small passes). */
  everyMs: number;
}

export const DEFAULT_SCHEDULE: RetentionSchedule = { firstMs: 5 * 60_000, everyMs: 6 * 3_600_000 };

export interface RetentionContext {
  log: Logger;
  clock: Clock;
  db: Store;
  policy: RetentionPolicy;
  /** The SQLite file (for sizes in the report), null on PostgreSQL. */
  file: string | null;
  schedule?: Partial<RetentionSchedule>;
  /** Hears of every finished pass (metrics, tests). */
  onPass?: (report: RetentionReport) => void;
}

export class RetentionModule implements HubModule {
  readonly name = 'retention';
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RetentionReport> | null = null;
  private stopped = false;
  private readonly schedule: RetentionSchedule;

  constructor(private readonly ctx: RetentionContext) {
    this.schedule = { ...DEFAULT_SCHEDULE, ...ctx.schedule };
  }

  async start(): Promise<void> {
    this.stopped = false;
    // A hub that was down for longer than the partitions were created ahead would otherwise file live
    // records into the default partition until its first pass.
    if (this.ctx.db.dialect === 'postgres' && (await isPartitioned(this.ctx.db))) {
      const created = await ensurePartitions(this.ctx.db, this.ctx.clock.now());
      if (created.length > 0) this.ctx.log.info({ created }, 'record partitions created');
    }
    this.ctx.log.info({ policy: this.ctx.policy, firstInMs: this.schedule.firstMs }, 'retention scheduled');
    this.arm(this.schedule.firstMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.ctx.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** Runs a pass now (or joins the one running). */
  runNow(): Promise<RetentionReport> {
    this.running ??= runPass({
      db: this.ctx.db,
      clock: this.ctx.clock,
      policy: this.ctx.policy,
      file: this.ctx.file,
      aborted: () => this.stopped,
    }).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private arm(ms: number): void {
    if (this.stopped) return;
    this.timer = this.ctx.clock.setTimeout(() => {
      this.timer = undefined;
      this.runNow().then(
        (report) => {
          this.ctx.log.info({ event: 'retention.pass', ...report }, 'retention pass done');
          this.ctx.onPass?.(report);
          this.arm(this.schedule.everyMs);
        },
        (err: unknown) => {
          if (!(err instanceof PassAborted)) {
            // A failed pass (disk full, lock timeout) is retried at the next slot; nothing is half-deleted.
            this.ctx.log.error({ err }, 'retention pass failed');
          }
          this.arm(this.schedule.everyMs);
        },
      );
    }, ms);
    this.timer.unref?.();
  }
}
