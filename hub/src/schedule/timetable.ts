// The room's timetable travels with each agent's retained config (docs/agent-media.md "Duty cycle";
// docs/hub-people.md "Schedule"): the box rests its sources outside classes. The hub sends the
// classes of the next TIMETABLE_HORIZON_MS and sends them again every TIMETABLE_REFRESH_MS, after a
// schedule import, and with every PUT config.
import { LIMITS, topics } from '@classroom/protocol';
import type { HubContext } from '../context.js';
import { listPeriods } from './store.js';

export const TIMETABLE_HORIZON_MS = 8 * 24 * 3600_000;
export const TIMETABLE_REFRESH_MS = 24 * 3600_000;

/** `{ timetable }` for the room's coming classes, or `{}` when it has none (the field is left out). */
export async function timetableField(
  ctx: HubContext,
  room: string | undefined,
  now: number,
): Promise<{ timetable?: [number, number][] }> {
  if (!room) return {};
  const periods = await listPeriods(ctx.db, room, now, now + TIMETABLE_HORIZON_MS);
  if (periods.length === 0) return {};
  return {
    timetable: periods.slice(0, LIMITS.maxTimetablePeriods).map((p) => [p.start, p.end] as [number, number]),
  };
}

/**
 * Publishes a new version of an agent's retained config: the settings stored by PUT config (none:
 * `{}`) plus the room's timetable. Versions only go up, also past what the agent reported in its birth.
 */
export async function publishConfigWithTimetable(ctx: HubContext, agent: string, now: number): Promise<void> {
  const view = ctx.registry.agent(agent);
  const extra = await timetableField(ctx, view?.room?.id, now);
  const { version, settings } = await ctx.db.transaction(async () => {
    const prev = await ctx.db.get<{ version: number | string; config: string }>(
      'SELECT version, config FROM agent_configs WHERE agent = ?',
      [agent],
    );
    const next = Math.max(Number(prev?.version ?? 0), view?.birth?.configVersion ?? 0) + 1;
    const stored = prev ? (JSON.parse(prev.config) as Record<string, unknown>) : {};
    if (prev) {
      await ctx.db.run('UPDATE agent_configs SET version = ?, updated_at = ? WHERE agent = ?', [
        next,
        now,
        agent,
      ]);
    } else {
      await ctx.db.run('INSERT INTO agent_configs (agent, version, config, updated_at) VALUES (?, ?, ?, ?)', [
        agent,
        next,
        '{}',
        now,
      ]);
    }
    return { version: next, settings: stored };
  });
  await ctx.mqtt.publish(
    topics.config(agent),
    { v: 1, version, config: { ...settings, ...extra } },
    { qos: 1, retain: true },
  );
}
