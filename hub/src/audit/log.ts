// The audit log (docs/hub-people.md, "Audit log"): who did what, when and from where. Rows are only
// ever inserted; the hub never edits them. The CLI writes here too (actor `cli`).
import type { FastifyRequest } from 'fastify';
import type { Clock, Db } from '../context.js';

export interface AuditInput {
  /** Staff user name, `admin-token` or `cli`. */
  actor: string;
  /** The actor's role at the time (`admin` for the token and the CLI). */
  role: string;
  /** `area.verb`, e.g. `alarm.ack`, `command.send`, `patrol.view` (docs/hub-people.md lists them). */
  action: string;
  /** What it was done to: an alarm id, an agent id, a room id… */
  target?: string | null | undefined;
  /** Small JSON object of what matters (command name, role given…); never a secret. */
  detail?: Record<string, unknown> | undefined;
  /** Client address, or null for the CLI. */
  ip?: string | null | undefined;
}

export interface AuditEntry {
  id: number;
  ts: number;
  actor: string;
  role: string;
  action: string;
  target: string | null;
  detail: Record<string, unknown>;
  ip: string | null;
}

interface Row {
  id: number | string;
  ts: number | string;
  actor: string;
  role: string;
  action: string;
  target: string | null;
  detail: string;
  ip: string | null;
}

export interface AuditQuery {
  from?: number | undefined;
  to?: number | undefined;
  actor?: string | undefined;
  /** Exact action, or a prefix ending in `.` (`alarm.` matches every alarm action). */
  action?: string | undefined;
  /** Entries older than this id (keyset paging, newest first). */
  beforeId?: number | undefined;
  limit: number;
}

const MAX_DETAIL_CHARS = 4096;

export class AuditLog {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async record(e: AuditInput): Promise<void> {
    let detail = JSON.stringify(e.detail ?? {});
    if (detail.length > MAX_DETAIL_CHARS) detail = JSON.stringify({ truncated: detail.slice(0, 512) });
    await this.db.run(
      'INSERT INTO audit_log (ts, actor, role, action, target, detail, ip) VALUES (?, ?, ?, ?, ?, ?, ?)',
      [
        this.clock.now(),
        e.actor.slice(0, 128),
        e.role,
        e.action.slice(0, 64),
        e.target?.slice(0, 256) ?? null,
        detail,
        e.ip ?? null,
      ],
    );
  }

  /**
   * Records an action that a route does itself (a patrol view, a login) as the caller of `req`:
   * features call `ctx.audit.recordRequest(req, 'patrol.view', roomId)`.
   */
  async recordRequest(
    req: FastifyRequest,
    action: string,
    target?: string | null,
    detail?: Record<string, unknown>,
  ): Promise<void> {
    const who = (req as { staff?: { name: string; role: string } | null }).staff;
    await this.record({
      actor: who?.name ?? 'anonymous',
      role: who?.role ?? 'none',
      action,
      target,
      detail,
      ip: req.ip,
    });
  }

  async query(q: AuditQuery): Promise<AuditEntry[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, ...values: unknown[]) => {
      where.push(sql);
      params.push(...values);
    };
    if (q.from !== undefined) add('ts >= ?', q.from);
    if (q.to !== undefined) add('ts < ?', q.to);
    if (q.actor !== undefined) add('actor = ?', q.actor);
    if (q.action?.endsWith('.')) add('substr(action, 1, ?) = ?', q.action.length, q.action);
    else if (q.action !== undefined) add('action = ?', q.action);
    if (q.beforeId !== undefined) add('id < ?', q.beforeId);
    params.push(q.limit);
    const rows = await this.db.all<Row>(
      `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`,
      params,
    );
    return rows.map((r) => ({
      id: Number(r.id),
      ts: Number(r.ts),
      actor: r.actor,
      role: r.role,
      action: r.action,
      target: r.target,
      detail: JSON.parse(r.detail) as Record<string, unknown>,
      ip: r.ip,
    }));
  }
}
