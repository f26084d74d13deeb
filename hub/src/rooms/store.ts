// The room registry's table (docs/hub-people.md "Room registry"). An import is the platform's whole
// list: it replaces the table in one transaction, so a failed import leaves the previous registry,
// and importing the same file twice changes nothing.
import type { Db } from '../context.js';
import type { RegistryRoom } from './parse.js';

export const ROOMS_MIGRATION = `
CREATE TABLE IF NOT EXISTS room_registry (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  building   TEXT NOT NULL,
  floor      TEXT NOT NULL,
  campus     TEXT NOT NULL,
  capacity   INTEGER,
  updated_at BIGINT NOT NULL
);`;

export async function migrateRooms(db: Db): Promise<void> {
  await db.migrate('rooms-001-registry', ROOMS_MIGRATION);
}

interface Row {
  id: string;
  name: string;
  building: string;
  floor: string;
  campus: string;
  capacity: number | string | null;
  updated_at: number | string;
}

const fromRow = (r: Row): RegistryRoom => ({
  id: r.id,
  name: r.name,
  building: r.building,
  floor: r.floor,
  campus: r.campus,
  capacity: r.capacity === null ? null : Number(r.capacity),
});

const same = (a: RegistryRoom, b: RegistryRoom): boolean =>
  a.name === b.name &&
  a.building === b.building &&
  a.floor === b.floor &&
  a.campus === b.campus &&
  a.capacity === b.capacity;

/** Rooms per statement: 7 parameters a row stays far below SQLite's and PostgreSQL's limits. */
const CHUNK = 500;

export interface ImportResult {
  rooms: number;
  added: number;
  updated: number;
  unchanged: number;
  removed: number;
}

export async function listRegistryRooms(db: Db): Promise<RegistryRoom[]> {
  return (await db.all<Row>('SELECT * FROM room_registry ORDER BY id')).map(fromRow);
}

/** Newest change and size, so a running hub notices an import made by another process cheaply. */
export async function registryVersion(db: Db): Promise<string> {
  const r = await db.get<{ n: number | string; t: number | string | null }>(
    'SELECT COUNT(*) AS n, MAX(updated_at) AS t FROM room_registry',
  );
  return `${Number(r?.n ?? 0)}:${Number(r?.t ?? 0)}`;
}

export async function importRegistryRooms(db: Db, rooms: RegistryRoom[], now: number): Promise<ImportResult> {
  await migrateRooms(db);
  return db.transaction(async () => {
    const before = new Map((await listRegistryRooms(db)).map((r) => [r.id, r]));
    const res: ImportResult = { rooms: rooms.length, added: 0, updated: 0, unchanged: 0, removed: 0 };
    const keep = new Set<string>();
    const write: RegistryRoom[] = [];
    for (const r of rooms) {
      keep.add(r.id);
      const old = before.get(r.id);
      if (old && same(old, r)) {
        res.unchanged++;
        continue;
      }
      if (old) res.updated++;
      else res.added++;
      write.push(r);
    }
    // Multi-row statements: the transaction holds the store's one write queue, which ingest shares,
    // so a campus-sized import must be a few statements, not one per room.
    for (let i = 0; i < write.length; i += CHUNK) {
      const part = write.slice(i, i + CHUNK);
      await db.run(
        `INSERT INTO room_registry (id, name, building, floor, campus, capacity, updated_at)
         VALUES ${part.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, building = excluded.building,
           floor = excluded.floor, campus = excluded.campus, capacity = excluded.capacity,
           updated_at = excluded.updated_at`,
        part.flatMap((r) => [r.id, r.name, r.building, r.floor, r.campus, r.capacity, now]),
      );
    }
    const gone = [...before.keys()].filter((id) => !keep.has(id));
    for (let i = 0; i < gone.length; i += CHUNK) {
      const part = gone.slice(i, i + CHUNK);
      await db.run(`DELETE FROM room_registry WHERE id IN (${part.map(() => '?').join(', ')})`, part);
    }
    res.removed = gone.length;
    // A removal changes the count, an upsert the newest time: either moves registryVersion.
    return res;
  });
}
