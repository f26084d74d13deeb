// The one decision of what a room tile says and how it looks (docs/hub-people.md, "The grid").
// Colour and words come from the same result, so a tile can never be green while the room has an
// open alarm. Pure: no DOM, no state; unit-tested in hub/test/dashboard-status.test.ts.

/** Problems, worst first. The first one present is the tile's headline. */
export const PROBLEMS = [
  'offline',
  'down',
  'black',
  'frozen',
  'silent',
  'no-capture',
  'precheck',
  'disk',
  'maintenance',
  'unknown',
];

const ALARM_PROBLEM = {
  'agent.offline': 'offline',
  'source.down': 'down',
  'video.black': 'black',
  'video.frozen': 'frozen',
  'audio.silent': 'silent',
  'schedule.no-capture': 'no-capture',
  'schedule.precheck': 'precheck',
  'disk.low': 'disk',
};

const SOURCE_PROBLEM = { down: 'down', black: 'black', frozen: 'frozen', silent: 'silent' };

const rank = (p) => PROBLEMS.indexOf(p);

/**
 * @param {{agent: null | {availability: string, since: number|null, sources: Array<{id: string, status: string, since: number|null}>}}} entry
 * @param {Array<{type: string, state: string, source: string|null, raisedAt: number}>} alarms the room's open alarms
 * @param {{maintenanceSince?: number|null}} [extra]
 * @returns {{level: 'alarm'|'acked'|'warn'|'ok'|'sleeping'|'unknown', problem: string|null, since: number|null,
 *   source: string|null, more: number, alarmed: boolean}}
 *  level: 'alarm' when an open alarm is unacknowledged, 'acked' when every open alarm is acknowledged,
 *  'warn' for a live problem that has not (yet) raised an alarm, 'sleeping' for maintenance, else
 *  'ok' or 'unknown'. `problem` is the worst problem, `more` how many other problems there are.
 */
export function roomCondition(entry, alarms, extra = {}) {
  const found = new Map();
  const add = (problem, since, source, alarmed) => {
    const prev = found.get(problem);
    // An alarm outranks a live reading of the same problem; the earliest time wins otherwise.
    if (!prev || (alarmed && !prev.alarmed) || (alarmed === prev.alarmed && (since ?? 0) < (prev.since ?? 0)))
      found.set(problem, { problem, since: since ?? null, source: source ?? null, alarmed });
  };
  let active = 0;
  let acked = 0;
  for (const al of alarms) {
    if (al.state !== 'active' && al.state !== 'acked') continue;
    if (al.state === 'active') active++;
    else acked++;
    add(ALARM_PROBLEM[al.type] ?? 'unknown', al.raisedAt, al.source, true);
  }
  const a = entry.agent;
  if (!a || a.availability === 'unknown') add('unknown', a?.since, null, false);
  else if (a.availability === 'sleeping') add('maintenance', a.since, null, false);
  else if (a.availability !== 'online') add('offline', a.since, null, false);
  else
    for (const s of a.sources) {
      const p = SOURCE_PROBLEM[s.status];
      if (p) add(p, s.since, s.id, false);
    }
  if (extra.maintenanceSince != null) add('maintenance', extra.maintenanceSince, null, false);

  const list = [...found.values()].sort((x, y) => rank(x.problem) - rank(y.problem));
  const worst = list[0] ?? null;
  let level;
  if (active > 0) level = 'alarm';
  else if (acked > 0) level = 'acked';
  else if (!worst) level = 'ok';
  else if (worst.problem === 'maintenance') level = 'sleeping';
  else if (worst.problem === 'unknown') level = 'unknown';
  else level = 'warn';
  return {
    level,
    problem: worst?.problem ?? null,
    since: worst?.since ?? null,
    source: worst?.source ?? null,
    more: Math.max(0, list.length - 1),
    alarmed: worst?.alarmed ?? false,
  };
}

/** Short "since" text: minutes, hours or days ago, from `now`. */
export function sinceText(since, now, lang) {
  if (since == null) return '';
  const min = Math.max(0, Math.floor((now - since) / 60_000));
  const zh = lang === 'zh-CN';
  if (min < 1) return zh ? '刚刚' : 'just now';
  if (min < 60) return zh ? `${min} 分钟前` : `${min} min ago`;
  const h = Math.floor(min / 60);
  if (h < 48) return zh ? `${h} 小时前` : `${h} h ago`;
  return zh ? `${Math.floor(h / 24)} 天前` : `${Math.floor(h / 24)} d ago`;
}
