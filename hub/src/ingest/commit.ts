// Group commit (docs/hub.md "Ingest"; docs/hub-perf.md "Group commit window"): batches from many agents that arrive within a few milliseconds are written
// in one transaction, so the fsync cost is shared. Each submitter learns which of its records were new.
import type { RecordT } from '@classroom/protocol';
import type { Clock } from '../context.js';
import type { CoreMetrics } from '../metrics.js';
import type { Store } from '../store/open.js';

const COLUMNS = 11;
/** Rows per INSERT statement, so that one statement's JSON stays a few MB at most. */
const ROWS_PER_STATEMENT = 5000;

/**
 * The hub's insert: the whole group travels as ONE JSON parameter that SQLite unpacks with jsonb_each.
 * Binding tens of thousands of parameters one by one happens on Node's main thread (node-sqlite3), which
 * is also the thread that parses MQTT and validates; JSON unpacking runs on the database thread instead.
 * The text is converted to JSONB once, so each row's eleven `->>` read binary JSON instead of parsing the
 * row's text eleven times (json_each: 32 µs a record, jsonb_each: 20 µs; SQLite ≥ 3.45). The SQL text is
 * constant, so nothing is re-parsed per row count.
 */
export const INSERT_JSON_SQL = `INSERT OR IGNORE INTO records
  (agent, seq, kind, source, ts, end_ts, room, type, historical, received_at, body)
  SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7, value->>8,
         value->>9, value->'$[10]'
  FROM jsonb_each(jsonb(?)) RETURNING agent, seq`;

/**
 * The same on PostgreSQL (`--database`): json_array_elements unpacks the group server-side. Rows are
 * inserted in key order so that two hubs committing overlapping resends take their row locks in the
 * same order and cannot deadlock; ON CONFLICT DO NOTHING makes the one that comes second skip the row
 * (no conflict target: the key of the partitioned table also holds kind and ts, retention/partitions.ts),
 * so a record is stored once however many hubs receive it (DESIGN.md).
 */
export const INSERT_JSON_SQL_PG = `INSERT INTO records
  (agent, seq, kind, source, ts, end_ts, room, type, historical, received_at, body)
  SELECT r->>0, (r->>1)::bigint, r->>2, r->>3, (r->>4)::bigint, (r->>5)::bigint, r->>6, r->>7,
         (r->>8)::integer, (r->>9)::bigint, r->>10
  FROM json_array_elements(?::json) AS e(r)
  ORDER BY 1, 2
  ON CONFLICT DO NOTHING RETURNING agent, seq`;

/** PostgreSQL errors after which the whole group can simply be written again. */
const RETRYABLE_PG = new Set(['40P01', '40001']); // deadlock_detected, serialization_failure
const MAX_ATTEMPTS = 3;

export interface CommitRequest {
  agent: string;
  room: string | null;
  records: RecordT[];
  historical: boolean;
  receivedAt: number;
}

interface Pending extends CommitRequest {
  resolve(inserted: RecordT[]): void;
  reject(err: Error): void;
}

export interface GroupCommitOptions {
  /**
   * How long the first batch of a group waits for company before the group is written while the writer
   * is idle. 0 (the default) is adaptive: an idle writer commits on the next turn of the event loop
   * (after the messages already read from the sockets), and batches arriving while a commit is in flight
   * wait for it and form the next group. A fixed window only adds latency when each agent has one batch
   * in flight and waits for its ack before sending the next (docs/hub-perf.md "Group commit window"; BENCHMARKS.md live ingest).
   */
  windowMs: number;
  /** A group this large is written without waiting for the window. */
  maxRecords: number;
  /** Hears each commit's outcome (null on success), for /api/health (store/health.ts). */
  onOutcome?: (err: Error | null) => void;
}

function row(p: CommitRequest, r: RecordT): unknown[] {
  const isCapture = r.kind === 'capture';
  return [
    p.agent,
    r.seq,
    r.kind,
    r.source,
    isCapture ? r.start : r.ts,
    isCapture ? r.end : null,
    p.room,
    isCapture ? null : r.type,
    p.historical ? 1 : 0,
    p.receivedAt,
    r,
  ];
}

export const INSERT_PREFIX =
  'INSERT OR IGNORE INTO records (agent, seq, kind, source, ts, end_ts, room, type, historical, received_at, body) VALUES ';

export function insertSql(rows: number): string {
  const one = `(${new Array(COLUMNS).fill('?').join(',')})`;
  return `${INSERT_PREFIX}${new Array(rows).fill(one).join(',')} RETURNING agent, seq`;
}

export class GroupCommitter {
  private pending: Pending[] = [];
  private pendingRecords = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private inFlight: Promise<void> | null = null;

  constructor(
    private readonly db: Store,
    private readonly clock: Clock,
    private readonly metrics: CoreMetrics,
    private readonly opts: GroupCommitOptions,
  ) {}

  /** Resolves after the records are committed, with those that were not stored before. */
  submit(req: CommitRequest): Promise<RecordT[]> {
    return new Promise((resolve, reject) => {
      this.pending.push({ ...req, resolve, reject });
      this.pendingRecords += req.records.length;
      if (this.pendingRecords >= this.opts.maxRecords) this.kick(0);
      else this.kick(Math.max(this.opts.windowMs, 1));
    });
  }

  /** Writes everything submitted so far; used on shutdown. */
  async flush(): Promise<void> {
    while (this.pending.length > 0 || this.inFlight) {
      if (this.inFlight) await this.inFlight;
      else await this.writeGroup();
    }
  }

  private kick(delayMs: number): void {
    if (this.inFlight) return; // the running commit picks the group up when it ends
    if (delayMs === 0) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
      if (this.immediate) clearImmediate(this.immediate);
      this.immediate = undefined;
      void this.writeGroup();
    } else if (this.opts.windowMs <= 0) {
      // Adaptive: the other publishes read in this I/O phase join the group; nobody waits a timer.
      this.immediate ??= setImmediate(() => {
        this.immediate = undefined;
        void this.writeGroup();
      });
    } else if (!this.timer) {
      this.timer = this.clock.setTimeout(() => {
        this.timer = undefined;
        void this.writeGroup();
      }, delayMs);
    }
  }

  private writeGroup(): Promise<void> {
    if (this.inFlight || this.pending.length === 0) return this.inFlight ?? Promise.resolve();
    const group = this.pending;
    this.pending = [];
    this.pendingRecords = 0;
    const run = this.commit(group).finally(() => {
      this.inFlight = null;
      // Whatever arrived while we were writing forms the next group at once: it has already waited.
      if (this.pending.length > 0) this.kick(0);
    });
    this.inFlight = run;
    return run;
  }

  private async commit(group: Pending[]): Promise<void> {
    const started = performance.now();
    let total = 0;
    try {
      const statements: unknown[][][] = [];
      let current: unknown[][] = [];
      for (const p of group) {
        for (const r of p.records) {
          if (current.length === ROWS_PER_STATEMENT) {
            statements.push(current);
            current = [];
          }
          current.push(row(p, r));
          total++;
        }
      }
      if (current.length > 0) statements.push(current);
      const inserted = new Set<string>();
      const sql = this.db.dialect === 'postgres' ? INSERT_JSON_SQL_PG : INSERT_JSON_SQL;
      const insert = async (rows: unknown[][]) => {
        const got = await this.db.allWrite<{ agent: string; seq: number }>(sql, [JSON.stringify(rows)]);
        for (const g of got) inserted.add(`${g.agent}\u0000${g.seq}`);
      };
      for (let attempt = 1; ; attempt++) {
        try {
          // One statement is its own transaction; only a group larger than that needs BEGIN/COMMIT.
          if (statements.length === 1 && statements[0]) await insert(statements[0]);
          else {
            await this.db.transaction(async () => {
              for (const st of statements) await insert(st);
            });
          }
          break;
        } catch (err) {
          // A failed attempt committed nothing, so writing the group again is safe.
          const code = (err as { code?: unknown }).code;
          if (attempt >= MAX_ATTEMPTS || typeof code !== 'string' || !RETRYABLE_PG.has(code)) throw err;
          inserted.clear();
        }
      }
      let fresh = 0;
      for (const p of group) {
        // A key is claimed once, so a resend that shared this group with its original is not "new" twice.
        const mine = p.records.filter((r) => inserted.delete(`${p.agent}\u0000${r.seq}`));
        fresh += mine.length;
        p.resolve(mine);
      }
      this.metrics.recordsInserted.inc(fresh);
      this.metrics.recordsDuplicate.inc(total - fresh);
      this.metrics.commitSeconds.observe((performance.now() - started) / 1000);
      this.metrics.commitRecords.observe(total);
      this.opts.onOutcome?.(null);
    } catch (err) {
      this.opts.onOutcome?.(err as Error);
      for (const p of group) p.reject(err as Error);
    }
  }
}
