// Persistence of alarms: one row per (agent, source, type) plus an append-only history of every
// transition (DESIGN.md "Alarms": every transition is recorded). SQL sticks to what SQLite and PostgreSQL share.
import type { Db } from '../context.js';
import type { Alarm, AlarmHistoryEntry, AlarmState, AlarmType } from './types.js';

export const ALARMS_MIGRATION = `
CREATE TABLE IF NOT EXISTS alarms (
  id TEXT PRIMARY KEY,
  agent TEXT NOT NULL,
  source TEXT NOT NULL,
  type TEXT NOT NULL,
  room TEXT,
  state TEXT NOT NULL,
  flapping INTEGER NOT NULL DEFAULT 0,
  detail TEXT NOT NULL DEFAULT '{}',
  raised_at BIGINT NOT NULL,
  acked_at BIGINT,
  acked_by TEXT,
  ack_note TEXT,
  cleared_at BIGINT,
  updated_at BIGINT NOT NULL,
  raise_count INTEGER NOT NULL DEFAULT 1,
  UNIQUE (agent, source, type)
);
CREATE INDEX IF NOT EXISTS alarms_state_raised ON alarms (state, raised_at);
CREATE TABLE IF NOT EXISTS alarm_history (
  alarm_id TEXT NOT NULL,
  ts BIGINT NOT NULL,
  from_state TEXT,
  to_state TEXT NOT NULL,
  who TEXT,
  note TEXT
);
CREATE INDEX IF NOT EXISTS alarm_history_alarm ON alarm_history (alarm_id, ts);
`;

interface AlarmRow {
  id: string;
  agent: string;
  source: string;
  type: string;
  room: string | null;
  state: string;
  flapping: number | string;
  detail: string;
  raised_at: number | string;
  acked_at: number | string | null;
  acked_by: string | null;
  ack_note: string | null;
  cleared_at: number | string | null;
  updated_at: number | string;
  raise_count: number | string;
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

function fromRow(r: AlarmRow): Alarm {
  let detail: Record<string, unknown> = {};
  try {
    detail = JSON.parse(r.detail) as Record<string, unknown>;
  } catch {
    detail = {};
  }
  return {
    id: r.id,
    agent: r.agent,
    source: r.source === '' ? null : r.source,
    type: r.type as AlarmType,
    room: r.room,
    state: r.state as AlarmState,
    flapping: Number(r.flapping) === 1,
    detail,
    raisedAt: Number(r.raised_at),
    ackedAt: num(r.acked_at),
    ackedBy: r.acked_by,
    ackNote: r.ack_note,
    clearedAt: num(r.cleared_at),
    updatedAt: Number(r.updated_at),
    raiseCount: Number(r.raise_count),
  };
}

export interface AlarmQuery {
  state?: AlarmState | undefined;
  room?: string | undefined;
  agent?: string | undefined;
  limit: number;
  /** Keyset cursor: rows strictly after (updatedAt, id) in descending order. */
  after?: { updatedAt: number; id: string } | undefined;
}

export class AlarmStore {
  constructor(private readonly db: Db) {}

  async migrate(): Promise<void> {
    await this.db.migrate('people-001-alarms', ALARMS_MIGRATION);
  }

  async loadAll(): Promise<Alarm[]> {
    const rows = await this.db.all<AlarmRow>('SELECT * FROM alarms');
    return rows.map(fromRow);
  }

  async get(id: string): Promise<Alarm | undefined> {
    const row = await this.db.get<AlarmRow>('SELECT * FROM alarms WHERE id = ?', [id]);
    return row ? fromRow(row) : undefined;
  }

  /** Writes the row and its history entry in one transaction. */
  async save(alarm: Alarm, entry: AlarmHistoryEntry): Promise<void> {
    await this.db.transaction(async () => {
      // One upsert: the (agent, source, type) row is created on first raise and updated after.
      await this.db.run(
        `INSERT INTO alarms (id, agent, source, type, room, state, flapping, detail, raised_at, acked_at,
           acked_by, ack_note, cleared_at, updated_at, raise_count)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET room = excluded.room, state = excluded.state,
           flapping = excluded.flapping, detail = excluded.detail, raised_at = excluded.raised_at,
           acked_at = excluded.acked_at, acked_by = excluded.acked_by, ack_note = excluded.ack_note,
           cleared_at = excluded.cleared_at, updated_at = excluded.updated_at, raise_count = excluded.raise_count`,
        [
          alarm.id,
          alarm.agent,
          alarm.source ?? '',
          alarm.type,
          alarm.room,
          alarm.state,
          alarm.flapping ? 1 : 0,
          JSON.stringify(alarm.detail),
          alarm.raisedAt,
          alarm.ackedAt,
          alarm.ackedBy,
          alarm.ackNote,
          alarm.clearedAt,
          alarm.updatedAt,
          alarm.raiseCount,
        ],
      );
      await this.db.run(
        'INSERT INTO alarm_history (alarm_id, ts, from_state, to_state, who, note) VALUES (?, ?, ?, ?, ?, ?)',
        [alarm.id, entry.ts, entry.from, entry.to, entry.who, entry.note],
      );
    });
  }

  async list(q: AlarmQuery): Promise<Alarm[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.state) {
      where.push('state = ?');
      params.push(q.state);
    }
    if (q.room) {
      where.push('room = ?');
      params.push(q.room);
    }
    if (q.agent) {
      where.push('agent = ?');
      params.push(q.agent);
    }
    if (q.after) {
      where.push('(updated_at < ? OR (updated_at = ? AND id < ?))');
      params.push(q.after.updatedAt, q.after.updatedAt, q.after.id);
    }
    const sql = `SELECT * FROM alarms ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY updated_at DESC, id DESC LIMIT ${Math.max(1, Math.min(q.limit, 5000))}`;
    const rows = await this.db.all<AlarmRow>(sql, params);
    return rows.map(fromRow);
  }

  async history(id: string): Promise<AlarmHistoryEntry[]> {
    const rows = await this.db.all<{
      ts: number | string;
      from_state: string | null;
      to_state: string;
      who: string | null;
      note: string | null;
    }>('SELECT ts, from_state, to_state, who, note FROM alarm_history WHERE alarm_id = ? ORDER BY ts', [id]);
    return rows.map((r) => ({
      ts: Number(r.ts),
      from: r.from_state as AlarmState | null,
      to: r.to_state as AlarmState,
      who: r.who,
      note: r.note,
    }));
  }
}
