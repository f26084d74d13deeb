// Client-side model of rooms and open alarms, fed by the REST API and /api/stream.
// Every change marks what must be redrawn; the view redraws once per animation frame.
import { roomCondition } from './status.js';

export const state = {
  /** roomId → { room: {id,name,building,floor,campus}, agent: AgentView | null } */
  rooms: new Map(),
  /** agent id → room id */
  agentRoom: new Map(),
  /** alarm id → alarm (active and acked only) */
  alarms: new Map(),
  filters: { status: 'all', building: 'all', attention: false, q: '' },
  view: 'rooms',
  detailRoom: null,
  /** The caller's role from GET /api/session (the admin token acts as admin). */
  role: null,
  /** roomId → { room, classNow, maintenance } from GET /api/overview */
  overview: new Map(),
  /** the last GET /api/overview body (header figures) */
  header: null,
};

const listeners = new Set();
const dirtyRooms = new Set();
let structural = false;
let alarmsDirty = false;
let frame = 0;

export function onRender(fn) {
  listeners.add(fn);
}

function schedule() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    const change = { rooms: new Set(dirtyRooms), structural, alarms: alarmsDirty };
    dirtyRooms.clear();
    structural = false;
    alarmsDirty = false;
    for (const fn of listeners) fn(change);
  });
}

export function markRoom(roomId) {
  dirtyRooms.add(roomId);
  schedule();
}
export function markStructure() {
  structural = true;
  schedule();
}
export function markAlarms() {
  alarmsDirty = true;
  schedule();
}

/** The tile's condition (status.js): level, worst problem, since when. */
export function condition(entry) {
  const o = state.overview.get(entry.room.id);
  return roomCondition(entry, roomAlarms(entry.room.id), { maintenanceSince: o?.maintenance?.since ?? null });
}

/** alarm | acked | warn | ok | sleeping | unknown (the filter's values). */
export function roomStatus(entry) {
  return condition(entry).level;
}

export function roomAlarms(roomId) {
  const out = [];
  for (const al of state.alarms.values()) if (al.room === roomId) out.push(al);
  return out.sort((x, y) => y.raisedAt - x.raisedAt);
}

export function needsAttention(entry) {
  const level = roomStatus(entry);
  return level === 'alarm' || level === 'warn';
}

/** Per-room extras from GET /api/overview (class on now, maintenance) and the header figures. */
export function setOverview(ov) {
  state.overview.clear();
  for (const r of ov.rooms) state.overview.set(r.room, r);
  state.header = ov;
  markStructure();
}

export function setRooms(list) {
  state.rooms.clear();
  state.agentRoom.clear();
  for (const r of list) {
    const agent = pickAgent(r.agents);
    state.rooms.set(r.room.id, { room: r.room, agent });
    for (const a of r.agents) state.agentRoom.set(a.agent, r.room.id);
  }
  markStructure();
}

function pickAgent(agents) {
  return agents.find((a) => a.availability === 'online') ?? agents[0] ?? null;
}

export function setAlarms(list) {
  state.alarms.clear();
  for (const al of list) if (al.state !== 'cleared') state.alarms.set(al.id, al);
  markAlarms();
  markStructure();
}

export function upsertAlarm(al) {
  if (al.state === 'cleared') state.alarms.delete(al.id);
  else state.alarms.set(al.id, al);
  markAlarms();
  if (al.room) markRoom(al.room);
}

function entryForAgent(agentId) {
  const roomId = state.agentRoom.get(agentId);
  return roomId ? state.rooms.get(roomId) : undefined;
}

const EVENT_STATUS = {
  'source.down': 'down',
  'source.up': 'ok',
  'video.black.start': 'black',
  'video.black.end': 'ok',
  'video.frozen.start': 'frozen',
  'video.frozen.end': 'ok',
  'audio.silence.start': 'silent',
  'audio.silence.end': 'ok',
};

/** Applies one /api/stream message; returns the room id it concerned, if any. */
export function applyStreamMessage(msg) {
  const d = msg.data;
  switch (msg.type) {
    case 'availability': {
      const e = entryForAgent(d.agent);
      if (!e?.agent) return null;
      e.agent.availability = d.availability;
      e.agent.since = d.ts;
      markRoom(e.room.id);
      return e.room.id;
    }
    case 'birth': {
      let e = state.rooms.get(d.room.id);
      if (!e) {
        e = { room: d.room, agent: null };
        state.rooms.set(d.room.id, e);
        markStructure();
      } else if (e.room.building !== d.room.building || e.room.floor !== d.room.floor) markStructure();
      e.room = d.room;
      state.agentRoom.set(d.agent, d.room.id);
      const prev = e.agent;
      e.agent = {
        agent: d.agent,
        room: d.room,
        availability: prev?.availability ?? 'online',
        since: msg.ts,
        session: d.session,
        lastSeen: msg.ts,
        birth: null,
        telemetry: prev?.telemetry ?? null,
        // Same rule as the hub's registry: a source whose probe failed starts as down.
        sources: d.sources.map((s) => ({ ...s, status: s.probe?.error ? 'down' : 'ok', since: msg.ts })),
      };
      markRoom(d.room.id);
      return d.room.id;
    }
    case 'telemetry': {
      const e = entryForAgent(d.agent);
      if (!e?.agent) return null;
      e.agent.telemetry = d.telemetry;
      e.agent.lastSeen = d.telemetry.ts;
      if (state.detailRoom === e.room.id) markRoom(e.room.id);
      return e.room.id;
    }
    case 'events': {
      const e = entryForAgent(d.agent);
      if (!e?.agent) return null;
      for (const r of d.records) {
        const status = EVENT_STATUS[r.type];
        const src = e.agent.sources.find((s) => s.id === r.source);
        if (status && src) {
          src.status = status;
          src.since = r.ts;
        }
      }
      markRoom(e.room.id);
      return e.room.id;
    }
    case 'alarm':
      upsertAlarm(d.alarm);
      return d.alarm.room;
    default:
      return null;
  }
}
