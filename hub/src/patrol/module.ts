// The patrol wall's API (docs/hub-people.md, "Patrol wall"): the rooms a wall may show, with the
// filters it offers, their live thumbnails, and the private flag that keeps a room off every wall.
import { Room } from '@classroom/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { Counter } from 'prom-client';
import { z } from 'zod';
import type { AlarmEngine } from '../alarms/engine.js';
import { adminRoute, ErrorBody, sendError } from '../alarms/http.js';
import type { AgentView, HubContext, HubModule } from '../context.js';
import { duePeriods, migrateSchedule } from '../schedule/store.js';
import { RoomPrivacy } from './privacy.js';
import { ThumbnailCache, ThumbnailUnavailable } from './thumbnails.js';

/** One `patrol.view` audit entry per user and room for this long of continuous watching. */
export const PATROL_AUDIT_EVERY_MS = 5 * 60_000;
const ROOM_ID = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
const flag = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1')
  .optional();

const PatrolRoom = z.object({
  room: Room,
  agent: z.string().nullable(),
  availability: z.string(),
  /** The camera the wall shows, or null when the room has none (the wall shows why). */
  camera: z.string().nullable(),
  classNow: z.object({ title: z.string(), start: z.number(), end: z.number() }).nullable(),
  problem: z.boolean().describe('an open alarm, the box not online, or a source not ok'),
  openAlarms: z.number(),
});

const collator = new Intl.Collator('en', { numeric: true });

function pickAgent(agents: AgentView[]): AgentView | undefined {
  return agents.find((a) => a.availability === 'online') ?? agents[0];
}

export class PatrolModule implements HubModule {
  readonly name = 'patrol';
  readonly privacy: RoomPrivacy;
  readonly thumbnails: ThumbnailCache;
  private readonly audited = new Map<string, number>();
  private readonly served: Counter;

  constructor(
    private readonly ctx: HubContext,
    private readonly alarms: AlarmEngine,
  ) {
    this.privacy = new RoomPrivacy(ctx.db);
    this.thumbnails = new ThumbnailCache(ctx);
    this.served = new Counter({
      name: 'classroom_hub_thumbnails_total',
      help: 'Patrol-wall thumbnail requests by result (hit: from memory, fetched: asked of the box)',
      labelNames: ['result'],
      registers: [ctx.metrics],
    });
  }

  async start(): Promise<void> {
    await this.privacy.migrate();
    await migrateSchedule(this.ctx.db);
    this.thumbnails.start();
  }

  async stop(): Promise<void> {
    this.thumbnails.stop();
  }

  /** Rooms a wall may show (never a private one), filtered as the wall asks, in building/floor order. */
  async rooms(f: { building?: string; floor?: string; inClass?: boolean; problem?: boolean }) {
    const now = this.ctx.clock.now();
    const hidden = new Set((await this.privacy.list()).map((p) => p.room));
    const classes = new Map<string, { title: string; start: number; end: number }>();
    for (const p of await duePeriods(this.ctx.db, now, 0))
      if (p.start <= now && !classes.has(p.room))
        classes.set(p.room, { title: p.title, start: p.start, end: p.end });
    const byRoom = new Map<string, AgentView[]>();
    for (const a of this.ctx.registry.agents()) {
      if (!a.room || hidden.has(a.room.id)) continue;
      byRoom.set(a.room.id, [...(byRoom.get(a.room.id) ?? []), a]);
    }
    const out: Array<z.infer<typeof PatrolRoom>> = [];
    for (const [roomId, agents] of byRoom) {
      const a = pickAgent(agents);
      if (!a?.room) continue;
      const openAlarms = this.alarms.openCountInRoom(roomId);
      const problem =
        openAlarms > 0 || a.availability !== 'online' || a.sources.some((s) => s.status !== 'ok');
      const classNow = classes.get(roomId) ?? null;
      const row = {
        room: a.room,
        agent: a.agent,
        availability: a.availability,
        camera: a.sources.find((s) => s.kind === 'camera')?.id ?? null,
        classNow,
        problem,
        openAlarms,
      };
      if (f.building !== undefined && row.room.building !== f.building) continue;
      if (f.floor !== undefined && row.room.floor !== f.floor) continue;
      if (f.inClass && !classNow) continue;
      if (f.problem && !problem) continue;
      out.push(row);
    }
    return out.sort(
      (x, y) =>
        collator.compare(x.room.building, y.room.building) ||
        collator.compare(x.room.floor, y.room.floor) ||
        collator.compare(x.room.name || x.room.id, y.room.name || y.room.id),
    );
  }

  private async auditView(req: FastifyRequest, room: string, source: string): Promise<void> {
    const actor = req.staff?.name ?? 'anonymous';
    const key = `${actor}\u0000${room}`;
    const now = this.ctx.clock.now();
    const last = this.audited.get(key);
    if (last !== undefined && now - last < PATROL_AUDIT_EVERY_MS) return;
    this.audited.set(key, now);
    if (this.audited.size > 10_000) {
      for (const [k, t] of this.audited) if (now - t >= PATROL_AUDIT_EVERY_MS) this.audited.delete(k);
    }
    await this.ctx.audit.recordRequest(req, 'patrol.view', room, { source });
  }

  routes(http: FastifyInstance): void {
    const app = http.withTypeProvider<ZodTypeProvider>();
    const { preHandler, security } = adminRoute(this.ctx.config.adminToken);
    app.get(
      '/api/patrol/rooms',
      {
        preHandler,
        config: { access: 'operator' },
        schema: {
          security,
          summary:
            'Rooms the patrol wall may show (private rooms never), filtered by building, floor, class, problem',
          tags: ['patrol'],
          querystring: z.object({
            building: z.string().max(256).optional(),
            floor: z.string().max(64).optional(),
            inClass: flag.describe('only rooms with a class on now (from the timetable)'),
            problem: flag.describe('only rooms with a problem'),
          }),
          response: { 200: z.object({ rooms: z.array(PatrolRoom) }) },
        },
      },
      async (req) => ({ rooms: await this.rooms(req.query) }),
    );

    app.get(
      '/api/rooms/:room/thumbnail',
      {
        preHandler,
        config: { access: 'operator', audit: 'self' },
        schema: {
          security,
          summary:
            "The room's live thumbnail (about 320 px JPEG, seconds old, never stored); 204 when the room has no picture now",
          description:
            'Every view is in the audit log as patrol.view (one entry per user and room per 5 minutes of watching).',
          tags: ['patrol'],
          params: z.object({ room: ROOM_ID }),
          querystring: z.object({ source: z.string().max(64).optional() }),
          response: {
            200: z.any().describe('image/jpeg'),
            204: z.null().describe('no picture now; the x-thumbnail-unavailable header says why'),
            403: ErrorBody,
            404: ErrorBody,
          },
        },
      },
      async (req, reply) => {
        const room = req.params.room;
        if (await this.privacy.isPrivate(room)) {
          this.served.inc({ result: 'private' });
          return sendError(
            reply,
            403,
            'room_private',
            `room ${room} is private: it is not shown on the patrol wall`,
          );
        }
        const agents = this.ctx.registry.byRoom(room);
        const a = pickAgent(agents);
        if (!a) return sendError(reply, 404, 'not_found', `unknown room "${room}"`);
        const unavailable = (why: string) => {
          this.served.inc({ result: 'unavailable' });
          return reply
            .code(204)
            .header('cache-control', 'no-store')
            .header('x-thumbnail-unavailable', encodeURIComponent(why).slice(0, 300))
            .send();
        };
        const source = req.query.source ?? a.sources.find((s) => s.kind === 'camera')?.id;
        if (!source) return unavailable('the room has no camera');
        if (a.availability !== 'online') return unavailable(`the box is ${a.availability}`);
        try {
          const before = this.thumbnails.requested;
          const t = await this.thumbnails.get(a.agent, source);
          this.served.inc({ result: this.thumbnails.requested === before ? 'hit' : 'fetched' });
          await this.auditView(req, room, source);
          return reply
            .header('content-type', 'image/jpeg')
            .header('cache-control', 'no-store')
            .header('x-thumbnail-at', String(t.at))
            .serializer((x: unknown) => x as string)
            .send(t.jpeg);
        } catch (err) {
          if (err instanceof ThumbnailUnavailable) return unavailable(err.message);
          throw err;
        }
      },
    );

    app.get(
      '/api/privacy',
      {
        preHandler,
        config: { access: 'operator' },
        schema: {
          security,
          summary: 'Rooms marked private (never on the patrol wall)',
          tags: ['patrol'],
          response: {
            200: z.object({
              rooms: z.array(z.object({ room: z.string(), since: z.number(), by: z.string() })),
            }),
          },
        },
      },
      async () => ({ rooms: await this.privacy.list() }),
    );

    app.put(
      '/api/rooms/:room/privacy',
      {
        preHandler,
        config: {
          access: 'admin',
          audit: {
            action: 'room.privacy',
            detail: (req) => ({ private: (req.body as { private?: unknown }).private }),
          },
        },
        schema: {
          security,
          summary: 'Mark a room private (it never shows on the patrol wall) or not',
          tags: ['patrol'],
          params: z.object({ room: ROOM_ID }),
          body: z.object({ private: z.boolean() }),
          response: {
            200: z.object({
              room: z.string(),
              private: z.boolean(),
              since: z.number().nullable(),
              by: z.string().nullable(),
            }),
          },
        },
      },
      async (req) => {
        const by = req.staff?.name ?? 'admin';
        const r = await this.privacy.set(req.params.room, req.body.private, by, this.ctx.clock.now());
        return { room: req.params.room, private: r !== null, since: r?.since ?? null, by: r?.by ?? null };
      },
    );
  }
}
