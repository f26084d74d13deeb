// Agent availability and the room registry (DESIGN.md "Agent availability", docs/hub.md "Availability").
// Pure in-memory state machine driven by validated messages and an injected clock; persistence is a
// callback so that the rules are unit-tested with fake timers.
import type { AgentState, Availability, Birth, RecordT, Telemetry } from '@classroom/protocol';
import type { AgentView, Bus, Clock, HubRegistry, SourceView } from '../context.js';
import { SourceHealthTracker, sourceEvents } from './sources.js';

/** `lost` after this many telemetry intervals without hearing from an agent (DESIGN.md). */
export const SILENT_INTERVALS = 3;
const DEFAULT_TELEMETRY_INTERVAL_S = 30;
/**
 * Sources tracked per agent (docs/hub.md "Per-agent bounds"): twice what a birth may hold, so events of
 * made-up source ids cannot grow the hub's memory without end.
 */
export const MAX_SOURCES_PER_AGENT = 32;

const byAgent = (a: { agent: string }, b: { agent: string }): number => (a.agent < b.agent ? -1 : 1);

export interface StoredAgent {
  agent: string;
  room: Birth['room'] | null;
  birth: Birth | null;
  session: number | null;
  lastSeen: number | null;
}

interface Entry {
  agent: string;
  /**
   * The room the agent was provisioned with (`agents add --room`, `agents move`): authoritative over the
   * birth's room (DESIGN.md "A box is only itself"). Null only for an agent the hub has no account of.
   */
  provisionalRoom: Birth['room'] | null;
  /** Source ids of the current birth, for the unknown_source check of every record. */
  sourceIds: Set<string> | null;
  availability: Availability;
  since: number;
  session: number | null;
  lastSeen: number | null;
  birth: Birth | null;
  telemetry: Telemetry | null;
  sources: Map<string, SourceHealthTracker>;
}

export interface RegistryDeps {
  clock: Clock;
  bus: Bus;
  log: { info(o: object, m: string): void; debug(o: object, m: string): void };
  /** Called after a birth or an availability change, to keep the `agents` table current. */
  persist?: (agent: StoredAgent & { availability: Availability; since: number }) => void;
  /** Called when an agent's records name more sources than MAX_SOURCES_PER_AGENT (counted in /metrics). */
  limited?: (limit: 'source_ids', agent: string) => void;
}

export class AgentRegistry implements HubRegistry {
  private readonly entries = new Map<string, Entry>();
  /**
   * Room id → agents in it, kept current on every room change, so a room's agents are found without
   * scanning the fleet (a summary per room change at 10,000 agents made `byRoom` a hot spot).
   */
  private readonly rooms = new Map<string, Set<Entry>>();
  /** Agent ids in order; rebuilt lazily after an agent is added, so `agents()` does not sort each call. */
  private order: Entry[] | null = null;
  private readonly availabilityCounts: Record<Availability, number> = {
    online: 0,
    offline: 0,
    lost: 0,
    sleeping: 0,
    unknown: 0,
  };
  private timer: NodeJS.Timeout | undefined;
  /**
   * The platform's room registry (rooms/module.ts): where it knows a room, its name, building, floor and
   * campus are what is shown and filed, whatever a box's birth says (docs/hub-people.md "Room registry").
   */
  private directory: ReadonlyMap<string, Birth['room']> = new Map();

  constructor(private readonly deps: RegistryDeps) {}

  /** Replaces the room registry used for the rooms' details; room ids (and so filing) are unchanged. */
  setRoomDirectory(directory: ReadonlyMap<string, Birth['room']>): void {
    this.directory = directory;
  }

  /** Starts the silence check; the period is short against any telemetry interval (≥ 1 s). */
  start(checkEveryMs = 1000): void {
    this.timer = this.deps.clock.setInterval(() => this.checkSilence(), checkEveryMs);
  }

  stop(): void {
    this.deps.clock.clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Agents known from the store after a restart: `unknown` until heard from. */
  load(stored: StoredAgent): void {
    if (this.entries.has(stored.agent)) return;
    const e = this.create(stored.agent, stored.room);
    this.moveRoom(e, () => {
      e.birth = stored.birth;
    });
    e.session = stored.session;
    e.lastSeen = stored.lastSeen;
    if (stored.birth) {
      this.resetSources(e, stored.birth);
      e.sourceIds = new Set(stored.birth.sources.map((s) => s.id));
    }
  }

  /**
   * A provisioned agent and its provisioned room, which is authoritative. A changed room (a move) takes
   * effect at once: later records, alarms and summaries are filed under it.
   */
  ensure(agent: string, room: Birth['room'] | null): void {
    const e = this.entries.get(agent);
    if (!e) {
      this.create(agent, room);
      return;
    }
    if (!room) return;
    const previous = e.provisionalRoom;
    if (previous?.id === room.id && (e.birth || previous.name === room.name)) return;
    const from = this.roomId(e);
    this.moveRoom(e, () => {
      e.provisionalRoom = previous?.id === room.id ? { ...previous, name: room.name } : room;
    });
    const to = this.roomId(e);
    if (from === to) return;
    const ts = this.deps.clock.now();
    this.deps.log.info({ agent, from, to }, 'agent moved to another room');
    this.persist(e);
    this.deps.bus.emit('agent.moved', { agent, from, to, ts });
    if (e.birth) this.checkRoom(e, e.birth, 'move');
  }

  /** Source ids of the agent's current birth; null before any birth. */
  sourceIdsOf(agent: string): ReadonlySet<string> | null {
    return this.entries.get(agent)?.sourceIds ?? null;
  }

  onState(agent: string, msg: AgentState): void {
    const e = this.touch(agent);
    // The session rule: a will (or any state) from an older session than the current one is stale.
    if (e.session !== null && msg.session < e.session) {
      this.deps.log.debug(
        { agent, session: msg.session, current: e.session, state: msg.state },
        'stale state ignored',
      );
      return;
    }
    e.session = msg.session;
    this.transition(e, msg.state, msg.state === 'lost' ? 'will' : `state ${msg.state}`);
  }

  onBirth(agent: string, birth: Birth): void {
    const e = this.touch(agent);
    if (e.session !== null && birth.session < e.session) {
      this.deps.log.debug({ agent, session: birth.session, current: e.session }, 'stale birth ignored');
      return;
    }
    const newSession = e.session !== birth.session;
    e.session = birth.session;
    this.moveRoom(e, () => {
      e.birth = birth;
    });
    e.sourceIds = new Set(birth.sources.map((s) => s.id));
    if (newSession || e.sources.size === 0) this.resetSources(e, birth);
    // A sleeping agent announces `sleeping` for the same session; a birth does not wake it.
    if (!(e.availability === 'sleeping' && !newSession)) this.transition(e, 'online', 'birth', false);
    this.persist(e);
    this.deps.bus.emit('agent.birth', { agent, birth, ts: this.deps.clock.now(), room: this.roomOfEntry(e) });
    this.checkRoom(e, birth, 'birth');
  }

  /** Tells the bus whether the birth's room disagrees with the provisioned one (on every birth and move). */
  private checkRoom(e: Entry, birth: Birth, cause: 'birth' | 'move'): void {
    const provisioned = e.provisionalRoom?.id ?? null;
    const mismatch = provisioned !== null && birth.room.id !== provisioned;
    // Sent for matching births too: after a restart the open alarm is in the store, not in this entry,
    // and only a "no mismatch" clears it. The alarm engine ignores a clear with nothing open.
    if (mismatch) {
      this.deps.log.info(
        { agent: e.agent, room: provisioned, claimed: birth.room.id, cause },
        'birth names another room than the provisioned one; filed under the provisioned room',
      );
    }
    this.deps.bus.emit('agent.room_mismatch', {
      agent: e.agent,
      room: provisioned,
      claimed: birth.room.id,
      mismatch,
      cause,
      ts: this.deps.clock.now(),
    });
  }

  onTelemetry(agent: string, telemetry: Telemetry): void {
    const e = this.touch(agent);
    if (e.session !== null && telemetry.session < e.session) return;
    e.telemetry = telemetry;
    this.heard(e, 'telemetry');
    this.deps.bus.emit('agent.telemetry', { agent, room: this.roomId(e), telemetry });
  }

  /** Committed records: proof of life, and the source events that drive source health. */
  onRecords(agent: string, records: RecordT[], historical: boolean): void {
    const e = this.touch(agent);
    if (!historical) this.heard(e, 'records');
    for (const ev of sourceEvents(records)) {
      let s = e.sources.get(ev.source);
      if (!s) {
        if (e.sources.size >= MAX_SOURCES_PER_AGENT) {
          this.deps.limited?.('source_ids', agent);
          continue;
        }
        s = new SourceHealthTracker();
        e.sources.set(ev.source, s);
      }
      s.apply(ev.type, ev.ts);
    }
  }

  /** Any message from the agent; returns its entry. */
  touch(agent: string): Entry {
    const e = this.entries.get(agent) ?? this.create(agent, null);
    e.lastSeen = this.deps.clock.now();
    return e;
  }

  roomOf(agent: string): string | null {
    const e = this.entries.get(agent);
    return e ? this.roomId(e) : null;
  }

  agents(): AgentView[] {
    if (!this.order) this.order = [...this.entries.values()].sort(byAgent);
    return this.order.map((e) => this.view(e));
  }

  agent(id: string): AgentView | undefined {
    const e = this.entries.get(id);
    return e ? this.view(e) : undefined;
  }

  byRoom(roomId: string): AgentView[] {
    const members = this.rooms.get(roomId);
    if (!members) return [];
    return [...members].sort(byAgent).map((e) => this.view(e));
  }

  /** Room ids with at least one agent. */
  roomIds(): string[] {
    return [...this.rooms.keys()];
  }

  counts(): Record<Availability, number> {
    return { ...this.availabilityCounts };
  }

  /** Marks agents silent for SILENT_INTERVALS telemetry intervals as lost. */
  checkSilence(): void {
    const now = this.deps.clock.now();
    for (const e of this.entries.values()) {
      if (e.availability !== 'online' || e.lastSeen === null) continue;
      const intervalMs = (e.birth?.telemetryIntervalS ?? DEFAULT_TELEMETRY_INTERVAL_S) * 1000;
      if (now - e.lastSeen >= SILENT_INTERVALS * intervalMs) this.transition(e, 'lost', 'silent');
    }
  }

  private heard(e: Entry, why: string): void {
    // Hearing from an agent we had given up on (silence) or not heard since a restart means it is back.
    if (e.availability === 'unknown' || (e.availability === 'lost' && why !== 'will')) {
      this.transition(e, 'online', why);
    }
  }

  private create(agent: string, room: Birth['room'] | null): Entry {
    const e: Entry = {
      agent,
      provisionalRoom: room,
      availability: 'unknown',
      since: this.deps.clock.now(),
      session: null,
      lastSeen: null,
      birth: null,
      telemetry: null,
      sources: new Map(),
      sourceIds: null,
    };
    this.entries.set(agent, e);
    this.order = null;
    this.availabilityCounts.unknown++;
    this.indexRoom(e, this.roomId(e), true);
    return e;
  }

  /** Applies a change that may move the agent to another room, keeping the room index current. */
  private moveRoom(e: Entry, change: () => void): void {
    const before = this.roomId(e);
    change();
    const after = this.roomId(e);
    if (before === after) return;
    this.indexRoom(e, before, false);
    this.indexRoom(e, after, true);
  }

  private indexRoom(e: Entry, room: string | null, add: boolean): void {
    if (room === null) return;
    let members = this.rooms.get(room);
    if (add) {
      if (!members) {
        members = new Set();
        this.rooms.set(room, members);
      }
      members.add(e);
    } else if (members) {
      members.delete(e);
      if (members.size === 0) this.rooms.delete(room);
    }
  }

  private resetSources(e: Entry, birth: Birth): void {
    e.sources = new Map(
      birth.sources.map((s) => [s.id, new SourceHealthTracker(s.probe.error ? 'down' : 'ok', birth.ts)]),
    );
  }

  private transition(e: Entry, to: Availability, reason: string, persist = true): void {
    if (e.availability === to) return;
    const previous = e.availability;
    e.availability = to;
    this.availabilityCounts[previous]--;
    this.availabilityCounts[to]++;
    e.since = this.deps.clock.now();
    this.deps.log.info({ agent: e.agent, from: previous, to, reason }, 'availability changed');
    if (persist) this.persist(e);
    this.deps.bus.emit('agent.availability', {
      agent: e.agent,
      room: this.roomId(e),
      availability: to,
      previous,
      ts: e.since,
      reason,
    });
  }

  private persist(e: Entry): void {
    this.deps.persist?.({
      agent: e.agent,
      room: this.roomOfEntry(e),
      birth: e.birth,
      session: e.session,
      lastSeen: e.lastSeen,
      availability: e.availability,
      since: e.since,
    });
  }

  private roomId(e: Entry): string | null {
    return e.provisionalRoom?.id ?? e.birth?.room.id ?? null;
  }

  /** The room shown and filed under: the birth's details when it names the provisioned room. */
  private roomOfEntry(e: Entry): Birth['room'] | null {
    const id = this.roomId(e);
    const listed = id === null ? undefined : this.directory.get(id);
    if (listed) return listed;
    const p = e.provisionalRoom;
    if (!p) return e.birth?.room ?? null;
    return e.birth && e.birth.room.id === p.id ? e.birth.room : p;
  }

  private view(e: Entry): AgentView {
    const sources: SourceView[] = [];
    if (e.birth) {
      for (const s of e.birth.sources) {
        const h = e.sources.get(s.id);
        sources.push({
          id: s.id,
          kind: s.kind,
          label: s.label,
          probe: s.probe,
          status: h?.status ?? 'unknown',
          since: h?.since ?? null,
        });
      }
    }
    return {
      agent: e.agent,
      room: this.roomOfEntry(e),
      availability: e.availability,
      since: e.since,
      session: e.session,
      lastSeen: e.lastSeen,
      birth: e.birth,
      telemetry: e.telemetry,
      sources,
    };
  }
}
