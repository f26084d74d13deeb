// Retained northbound summaries on classroom/v1/rooms/{room}/summary (DESIGN.md), for `platform`
// accounts. Published on change only: changes are coalesced for DEBOUNCE_MS (all
// rooms changed in that time go out in one flush) and a summary
// equal to the last one published (ignoring ts) is not sent again.
import { type RoomSummary, topics } from '@classroom/protocol';
import type { AlarmEngine } from '../alarms/engine.js';
import type { PeopleBus } from '../alarms/events.js';
import type { AgentView, HubContext, HubEvents, HubModule } from '../context.js';
import { occupancyOf } from '../utilization/occupancy.js';

export const SUMMARY_DEBOUNCE_MS = 250;
/** Summaries published concurrently within one flush. */
const PUBLISH_SLICE = 100;

export function buildSummary(
  room: string,
  agents: AgentView[],
  openAlarms: number,
  ts: number,
  people: number | null = null,
): (RoomSummary & { people: number | null }) | null {
  // One agent per room in practice; prefer the one that is online, then the most recently seen.
  const sorted = [...agents].sort(
    (a, b) =>
      Number(b.availability === 'online') - Number(a.availability === 'online') ||
      (b.lastSeen ?? 0) - (a.lastSeen ?? 0),
  );
  const a = sorted[0];
  if (!a?.room) return null;
  return {
    v: 1,
    ts,
    room: { ...a.room, id: room },
    agent: a.agent,
    availability: a.availability,
    sources: a.sources.map((s) => {
      // The agent's off-hours duty cycle, from its last telemetry (docs/agent-media.md "Duty cycle").
      const watch = a.telemetry?.watch?.find((w) => w.id === s.id)?.mode;
      return { id: s.id, kind: s.kind, status: s.status, since: s.since, ...(watch ? { watch } : {}) };
    }),
    openAlarms,
    lastSeen: a.lastSeen,
    // The newest live count of the room's camera (docs/hub-people.md "Occupancy"); null: none counted.
    people,
  };
}

export class SummariesModule implements HubModule {
  readonly name = 'summaries';
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | null = null;
  private stopped = false;
  private readonly last = new Map<string, string>();
  /** Rooms an agent was moved out of: if nobody is left, their retained summary is cleared. */
  private readonly vacated = new Set<string>();
  private readonly offs: Array<() => void> = [];
  /** Newest live people count per room, with the end of the window it came from. */
  private readonly people = new Map<string, { people: number; end: number }>();
  published = 0;

  constructor(
    private readonly ctx: HubContext,
    private readonly peopleBus: PeopleBus,
    private readonly alarms: AlarmEngine,
  ) {}

  async start(): Promise<void> {
    this.stopped = false;
    const { bus } = this.ctx;
    const on = <K extends keyof HubEvents>(event: K, fn: (p: HubEvents[K]) => void): void => {
      bus.on(event, fn);
      this.offs.push(() => bus.off(event, fn));
    };
    on('agent.availability', (e) => this.touchAgent(e.agent, e.room));
    // Telemetry changes a summary only through `watch`; an equal summary is not published again.
    on('agent.telemetry', (e) => {
      if (e.telemetry.watch) this.touchAgent(e.agent, e.room);
    });
    on('agent.birth', (e) => this.touchAgent(e.agent, e.room?.id ?? null));
    on('agent.moved', (e) => {
      if (e.from) {
        this.vacated.add(e.from);
        this.schedule(e.from);
      }
      this.touchAgent(e.agent, e.to);
    });
    on('records.committed', (e) => {
      if (e.records.some((r) => r.kind === 'event')) this.touchAgent(e.agent, e.room);
      if (!e.historical && e.room) this.notePeople(e.room, e.records);
    });
    this.offs.push(
      this.peopleBus.on('alarm.transition', (t) => this.touchAgent(t.alarm.agent, t.alarm.room)),
    );
    for (const a of this.ctx.registry.agents()) if (a.room) this.schedule(a.room.id);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const off of this.offs.splice(0)) off();
    this.ctx.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }

  /** Publishes the rooms' summaries again (their registry entry changed: name, building…). */
  refresh(rooms: string[]): void {
    for (const r of rooms) if (this.ctx.registry.byRoom(r).length > 0) this.schedule(r);
  }

  private notePeople(room: string, records: HubEvents['records.committed']['records']): void {
    const before = this.people.get(room);
    let now = before;
    for (const r of records) {
      if (r.kind !== 'capture') continue;
      const occ = occupancyOf(r);
      if (occ && (!now || r.end >= now.end)) now = { people: Math.round(occ.people), end: r.end };
    }
    if (!now || now === before) return;
    this.people.set(room, now);
    if (before?.people !== now.people) this.schedule(room);
  }

  private touchAgent(agent: string, room: string | null): void {
    const r = room ?? this.ctx.registry.agent(agent)?.room?.id;
    if (r) this.schedule(r);
  }

  private schedule(room: string): void {
    this.pending.add(room);
    this.arm();
  }

  private arm(): void {
    if (this.timer !== undefined || this.stopped) return;
    this.timer = this.ctx.clock.setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, SUMMARY_DEBOUNCE_MS);
  }

  /**
   * Publishes every room changed since the last flush. One timer for all rooms (not one per room), and
   * publishes in bounded slices, so a fleet-wide change (10,000 births) is neither 10,000 timers nor
   * 10,000 store writes queued at once.
   */
  private async flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    const rooms = [...this.pending];
    this.pending.clear();
    this.flushing = (async () => {
      for (let i = 0; i < rooms.length; i += PUBLISH_SLICE) {
        await Promise.all(rooms.slice(i, i + PUBLISH_SLICE).map((r) => this.publish(r)));
      }
    })().finally(() => {
      this.flushing = null;
      // Rooms that changed while this flush ran are published after one more debounce.
      if (this.pending.size > 0) this.arm();
    });
    return this.flushing;
  }

  /**
   * The last agent left the room (`agents move`): a zero-length retained message deletes its summary
   * [MQTT-3.3.1-10], so the platform no longer sees a box that is not there.
   */
  private async clear(room: string): Promise<void> {
    this.last.delete(room);
    try {
      await this.ctx.mqtt.publish(topics.roomSummary(room), Buffer.alloc(0), { qos: 1, retain: true });
    } catch (err) {
      this.ctx.log.error({ err, module: 'summaries', room }, 'clearing room summary failed');
    }
  }

  private async publish(room: string): Promise<void> {
    const open = this.alarms.openCountInRoom(room);
    const summary = buildSummary(
      room,
      this.ctx.registry.byRoom(room),
      open,
      this.ctx.clock.now(),
      this.people.get(room)?.people ?? null,
    );
    if (!summary) {
      if (this.vacated.delete(room)) await this.clear(room);
      return;
    }
    this.vacated.delete(room);
    const key = JSON.stringify({ ...summary, ts: 0 });
    if (this.last.get(room) === key) return;
    this.last.set(room, key);
    try {
      await this.ctx.mqtt.publish(topics.roomSummary(room), summary, { qos: 1, retain: true });
      this.published++;
    } catch (err) {
      this.last.delete(room);
      this.ctx.log.error({ err, module: 'summaries', room }, 'publishing room summary failed');
    }
  }
}
