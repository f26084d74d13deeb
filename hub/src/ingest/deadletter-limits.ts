// Bounds of the dead-letter table (DESIGN.md "Bad input … kept in a dead-letter table"; docs/hub.md
// "Dead letters"): one box sending garbage must not fill the hub's disk or log. Each agent has a rate of
// stored dead letters (a token bucket); beyond it a refusal is still counted in /metrics but neither
// stored nor logged. The table is capped by count, per agent and overall, oldest rows first.
import type { Clock, Db } from '../context.js';

export interface DeadLetterLimits {
  /** Dead letters stored per agent per minute, on average. */
  perAgentPerMinute: number;
  /** How many may be stored at once before the rate applies. */
  burst: number;
  /** Rows kept per agent (and for messages of no agent). */
  maxRowsPerAgent: number;
  /** Rows kept in all. */
  maxRows: number;
}

export const DEFAULT_DEAD_LETTER_LIMITS: DeadLetterLimits = {
  perAgentPerMinute: 60,
  burst: 120,
  maxRowsPerAgent: 1000,
  maxRows: 100_000,
};

/** Buckets are forgotten beyond this many agents (the least recently refilled first). */
const MAX_BUCKETS = 20_000;

/** Per-agent token buckets on the injected clock. */
export class DeadLetterRate {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly limits: Pick<DeadLetterLimits, 'perAgentPerMinute' | 'burst'>,
  ) {}

  /** Whether one more dead letter of `agent` may be stored now. */
  take(agent: string | null): boolean {
    const key = agent ?? '';
    const now = this.clock.now();
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key);
      b.tokens = Math.min(
        this.limits.burst,
        b.tokens + ((now - b.at) * this.limits.perAgentPerMinute) / 60_000,
      );
      b.at = now;
    } else {
      b = { tokens: this.limits.burst, at: now };
      if (this.buckets.size >= MAX_BUCKETS) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
    }
    // Re-inserted, so the Map's order is least recently used first.
    this.buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

export interface PruneOptions {
  /** Delete rows older than this (Unix ms): the age-based retention (`--retain-*-days`). */
  olderThan?: number;
  /** Keep at most this many rows of each agent in `agents` (null: rows of no agent). */
  maxRowsPerAgent?: number;
  agents?: Array<string | null>;
  /** Keep at most this many rows in all. */
  maxRows?: number;
}

/** Deletes dead letters beyond the given bounds, oldest first; returns how many went. */
export async function pruneDeadLetters(db: Db, o: PruneOptions): Promise<number> {
  let deleted = 0;
  if (o.olderThan !== undefined)
    deleted += (await db.run('DELETE FROM dead_letters WHERE ts < ?', [o.olderThan])).changes;
  if (o.maxRowsPerAgent !== undefined) {
    for (const agent of new Set(o.agents ?? [])) {
      const where = agent === null ? 'agent IS NULL' : 'agent = ?';
      const args = agent === null ? [] : [agent];
      const res = await db.run(
        `DELETE FROM dead_letters WHERE ${where} AND id <= (
           SELECT id FROM dead_letters WHERE ${where} ORDER BY id DESC LIMIT 1 OFFSET ?)`,
        [...args, ...args, o.maxRowsPerAgent],
      );
      deleted += res.changes;
    }
  }
  if (o.maxRows !== undefined) {
    const res = await db.run(
      'DELETE FROM dead_letters WHERE id <= (SELECT id FROM dead_letters ORDER BY id DESC LIMIT 1 OFFSET ?)',
      [o.maxRows],
    );
    deleted += res.changes;
  }
  return deleted;
}
