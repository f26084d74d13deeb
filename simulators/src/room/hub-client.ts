import type { RecordT } from '@classroom/protocol';

/** The few hub API calls the simulators make (DESIGN: Hub, HTTP API). */
export interface HubTarget {
  /** Base URL of the HTTP API, e.g. http://127.0.0.1:8080 */
  api: string;
  adminToken: string;
  mqttHost: string;
  mqttPort: number;
}

export async function hubGet<T>(hub: Pick<HubTarget, 'api' | 'adminToken'>, path: string): Promise<T> {
  const res = await fetch(new URL(path, hub.api), { headers: { authorization: `Bearer ${hub.adminToken}` } });
  const text = await res.text();
  if (!res.ok) throw new Error(`GET ${path} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

export interface ApiRecord {
  agent: string;
  room: string | null;
  historical: boolean;
  receivedAt: number;
  record: RecordT;
}

/** Every stored record of one agent, following the cursor. */
export async function agentRecords(
  hub: Pick<HubTarget, 'api' | 'adminToken'>,
  agent: string,
): Promise<ApiRecord[]> {
  const out: ApiRecord[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 200; page++) {
    const q = new URLSearchParams({ agent, limit: '1000' });
    if (cursor) q.set('cursor', cursor);
    const body = await hubGet<{ records: ApiRecord[]; nextCursor: string | null }>(hub, `/api/records?${q}`);
    out.push(...body.records);
    cursor = body.nextCursor;
    if (!cursor) break;
  }
  return out;
}

export interface ApiAlarm {
  id: string;
  agent: string;
  source: string | null;
  type: string;
  state: 'active' | 'acked' | 'cleared';
}

export async function agentAlarms(
  hub: Pick<HubTarget, 'api' | 'adminToken'>,
  agent: string,
): Promise<ApiAlarm[]> {
  const q = new URLSearchParams({ agent, limit: '5000' });
  return (await hubGet<{ alarms: ApiAlarm[] }>(hub, `/api/alarms?${q}`)).alarms;
}

export interface ApiAgent {
  agent: string;
  availability: string;
  session: number | null;
}

/** An admin write to the hub's API (PUT or POST with a JSON body); throws with the hub's answer. */
export async function hubSend<T>(
  hub: Pick<HubTarget, 'api' | 'adminToken'>,
  method: 'PUT' | 'POST',
  path: string,
  body: unknown,
): Promise<T> {
  const res = await fetch(new URL(path, hub.api), {
    method,
    headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

/**
 * Replaces the room's timetable with the given classes (Unix ms), through
 * `PUT /api/rooms/{room}/schedule` as CSV `start,end,title` (docs/hub-people.md "Schedule").
 */
export async function importClasses(
  hub: Pick<HubTarget, 'api' | 'adminToken'>,
  room: string,
  classes: Array<{ start: number; end: number; title: string }>,
): Promise<{ periods: number }> {
  const csv = [
    'start,end,title',
    ...classes.map(
      (c) =>
        `${new Date(c.start).toISOString()},${new Date(c.end).toISOString()},${c.title.replace(/[",\n]/g, ' ')}`,
    ),
  ].join('\n');
  return hubSend(hub, 'PUT', `/api/rooms/${encodeURIComponent(room)}/schedule`, {
    format: 'csv',
    content: csv,
  });
}
