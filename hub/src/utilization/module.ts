// `GET /api/utilization` (docs/hub-people.md "Utilization"): per room and hour or day, the timetable
// against the people counted, for the teaching-space platform. Computed from the stored capture
// windows and timetable at query time, so a corrected timetable changes past figures too.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { adminRoute, ErrorBody, FormatQuery, sendCsv, sendError } from '../alarms/http.js';
import type { HubContext, HubModule } from '../context.js';
import type { BucketKind } from '../rollups/buckets.js';
import type { RoomsModule } from '../rooms/module.js';
import { listPeriods, migrateSchedule } from '../schedule/store.js';
import { type CountedWindow, utilizationCells } from './compute.js';
import { occupancyOf } from './occupancy.js';

/** Longest range per bucket kind: a week of hours, a term of days (keeps one answer bounded). */
export const MAX_RANGE_MS: Record<BucketKind, number> = { hour: 8 * 86_400_000, day: 123 * 86_400_000 };
export const MAX_ROOMS_PER_QUERY = 500;
/** Capture windows read per room; beyond it the range is refused rather than answered short. */
export const MAX_WINDOWS_PER_ROOM = 400_000;
/** Windows are read from this long before `from`, so one that started earlier and overlaps counts. */
const WINDOW_LOOKBACK_MS = 10 * 60_000;

const TimeParam = z
  .union([z.coerce.number().int().min(0), z.iso.datetime({ offset: true }), z.iso.date()])
  .transform((v) => (typeof v === 'number' ? v : Date.parse(v)));

const Minutes = z.number().min(0);
export const UtilizationRow = z.object({
  room: z.string(),
  name: z.string(),
  building: z.string(),
  floor: z.string(),
  capacity: z.number().int().nullable(),
  bucket: z.enum(['hour', 'day']),
  start: z.number(),
  end: z.number(),
  scheduledMinutes: Minutes.describe('Minutes on the timetable'),
  occupiedMinutes: Minutes.describe('Minutes counted with at least one person'),
  scheduledEmptyMinutes: Minutes.describe('Scheduled minutes counted with nobody in the room'),
  occupiedUnscheduledMinutes: Minutes.describe('Minutes with people and no class on the timetable'),
  scheduledUncountedMinutes: Minutes.describe(
    'Scheduled minutes without any count (box offline or not counting)',
  ),
  peopleMean: z.number().nullable().describe('Mean people over the counted minutes'),
  peoplePeak: z.number().nullable(),
  seatUse: z
    .number()
    .nullable()
    .describe('Mean people during counted scheduled time ÷ capacity; null without a capacity or a count'),
});
type UtilizationRow = z.infer<typeof UtilizationRow>;

class RangeError400 extends Error {}

export class UtilizationModule implements HubModule {
  readonly name = 'utilization';

  constructor(
    private readonly ctx: HubContext,
    private readonly rooms: RoomsModule,
  ) {}

  async start(): Promise<void> {
    await migrateSchedule(this.ctx.db);
  }

  async stop(): Promise<void> {}

  /** Rooms to report: the registry's, plus rooms of agents the registry does not list. */
  private roomsIn(
    building: string | undefined,
  ): Array<Omit<UtilizationRow, keyof ReturnType<typeof utilizationCells>[number] | 'bucket'>> {
    const out = new Map<
      string,
      { room: string; name: string; building: string; floor: string; capacity: number | null }
    >();
    for (const r of this.rooms.all()) {
      out.set(r.id, { room: r.id, name: r.name, building: r.building, floor: r.floor, capacity: r.capacity });
    }
    for (const a of this.ctx.registry.agents()) {
      if (!a.room || out.has(a.room.id)) continue;
      out.set(a.room.id, {
        room: a.room.id,
        name: a.room.name,
        building: a.room.building,
        floor: a.room.floor,
        capacity: null,
      });
    }
    return [...out.values()]
      .filter((r) => building === undefined || r.building === building)
      .sort((a, b) => (a.room < b.room ? -1 : 1));
  }

  /** The counted windows of the room's counting camera: the source with the most counts in range. */
  private async windows(room: string, from: number, to: number): Promise<CountedWindow[]> {
    const rows = await this.ctx.db.all<{
      source: string | null;
      ts: number | string;
      end_ts: number | string | null;
      body: string;
    }>(
      `SELECT source, ts, end_ts, body FROM records
       WHERE room = ? AND ts >= ? AND ts < ? AND kind = 'capture' ORDER BY ts LIMIT ${MAX_WINDOWS_PER_ROOM + 1}`,
      [room, from - WINDOW_LOOKBACK_MS, to],
    );
    if (rows.length > MAX_WINDOWS_PER_ROOM) {
      throw new RangeError400(
        `room ${room} has more than ${MAX_WINDOWS_PER_ROOM} capture windows in range; ask for less`,
      );
    }
    const bySource = new Map<string, CountedWindow[]>();
    for (const r of rows) {
      let body: object;
      try {
        body = JSON.parse(r.body) as object;
      } catch {
        continue;
      }
      const occ = occupancyOf(body);
      if (!occ) continue;
      const key = r.source ?? '';
      let list = bySource.get(key);
      if (!list) {
        list = [];
        bySource.set(key, list);
      }
      const start = Number(r.ts);
      list.push({ start, end: Number(r.end_ts ?? start), people: occ.people, peak: occ.peak });
    }
    let best: CountedWindow[] = [];
    for (const list of bySource.values()) if (list.length > best.length) best = list;
    return best;
  }

  async report(bucket: BucketKind, from: number, to: number, building?: string): Promise<UtilizationRow[]> {
    const rooms = this.roomsIn(building);
    if (rooms.length > MAX_ROOMS_PER_QUERY) {
      throw new RangeError400(
        `${rooms.length} rooms match; at most ${MAX_ROOMS_PER_QUERY} per query (give building=)`,
      );
    }
    const out: UtilizationRow[] = [];
    for (const r of rooms) {
      const periods = await listPeriods(this.ctx.db, r.room, from, to);
      const windows = await this.windows(r.room, from, to);
      for (const c of utilizationCells(bucket, from, to, periods, windows, r.capacity)) {
        out.push({ ...r, bucket, ...c });
      }
    }
    return out;
  }

  routes(http: FastifyInstance): void {
    const app = http.withTypeProvider<ZodTypeProvider>();
    const { preHandler, security } = adminRoute(this.ctx.config.adminToken);
    app.get(
      '/api/utilization',
      {
        preHandler,
        config: { access: 'viewer' },
        schema: {
          security,
          summary:
            'How rooms are used: per room and hour or day, scheduled, occupied, scheduled-but-empty and occupied-but-unscheduled minutes and seat use (format=csv for CSV)',
          tags: ['utilization'],
          querystring: z.object({
            from: TimeParam.optional().describe(
              'Unix ms or ISO 8601; default: the start of today (hour) or 7 days ago (day)',
            ),
            to: TimeParam.optional().describe('Unix ms or ISO 8601; default: now'),
            building: z.string().max(256).optional(),
            bucket: z.enum(['hour', 'day']).default('hour'),
            format: FormatQuery,
          }),
          response: { 200: z.object({ rows: z.array(UtilizationRow) }), 400: ErrorBody },
        },
      },
      async (req, reply) => {
        const q = req.query;
        const now = this.ctx.clock.now();
        const to = q.to ?? now;
        const from =
          q.from ?? (q.bucket === 'hour' ? new Date(now).setHours(0, 0, 0, 0) : to - 7 * 86_400_000);
        if (!Number.isFinite(from) || !Number.isFinite(to) || from >= to) {
          return sendError(reply, 400, 'bad_range', '`from` must be before `to`');
        }
        if (to - from > MAX_RANGE_MS[q.bucket]) {
          return sendError(
            reply,
            400,
            'bad_range',
            `at most ${MAX_RANGE_MS[q.bucket] / 86_400_000} days per query with bucket=${q.bucket}`,
          );
        }
        try {
          const rows = await this.report(q.bucket, from, to, q.building);
          if (q.format === 'csv') {
            return sendCsv(reply, `utilization-${q.bucket}.csv`, Object.keys(UtilizationRow.shape), rows);
          }
          return { rows };
        } catch (err) {
          if (err instanceof RangeError400) return sendError(reply, 400, 'too_large', err.message);
          throw err;
        }
      },
    );
  }
}
