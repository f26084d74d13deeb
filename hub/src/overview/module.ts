// GET /api/overview: what the dashboard's header and tiles need beyond rooms and alarms: rooms
// online, open alarms, the share of today's classes captured healthily (classes.ts), and per room
// the class on now and maintenance (docs/hub-people.md, "The grid").
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AlarmEngine } from '../alarms/engine.js';
import { adminRoute } from '../alarms/http.js';
import type { HubContext, HubModule } from '../context.js';
import { migrateSchedule, type StoredPeriod } from '../schedule/store.js';
import { ClassHealth, COUNT_AFTER_MS, HEALTHY_SHARE } from './classes.js';

const ClassNow = z.object({ id: z.string(), title: z.string(), start: z.number(), end: z.number() });

export const OverviewBody = z.object({
  ts: z.number(),
  rooms: z.array(
    z.object({
      room: z.string(),
      classNow: ClassNow.nullable(),
      maintenance: z.object({ since: z.number(), who: z.string() }).nullable(),
      people: z.number().nullable().describe('People counted in the room now; null without a recent count'),
    }),
  ),
  roomsTotal: z.number(),
  roomsOnline: z.number(),
  alarms: z.object({ open: z.number(), active: z.number() }),
  classes: z.object({
    counted: z.number().describe(`today's classes that have run at least ${COUNT_AFTER_MS / 60_000} minutes`),
    healthy: z
      .number()
      .describe(
        `of those, classes with a good picture and sound for at least ${HEALTHY_SHARE * 100} % so far`,
      ),
    share: z.number().nullable().describe('healthy / counted; null before the first class counts'),
  }),
});

interface PeriodRow {
  id: string;
  room: string;
  start: number | string;
  end_ts: number | string;
  title: string;
}

/** Local midnight of the hub's time zone: "today" as the timetable's staff read it. */
export function localDayStart(now: number): number {
  const d = new Date(now);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

export class OverviewModule implements HubModule {
  readonly name = 'overview';
  private readonly classes: ClassHealth;

  constructor(
    private readonly ctx: HubContext,
    private readonly alarms: AlarmEngine,
    private readonly people?: { current(room: string): number | null; rooms(): string[] },
  ) {
    this.classes = new ClassHealth(ctx.db);
  }

  async start(): Promise<void> {
    // The timetable table belongs to the schedule module; its migration is idempotent.
    await migrateSchedule(this.ctx.db);
  }

  async stop(): Promise<void> {}

  async overview(): Promise<z.infer<typeof OverviewBody>> {
    const now = this.ctx.clock.now();
    const dayStart = localDayStart(now);
    const rows = await this.ctx.db.all<PeriodRow>(
      'SELECT id, room, start, end_ts, title FROM schedule_periods WHERE start < ? AND end_ts > ? ORDER BY start',
      [Math.min(now, dayStart + 86_400_000), dayStart],
    );
    const periods: StoredPeriod[] = rows.map((r) => ({
      id: r.id,
      room: r.room,
      start: Number(r.start),
      end: Number(r.end_ts),
      title: r.title,
      origin: '',
      precheck: null,
      startCheck: null,
    }));
    const maintenance = await this.ctx.db.all<{ room: string; since: number | string; who: string }>(
      'SELECT room, since, who FROM room_maintenance',
    );
    const perRoom = new Map<string, z.infer<typeof OverviewBody>['rooms'][number]>();
    const entry = (room: string) => {
      let e = perRoom.get(room);
      if (!e) {
        e = { room, classNow: null, maintenance: null, people: this.people?.current(room) ?? null };
        perRoom.set(room, e);
      }
      return e;
    };
    for (const p of periods) {
      if (p.start <= now && now < p.end)
        entry(p.room).classNow = { id: p.id, title: p.title, start: p.start, end: p.end };
    }
    for (const m of maintenance) entry(m.room).maintenance = { since: Number(m.since), who: m.who };
    for (const room of this.people?.rooms() ?? []) if (this.people?.current(room) !== null) entry(room);
    const rooms = new Set<string>();
    const online = new Set<string>();
    for (const a of this.ctx.registry.agents()) {
      if (!a.room) continue;
      rooms.add(a.room.id);
      if (a.availability === 'online') online.add(a.room.id);
    }
    return {
      ts: now,
      rooms: [...perRoom.values()].sort((x, y) => (x.room < y.room ? -1 : 1)),
      roomsTotal: rooms.size,
      roomsOnline: online.size,
      alarms: {
        open: this.alarms.openCount(),
        active: this.alarms.openCount((a) => a.state === 'active'),
      },
      classes: await this.classes.soFar(periods, now, dayStart),
    };
  }

  routes(http: FastifyInstance): void {
    const app = http.withTypeProvider<ZodTypeProvider>();
    const { preHandler, security } = adminRoute(this.ctx.config.adminToken);
    app.get(
      '/api/overview',
      {
        preHandler,
        config: { access: 'viewer' },
        schema: {
          security,
          summary:
            "The dashboard's header and tile extras: rooms online, open alarms, today's classes captured healthily, class on now",
          tags: ['dashboard'],
          response: { 200: OverviewBody },
        },
      },
      async () => this.overview(),
    );
  }
}
