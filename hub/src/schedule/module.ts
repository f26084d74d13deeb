// Schedule awareness (docs/hub-people.md "Schedule"): a pre-class check 10 minutes before each class (agent online,
// sources up, disk ok); an alarm when a class has had no healthy camera or mic by its 5th minute;
// and "capture coverage" (scheduled vs healthy minutes) booked into the room's rollups.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AlarmEngine } from '../alarms/engine.js';
import type { PeopleBus } from '../alarms/events.js';
import { adminRoute, ErrorBody, sendError } from '../alarms/http.js';
import type { AgentView, HubContext, HubModule } from '../context.js';
import type { RollupsModule } from '../rollups/module.js';
import { ScheduleParseError } from './parse.js';
import {
  duePeriods,
  importSchedule,
  listPeriods,
  migrateSchedule,
  recordPrecheck,
  recordStartCheck,
  type StoredPeriod,
} from './store.js';
import { publishConfigWithTimetable, TIMETABLE_REFRESH_MS } from './timetable.js';

export const PRECHECK_LEAD_MS = 10 * 60_000;
export const START_GRACE_MS = 5 * 60_000;
export const SCHEDULE_TICK_MS = 15_000;
/** Disk free share below which the pre-class check fails. */
export const PRECHECK_MIN_DISK_FREE = 0.1;

export interface RoomHealth {
  agent: AgentView | undefined;
  online: boolean;
  cameraOk: boolean;
  micOk: boolean;
  problems: string[];
}

export function roomHealth(agents: AgentView[]): RoomHealth {
  const agent = agents.find((a) => a.availability === 'online') ?? agents[0];
  const problems: string[] = [];
  if (!agent)
    return { agent, online: false, cameraOk: false, micOk: false, problems: ['no agent for this room'] };
  const online = agent.availability === 'online';
  if (!online) problems.push(`agent ${agent.agent} is ${agent.availability}`);
  for (const s of agent.sources) if (s.status !== 'ok') problems.push(`${s.kind} ${s.id} is ${s.status}`);
  const cameraOk = online && agent.sources.some((s) => s.kind === 'camera' && s.status === 'ok');
  const micOk = online && agent.sources.some((s) => s.kind === 'microphone' && s.status === 'ok');
  if (!agent.sources.some((s) => s.kind === 'camera')) problems.push('no camera');
  if (!agent.sources.some((s) => s.kind === 'microphone')) problems.push('no microphone');
  const t = agent.telemetry;
  if (!t) problems.push('no telemetry yet');
  else if (t.diskTotalBytes > 0 && t.diskFreeBytes / t.diskTotalBytes < PRECHECK_MIN_DISK_FREE) {
    problems.push(`disk ${Math.round((100 * t.diskFreeBytes) / t.diskTotalBytes)}% free`);
  }
  return { agent, online, cameraOk, micOk, problems };
}

interface Tracking {
  room: string;
  agent: string;
  end: number;
  seenCamera: boolean;
  seenMic: boolean;
  accountedTo: number;
  /** Health at the last pass; the tail of a class after the last pass is booked with it. */
  healthy: boolean;
}

const PeriodView = z.object({
  id: z.string(),
  room: z.string(),
  start: z.number(),
  end: z.number(),
  title: z.string(),
  origin: z.string(),
  precheck: z.object({ at: z.number(), ok: z.boolean(), problems: z.array(z.string()) }).nullable(),
  startCheck: z.object({ at: z.number(), ok: z.boolean() }).nullable(),
});

export class ScheduleModule implements HubModule {
  readonly name = 'schedule';
  private timer: NodeJS.Timeout | undefined;
  private readonly tracking = new Map<string, Tracking>();
  private running: Promise<void> | null = null;
  /** When each agent's config last carried its room's timetable (docs/agent-media.md "Duty cycle"). */
  private readonly timetableSent = new Map<string, number>();

  constructor(
    private readonly ctx: HubContext,
    private readonly people: PeopleBus,
    private readonly alarms: AlarmEngine,
    private readonly rollups: RollupsModule,
  ) {}

  async start(): Promise<void> {
    await migrateSchedule(this.ctx.db);
    this.timer = this.ctx.clock.setInterval(() => void this.tick(), SCHEDULE_TICK_MS);
    void this.tick();
  }

  async stop(): Promise<void> {
    this.ctx.clock.clearInterval(this.timer);
    await this.running;
  }

  /** One pass over due periods; overlapping calls share the pass in progress. */
  tick(): Promise<void> {
    this.running ??= this.pass()
      .catch((err: unknown) => this.ctx.log.error({ err, module: 'schedule' }, 'schedule check failed'))
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  private agentFor(room: string, h: RoomHealth): string {
    return h.agent?.agent ?? `room:${room}`;
  }

  /** Sends the room's timetable with the config of each of its agents (after an import, daily). */
  private async sendTimetables(now: number, room?: string): Promise<void> {
    const rooms = room ? [room] : await this.scheduledRooms(now);
    for (const r of rooms) {
      for (const a of this.ctx.registry.byRoom(r)) {
        const last = this.timetableSent.get(a.agent);
        if (!room && last !== undefined && now - last < TIMETABLE_REFRESH_MS) continue;
        await publishConfigWithTimetable(this.ctx, a.agent, now).then(
          () => this.timetableSent.set(a.agent, now),
          (err: unknown) =>
            this.ctx.log.warn({ err, agent: a.agent, module: 'schedule' }, 'timetable not sent'),
        );
      }
    }
  }

  private async scheduledRooms(now: number): Promise<string[]> {
    const rows = await this.ctx.db.all<{ room: string }>(
      'SELECT DISTINCT room FROM schedule_periods WHERE end_ts > ?',
      [now],
    );
    return rows.map((r) => r.room);
  }

  private async pass(): Promise<void> {
    const now = this.ctx.clock.now();
    await this.sendTimetables(now);
    const due = await duePeriods(this.ctx.db, now, PRECHECK_LEAD_MS);
    const seen = new Set<string>();
    for (const p of due) {
      seen.add(p.id);
      const h = roomHealth(this.ctx.registry.byRoom(p.room));
      if (now < p.start) {
        if (!p.precheck && now >= p.start - PRECHECK_LEAD_MS) await this.precheck(p, h, now);
        continue;
      }
      await this.during(p, h, now);
    }
    // Classes that ended (or were removed by a re-import): book the rest and close their alarms.
    for (const [id, tr] of this.tracking) {
      if (seen.has(id)) continue;
      const to = Math.min(now, tr.end);
      if (to > tr.accountedTo) this.rollups.addCoverage(tr.room, tr.accountedTo, to, tr.healthy);
      this.tracking.delete(id);
      for (const type of ['schedule.no-capture', 'schedule.precheck'] as const) {
        this.alarms.signal({
          agent: tr.agent,
          source: null,
          type,
          room: tr.room,
          active: false,
          immediate: true,
        });
      }
    }
  }

  private async precheck(p: StoredPeriod, h: RoomHealth, now: number): Promise<void> {
    const ok = h.problems.length === 0;
    await recordPrecheck(this.ctx.db, p.id, now, ok, h.problems);
    this.people.emit('schedule.precheck', {
      room: p.room,
      periodId: p.id,
      title: p.title,
      start: p.start,
      ts: now,
      ok,
      problems: h.problems,
    });
    this.alarms.signal({
      agent: this.agentFor(p.room, h),
      source: null,
      type: 'schedule.precheck',
      room: p.room,
      active: !ok,
      immediate: true,
      detail: { period: p.id, title: p.title, start: p.start, problems: h.problems.join('; ') },
    });
  }

  private async during(p: StoredPeriod, h: RoomHealth, now: number): Promise<void> {
    let tr = this.tracking.get(p.id);
    if (!tr) {
      tr = {
        room: p.room,
        agent: this.agentFor(p.room, h),
        end: p.end,
        seenCamera: false,
        seenMic: false,
        // Minutes before this hub started watching are not known; they are not booked.
        accountedTo: Math.max(p.start, now - SCHEDULE_TICK_MS),
        healthy: false,
      };
      this.tracking.set(p.id, tr);
    }
    tr.seenCamera ||= h.cameraOk;
    tr.seenMic ||= h.micOk;
    const healthy = h.cameraOk && h.micOk;
    tr.healthy = healthy;
    const to = Math.min(now, p.end);
    if (to > tr.accountedTo) {
      this.rollups.addCoverage(p.room, tr.accountedTo, to, healthy);
      tr.accountedTo = to;
    }
    const base = { agent: tr.agent, source: null, room: p.room, immediate: true } as const;
    if (now >= p.start + START_GRACE_MS) {
      if (!p.startCheck) {
        const ok = tr.seenCamera && tr.seenMic;
        await recordStartCheck(this.ctx.db, p.id, now, ok);
        if (!ok) {
          const missing = [tr.seenCamera ? null : 'camera', tr.seenMic ? null : 'microphone'].filter(Boolean);
          this.alarms.signal({
            ...base,
            type: 'schedule.no-capture',
            active: true,
            detail: { period: p.id, title: p.title, start: p.start, missing: missing.join(', ') },
          });
        }
      } else if (healthy) {
        this.alarms.signal({ ...base, type: 'schedule.no-capture', active: false });
      }
    }
    if (healthy) this.alarms.signal({ ...base, type: 'schedule.precheck', active: false });
  }

  routes(http: FastifyInstance): void {
    const app = http.withTypeProvider<ZodTypeProvider>();
    const { preHandler, security } = adminRoute(this.ctx.config.adminToken);
    const Params = z.object({ room: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/) });
    app.put(
      '/api/rooms/:room/schedule',
      {
        preHandler,
        schema: {
          security,
          summary: "Replace a room's timetable with an iCalendar (.ics) or CSV file",
          tags: ['schedule'],
          params: Params,
          body: z.object({ format: z.enum(['ics', 'csv']), content: z.string().min(1).max(900_000) }),
          response: {
            200: z.object({
              room: z.string(),
              periods: z.number(),
              first: z.number().nullable(),
              last: z.number().nullable(),
            }),
            400: ErrorBody,
          },
        },
      },
      async (req, reply) => {
        try {
          const res = await importSchedule(
            this.ctx.db,
            req.params.room,
            req.body.format,
            req.body.content,
            this.ctx.clock.now(),
          );
          await this.sendTimetables(this.ctx.clock.now(), req.params.room);
          void this.tick();
          return res;
        } catch (err) {
          if (err instanceof ScheduleParseError) return sendError(reply, 400, 'bad_schedule', err.message);
          throw err;
        }
      },
    );
    app.get(
      '/api/rooms/:room/schedule',
      {
        preHandler,
        schema: {
          security,
          summary: "A room's class periods in a time range, with pre-class and start check results",
          tags: ['schedule'],
          params: Params,
          querystring: z.object({
            from: z.coerce.number().int().min(0).optional(),
            to: z.coerce.number().int().min(0).optional(),
          }),
          response: { 200: z.object({ periods: z.array(PeriodView) }) },
        },
      },
      async (req) => {
        const now = this.ctx.clock.now();
        const from = req.query.from ?? now - 86_400_000;
        const to = req.query.to ?? now + 7 * 86_400_000;
        return { periods: await listPeriods(this.ctx.db, req.params.room, from, to) };
      },
    );
  }
}
