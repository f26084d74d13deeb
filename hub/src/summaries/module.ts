// Retained northbound summaries on classroom/v1/rooms/{room}/summary (DESIGN.md), for `platform`
// accounts. Published on change only: changes are coalesced per room for DEBOUNCE_MS and a summary
// equal to the last one published (ignoring ts) is not sent again.
import { type RoomSummary, topics } from '@classroom/protocol';
import type { AlarmEngine } from '../alarms/engine.js';
import type { PeopleBus } from '../alarms/events.js';
import type { AgentView, HubContext, HubEvents, HubModule } from '../context.js';

export const SUMMARY_DEBOUNCE_MS = 250;

export function buildSummary(
  room: string,
  agents: AgentView[],
  openAlarms: number,
  ts: number,
): RoomSummary | null {
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
    sources: a.sources.map((s) => ({ id: s.id, kind: s.kind, status: s.status, since: s.since })),
    openAlarms,
    lastSeen: a.lastSeen,
  };
}

export class SummariesModule implements HubModule {
  readonly name = 'summaries';
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly last = new Map<string, string>();
  private readonly offs: Array<() => void> = [];
  published = 0;

  constructor(
    private readonly ctx: HubContext,
    private readonly people: PeopleBus,
    private readonly alarms: AlarmEngine,
  ) {}

  async start(): Promise<void> {
    const { bus } = this.ctx;
    const on = <K extends keyof HubEvents>(event: K, fn: (p: HubEvents[K]) => void): void => {
      bus.on(event, fn);
      this.offs.push(() => bus.off(event, fn));
    };
    on('agent.availability', (e) => this.touchAgent(e.agent, e.room));
    on('agent.birth', (e) => this.touchAgent(e.agent, e.birth.room.id));
    on('records.committed', (e) => {
      if (e.records.some((r) => r.kind === 'event')) this.touchAgent(e.agent, e.room);
    });
    this.offs.push(this.people.on('alarm.transition', (t) => this.touchAgent(t.alarm.agent, t.alarm.room)));
    const rooms = new Set<string>();
    for (const a of this.ctx.registry.agents()) if (a.room) rooms.add(a.room.id);
    for (const room of rooms) this.schedule(room);
  }

  async stop(): Promise<void> {
    for (const off of this.offs.splice(0)) off();
    for (const t of this.pending.values()) this.ctx.clock.clearTimeout(t);
    this.pending.clear();
  }

  private touchAgent(agent: string, room: string | null): void {
    const r = room ?? this.ctx.registry.agent(agent)?.room?.id;
    if (r) this.schedule(r);
  }

  private schedule(room: string): void {
    if (this.pending.has(room)) return;
    this.pending.set(
      room,
      this.ctx.clock.setTimeout(() => {
        this.pending.delete(room);
        void this.publish(room);
      }, SUMMARY_DEBOUNCE_MS),
    );
  }

  private async publish(room: string): Promise<void> {
    const open = this.alarms.openCount((a) => a.room === room);
    const summary = buildSummary(room, this.ctx.registry.byRoom(room), open, this.ctx.clock.now());
    if (!summary) return;
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
