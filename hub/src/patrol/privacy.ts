// Private rooms (docs/hub-people.md, "Patrol wall"): a room marked private never shows on the patrol
// wall and its thumbnail is refused. The flag is stored, so it holds across restarts and for every
// hub sharing the database; it is read from the store on each request for the same reason.
import type { Db } from '../context.js';

export const PRIVACY_MIGRATION = `
CREATE TABLE IF NOT EXISTS room_privacy (
  room TEXT PRIMARY KEY,
  updated_at BIGINT NOT NULL,
  updated_by TEXT NOT NULL
);`;

export interface PrivateRoom {
  room: string;
  since: number;
  by: string;
}

export class RoomPrivacy {
  constructor(private readonly db: Db) {}

  async migrate(): Promise<void> {
    await this.db.migrate('patrol-001-room-privacy', PRIVACY_MIGRATION);
  }

  async isPrivate(room: string): Promise<boolean> {
    return (await this.db.get('SELECT room FROM room_privacy WHERE room = ?', [room])) !== undefined;
  }

  async list(): Promise<PrivateRoom[]> {
    const rows = await this.db.all<{ room: string; updated_at: number | string; updated_by: string }>(
      'SELECT room, updated_at, updated_by FROM room_privacy ORDER BY room',
    );
    return rows.map((r) => ({ room: r.room, since: Number(r.updated_at), by: r.updated_by }));
  }

  async set(room: string, on: boolean, by: string, now: number): Promise<PrivateRoom | null> {
    if (!on) {
      await this.db.run('DELETE FROM room_privacy WHERE room = ?', [room]);
      return null;
    }
    await this.db.run(
      `INSERT INTO room_privacy (room, updated_at, updated_by) VALUES (?, ?, ?)
       ON CONFLICT (room) DO NOTHING`,
      [room, now, by],
    );
    const row = await this.db.get<{ updated_at: number | string; updated_by: string }>(
      'SELECT updated_at, updated_by FROM room_privacy WHERE room = ?',
      [room],
    );
    return { room, since: Number(row?.updated_at ?? now), by: row?.updated_by ?? by };
  }
}
