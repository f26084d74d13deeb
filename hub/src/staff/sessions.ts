// Server-side sessions of staff users (docs/hub-people.md, "Sessions"). The browser holds only a random
// id in an HttpOnly cookie; the table keeps its SHA-256, so a copy of the database opens no session.
// Every request reads the row, so logging out, disabling a user or a new password ends a session on
// every hub sharing the database at once.
import { createHash, randomBytes } from 'node:crypto';
import type { Clock, Db } from '../context.js';
import type { StaffPrincipal, StaffRole } from './roles.js';

export const SESSION_COOKIE = 'classroom_session';
/** A session ends this long after login, whatever its use (a duty shift, plus margin). */
export const DEFAULT_SESSION_TTL_MS = 12 * 3600_000;

function digest(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

export class StaffSessions {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    readonly ttlMs = DEFAULT_SESSION_TTL_MS,
  ) {}

  /** Opens a session; returns the id for the cookie (never stored) and when it expires. */
  async open(
    name: string,
    meta: { ip: string; userAgent: string },
  ): Promise<{ id: string; expiresAt: number }> {
    const now = this.clock.now();
    const id = randomBytes(32).toString('base64url');
    const expiresAt = now + this.ttlMs;
    await this.db.run('DELETE FROM staff_sessions WHERE expires_at <= ?', [now]);
    await this.db.run(
      `INSERT INTO staff_sessions (id_hash, name, created_at, expires_at, ip, user_agent)
       VALUES (?, ?, ?, ?, ?, ?)`,
      [digest(id), name, now, expiresAt, meta.ip, meta.userAgent.slice(0, 256)],
    );
    return { id, expiresAt };
  }

  /** The user of a live session of an enabled account, with the account's current role. */
  async resolve(id: string): Promise<StaffPrincipal | null> {
    if (id.length === 0 || id.length > 128) return null;
    const row = await this.db.get<{ name: string; role: StaffRole; expires_at: number | string }>(
      `SELECT s.name, u.role, s.expires_at FROM staff_sessions s
       JOIN staff_users u ON u.name = s.name AND u.disabled_at IS NULL
       WHERE s.id_hash = ? AND s.expires_at > ?`,
      [digest(id), this.clock.now()],
    );
    if (!row) return null;
    return { name: row.name, role: row.role, via: 'session', expiresAt: Number(row.expires_at) };
  }

  async close(id: string): Promise<void> {
    await this.db.run('DELETE FROM staff_sessions WHERE id_hash = ?', [digest(id)]);
  }
}
