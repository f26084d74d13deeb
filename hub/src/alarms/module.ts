// Alarms feature: turns events and availability into hysteretic alarms, and serves them (docs/hub-people.md "Alarms").
import type { RecordT } from '@classroom/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { Gauge } from 'prom-client';
import { z } from 'zod';
import type { HubContext, HubEvents, HubModule } from '../context.js';
import { limitCounter } from '../limits.js';
import { AckError, AlarmEngine, type AlarmTiming } from './engine.js';
import type { PeopleBus } from './events.js';
import {
  adminRoute,
  decodeCursor,
  ErrorBody,
  encodeCursor,
  FormatQuery,
  sendCsv,
  sendError,
} from './http.js';
import { AlarmSchema, CSV_COLUMNS, Cursor, MAINTENANCE_MIGRATION, MaintenanceView } from './schemas.js';
import { AlarmStore } from './store.js';
import { ALARM_STATES, type Alarm, type AlarmType } from './types.js';

/** Event types that switch a condition on or off; everything else is not an alarm. */
const EVENT_CONDITIONS: Partial<Record<string, { type: AlarmType; active: boolean }>> = {
  'source.down': { type: 'source.down', active: true },
  'source.up': { type: 'source.down', active: false },
  'video.black.start': { type: 'video.black', active: true },
  'video.black.end': { type: 'video.black', active: false },
  'video.frozen.start': { type: 'video.frozen', active: true },
  'video.frozen.end': { type: 'video.frozen', active: false },
  'audio.silence.start': { type: 'audio.silent', active: true },
  'audio.silence.end': { type: 'audio.silent', active: false },
  'disk.low': { type: 'disk.low', active: true },
};

/** Free disk share above which a disk.low alarm clears (telemetry carries no "disk ok" event). */
const DISK_OK_RATIO = 0.1;

export class AlarmsModule implements HubModule {
  readonly name = 'alarms';
  readonly engine: AlarmEngine;
  private readonly store: AlarmStore;
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    private readonly ctx: HubContext,
    people: PeopleBus,
    timing?: AlarmTiming,
  ) {
    const log = ctx.log.child({ module: 'alarms' });
    this.store = new AlarmStore(ctx.db);
    const limits = limitCounter(ctx.metrics);
    this.engine = new AlarmEngine(this.store, ctx.clock, people, log, timing, () =>
      limits.inc({ limit: 'alarm_keys' }),
    );
    // GET /api/rooms/{room} shows the room's open alarms (DESIGN.md).
    ctx.hooks.roomDetail.push(async (room) => ({
      maintenance: this.engine.inMaintenance(room),
      alarms: this.engine
        .list()
        .filter((a) => a.room === room && a.state !== 'cleared')
        .sort((a, b) => b.raisedAt - a.raisedAt),
    }));
  }

  async start(): Promise<void> {
    await this.store.migrate();
    await this.ctx.db.migrate('people-006-maintenance', MAINTENANCE_MIGRATION);
    await this.engine.load();
    const rows = await this.ctx.db.all<{ room: string }>('SELECT room FROM room_maintenance');
    for (const r of rows) this.engine.setMaintenance(r.room, true);
    const engine = this.engine;
    new Gauge({
      name: 'classroom_hub_alarms',
      help: 'Alarms by state (one row per agent, source and type)',
      labelNames: ['state'],
      registers: [this.ctx.metrics],
      collect() {
        const counts = { active: 0, acked: 0, cleared: 0 };
        for (const a of engine.list()) counts[a.state]++;
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    });
    this.listen('records.committed', (e) => this.onRecords(e));
    this.listen('agent.availability', (e) => this.onAvailability(e));
    // Seeded from the registry (loaded from the store), so a hub restart does not look like a new session.
    const sessions = new Map(this.ctx.registry.agents().map((a) => [a.agent, a.session]));
    this.listen('agent.birth', (e) => {
      // A new session restarts the agent's monitors, so earlier media conditions no longer hold; a
      // rebirth within the same session (config change, hub back online) keeps them.
      if (sessions.get(e.agent) !== e.birth.session) this.engine.resetMedia(e.agent);
      sessions.set(e.agent, e.birth.session);
    });
    // Raised at once: a birth is a statement, not a noisy measurement, so there is nothing to debounce.
    this.listen('agent.room_mismatch', (e) =>
      this.engine.signal({
        agent: e.agent,
        source: null,
        type: 'agent.room_mismatch',
        room: e.room,
        active: e.mismatch,
        immediate: true,
        detail: { provisionedRoom: e.room, birthRoom: e.claimed, cause: e.cause },
      }),
    );
    this.listen('agent.telemetry', (e) => {
      const t = e.telemetry;
      if (t.diskTotalBytes > 0 && t.diskFreeBytes / t.diskTotalBytes >= DISK_OK_RATIO) {
        this.engine.signal({ agent: e.agent, source: null, type: 'disk.low', room: e.room, active: false });
      }
    });
  }

  async stop(): Promise<void> {
    for (const off of this.unsubscribe.splice(0)) off();
    this.engine.stop();
    await this.engine.flush();
    this.ctx.metrics.removeSingleMetric('classroom_hub_alarms');
  }

  private listen<K extends keyof HubEvents>(event: K, fn: (p: HubEvents[K]) => void): void {
    this.ctx.bus.on(event, fn);
    this.unsubscribe.push(() => this.ctx.bus.off(event, fn));
  }

  private onRecords(e: HubEvents['records.committed']): void {
    // A replay after an outage describes the past; it must not raise alarms as if it were live.
    if (e.historical) return;
    for (const r of e.records as RecordT[]) {
      if (r.kind !== 'event') continue;
      const cond = EVENT_CONDITIONS[r.type];
      if (!cond) continue;
      this.engine.signal({
        agent: e.agent,
        source: cond.type === 'disk.low' ? null : r.source,
        type: cond.type,
        room: e.room,
        active: cond.active,
        detail: { event: r.type, eventTs: r.ts, ...r.detail },
      });
    }
  }

  private onAvailability(e: HubEvents['agent.availability']): void {
    const a = e.availability;
    if (a === 'unknown') return;
    this.engine.setSleeping(e.agent, a === 'sleeping');
    this.engine.signal({
      agent: e.agent,
      source: null,
      type: 'agent.offline',
      room: e.room,
      active: a === 'lost' || a === 'offline',
      detail: { availability: a, reason: e.reason },
    });
  }

  routes(http: FastifyInstance): void {
    const app = http.withTypeProvider<ZodTypeProvider>();
    const { preHandler, security } = adminRoute(this.ctx.config.adminToken);
    app.get(
      '/api/alarms',
      {
        preHandler,
        schema: {
          security,
          summary: 'List alarms, newest change first (cursor paging; format=csv for CSV)',
          tags: ['alarms'],
          querystring: z.object({
            state: z.enum(ALARM_STATES).optional(),
            room: z.string().max(64).optional(),
            agent: z.string().max(64).optional(),
            limit: z.coerce.number().int().min(1).max(5000).default(500),
            cursor: z.string().max(512).optional(),
            format: FormatQuery,
          }),
          response: {
            200: z.object({ alarms: z.array(AlarmSchema), nextCursor: z.string().nullable() }),
            400: ErrorBody,
          },
        },
      },
      async (req, reply) => {
        const q = req.query;
        const after = decodeCursor(q.cursor, Cursor);
        if (after === 'invalid') return sendError(reply, 400, 'bad_cursor', 'cursor is not valid');
        const rows = await this.store.list({
          state: q.state,
          room: q.room,
          agent: q.agent,
          limit: q.limit + 1,
          after: after ? { updatedAt: after.u, id: after.i } : undefined,
        });
        const page = rows.slice(0, q.limit);
        const last = page[page.length - 1];
        const nextCursor =
          rows.length > q.limit && last ? encodeCursor({ u: last.updatedAt, i: last.id }) : null;
        if (q.format === 'csv') {
          if (nextCursor) reply.header('x-next-cursor', nextCursor);
          return sendCsv(reply, 'alarms.csv', CSV_COLUMNS, page as unknown as Array<Record<string, unknown>>);
        }
        return { alarms: page, nextCursor };
      },
    );
    app.get(
      '/api/alarms/:id',
      {
        preHandler,
        schema: {
          security,
          summary: 'One alarm with the history of its transitions',
          tags: ['alarms'],
          params: z.object({ id: z.string().max(64) }),
          response: {
            200: z.object({
              alarm: AlarmSchema,
              history: z.array(
                z.object({
                  ts: z.number(),
                  from: z.enum(ALARM_STATES).nullable(),
                  to: z.enum(ALARM_STATES),
                  who: z.string().nullable(),
                  note: z.string().nullable(),
                }),
              ),
            }),
            404: ErrorBody,
          },
        },
      },
      async (req, reply) => {
        await this.engine.flush();
        const alarm = await this.store.get(req.params.id);
        if (!alarm) return sendError(reply, 404, 'not_found', `alarm ${req.params.id} not found`);
        return { alarm, history: await this.store.history(alarm.id) };
      },
    );
    app.put(
      '/api/rooms/:room/maintenance',
      {
        preHandler,
        schema: {
          security,
          summary: 'Put a room in maintenance (no media alarms; open ones clear) or take it out',
          tags: ['alarms'],
          params: z.object({ room: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/) }),
          body: z.object({
            on: z.boolean(),
            who: z.string().min(1).max(128).optional(),
            note: z.string().max(1024).optional(),
          }),
          response: { 200: z.object({ room: z.string(), maintenance: MaintenanceView.nullable() }) },
        },
      },
      async (req) => {
        const room = req.params.room;
        if (req.body.on) {
          const view = {
            room,
            since: this.ctx.clock.now(),
            who: actorName(req, req.body.who),
            note: req.body.note ?? null,
          };
          await this.ctx.db.run('DELETE FROM room_maintenance WHERE room = ?', [room]);
          await this.ctx.db.run('INSERT INTO room_maintenance (room, since, who, note) VALUES (?, ?, ?, ?)', [
            room,
            view.since,
            view.who,
            view.note,
          ]);
          this.engine.setMaintenance(room, true);
          return { room, maintenance: view };
        }
        await this.ctx.db.run('DELETE FROM room_maintenance WHERE room = ?', [room]);
        this.engine.setMaintenance(room, false);
        return { room, maintenance: null };
      },
    );
    app.get(
      '/api/maintenance',
      {
        preHandler,
        schema: {
          security,
          summary: 'Rooms in maintenance',
          tags: ['alarms'],
          response: { 200: z.object({ rooms: z.array(MaintenanceView) }) },
        },
      },
      async () => {
        const rows = await this.ctx.db.all<{
          room: string;
          since: number | string;
          who: string;
          note: string | null;
        }>('SELECT room, since, who, note FROM room_maintenance ORDER BY room');
        return { rooms: rows.map((r) => ({ ...r, since: Number(r.since) })) };
      },
    );
    app.post(
      '/api/alarms/:id/ack',
      {
        preHandler,
        schema: {
          security,
          summary: 'Acknowledge an active alarm',
          tags: ['alarms'],
          params: z.object({ id: z.string().max(64) }),
          body: z
            .object({
              who: z.string().min(1).max(128).optional(),
              note: z.string().max(1024).optional(),
            })
            .optional(),
          response: { 200: z.object({ alarm: AlarmSchema }), 404: ErrorBody, 409: ErrorBody },
        },
      },
      async (req, reply) => {
        try {
          const alarm: Alarm = await this.engine.ack(
            req.params.id,
            actorName(req, req.body?.who),
            req.body?.note ?? null,
          );
          return { alarm };
        } catch (err) {
          if (err instanceof AckError) {
            return sendError(reply, err.code === 'not_found' ? 404 : 409, err.code, err.message);
          }
          throw err;
        }
      },
    );
  }
}

/**
 * Who acked or set maintenance: a logged-in staff user is who they are, whatever the body says; the
 * admin token (automation) may name the person it acts for (docs/hub-people.md, "Audit log").
 */
function actorName(req: FastifyRequest, claimed: string | undefined): string {
  if (req.staff?.via === 'session') return req.staff.name;
  return claimed ?? 'admin';
}
