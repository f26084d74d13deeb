// Group commit (issue 3 §4): batches from many agents that arrive within a few milliseconds are written
// in one transaction, so the fsync cost is shared. Each submitter learns which of its records were new.
import type { RecordT } from '@classroom/protocol';
import type { Clock } from '../context.js';
import type { CoreMetrics } from '../metrics.js';
import type { SqliteDb } from '../store/sqlite.js';

const COLUMNS = 11;
/** Rows per INSERT statement, so that one statement's JSON stays a few MB at most. */
const ROWS_PER_STATEMENT = 5000;

/**
 * The hub's insert: the whole group travels as ONE JSON parameter that SQLite unpacks with json_each.
 * Binding tens of thousands of parameters one by one happens on Node's main thread (node-sqlite3), which
 * is also the thread that parses MQTT and validates; JSON unpacking runs on the database thread instead.
 * The SQL text is constant, so nothing is re-parsed per row count.
 */
export const INSERT_JSON_SQL = `INSERT OR IGNORE INTO records
  (agent, seq, kind, source, ts, end_ts, room, type, historical, received_at, body)
  SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7, value->>8,
         value->>9, value->'$[10]'
  FROM json_each(?) RETURNING agent, seq`;

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
  /** How long the first batch of a group waits for company before the group is written. */
  windowMs: number;
  /** A group this large is written without waiting for the window. */
  maxRecords: number;
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
  private inFlight: Promise<void> | null = null;

  constructor(
    private readonly db: SqliteDb,
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
      else this.kick(this.opts.windowMs);
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
      void this.writeGroup();
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
      const insert = async (rows: unknown[][]) => {
        const got = await this.db.allWrite<{ agent: string; seq: number }>(INSERT_JSON_SQL, [
          JSON.stringify(rows),
        ]);
        for (const g of got) inserted.add(`${g.agent}\u0000${g.seq}`);
      };
      // One statement is its own transaction; only a group larger than that needs BEGIN/COMMIT.
      if (statements.length === 1 && statements[0]) await insert(statements[0]);
      else {
        await this.db.transaction(async () => {
          for (const st of statements) await insert(st);
        });
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
    } catch (err) {
      for (const p of group) p.reject(err as Error);
    }
  }
}
