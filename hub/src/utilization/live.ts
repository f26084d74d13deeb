// The newest people count of each room, from live capture windows (docs/hub-people.md "Occupancy"), for
// the dashboard's tiles and room detail. A count older than STALE_MS is no longer "now": the box
// stopped counting or went away, and an old figure would mislead.
import type { HubContext, HubEvents, HubModule } from '../context.js';
import { occupancyOf } from './occupancy.js';

export const LIVE_PEOPLE_STALE_MS = 10 * 60_000;

export class LivePeople implements HubModule {
  readonly name = 'live-people';
  private readonly now = new Map<string, { people: number; end: number }>();
  private readonly onRecords = (e: HubEvents['records.committed']): void => {
    if (e.historical || !e.room) return;
    for (const r of e.records) {
      if (r.kind !== 'capture') continue;
      const occ = occupancyOf(r);
      const last = this.now.get(e.room);
      if (occ && (!last || r.end >= last.end))
        this.now.set(e.room, { people: Math.round(occ.people), end: r.end });
    }
  };

  constructor(private readonly ctx: HubContext) {
    ctx.hooks.roomDetail.push(async (room) => ({ people: this.current(room) }));
  }

  async start(): Promise<void> {
    this.ctx.bus.on('records.committed', this.onRecords);
  }

  async stop(): Promise<void> {
    this.ctx.bus.off('records.committed', this.onRecords);
  }

  /** People in the room now; null when no recent count. */
  current(room: string): number | null {
    const c = this.now.get(room);
    return c && this.ctx.clock.now() - c.end <= LIVE_PEOPLE_STALE_MS ? c.people : null;
  }

  rooms(): string[] {
    return [...this.now.keys()];
  }
}
