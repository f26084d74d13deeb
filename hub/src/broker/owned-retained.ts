// The retained messages the hub itself publishes (hub/state, configs, room summaries) are kept in the
// store, so that after a restart, or on a fresh external broker, they can be published again.
import { topics } from '@classroom/protocol';
import type { Clock, Db } from '../context.js';

export interface OwnedRetained {
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
}

/** The wire form of what a module asked the hub to publish. */
export function encodePayload(payload: unknown): Buffer {
  return Buffer.isBuffer(payload) ? payload : Buffer.from(JSON.stringify(payload));
}

export async function saveOwnedRetained(db: Db, clock: Clock, m: OwnedRetained): Promise<void> {
  await db.run(
    `INSERT INTO retained (topic, payload, qos, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (topic) DO UPDATE SET payload = excluded.payload, qos = excluded.qos, updated_at = excluded.updated_at`,
    [m.topic, m.payload, m.qos, clock.now()],
  );
}

/** Every stored retained message except hub/state, which the hub republishes as online itself. */
export async function loadOwnedRetained(db: Db): Promise<OwnedRetained[]> {
  const rows = await db.all<OwnedRetained>('SELECT topic, payload, qos FROM retained ORDER BY topic');
  return rows
    .filter((r) => r.topic !== topics.hubState())
    .map((r) => ({ topic: r.topic, payload: Buffer.from(r.payload), qos: r.qos }));
}
