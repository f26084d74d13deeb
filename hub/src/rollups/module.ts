// Rollups per room, hourly and daily (docs/hub-people.md "Rollups"): uptime from availability time, video-ok ratio,
// audio-active and capture minutes from capture windows, and scheduled/healthy minutes fed by the
// schedule module ("capture coverage").

import type { Availability } from '@classroom/protocol';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { adminRoute, ErrorBody, FormatQuery, sendCsv, sendError } from '../alarms/http.js';
import type { HubContext, HubEvents, HubModule } from '../context.js';
import { migrateRollups, ROLLUP_FIELDS, RollupAccumulator, type RollupField } from './accumulator.js';
import { type BucketKind, bucketEnd, bucketStart } from './buckets.js';

export const ROLLUP_FLUSH_MS = 5_000;

interface Tracked {
  room: string | null;
  availability: Availability;
  since: number;
}

const RollupView = z.object({
  room: z.string(),
  bucket: z.enum(['hour', 'day']),
  start: z.number(),
  end: z.number(),
  uptimeRatio: z
    .number()
    .nullable()
    .describe('online / (online + offline + lost); sleeping and unknown excluded'),
  videoOkRatio: z.number().nullable(),
  audioActiveMinutes: z.number(),
  captureMinutes: z.number().describe('Minutes of camera video captured'),
  scheduledMinutes: z.number(),
  healthyScheduledMinutes: z.number(),
  coverageRatio: z.number().nullable().describe('healthy / scheduled minutes'),
  peopleMean: z
    .number()
    .nullable()
    .describe('Mean people over the counted minutes (null: nothing counted; docs/hub-people.md "Occupancy")'),
  peoplePeak: z.number().nullable().describe('Most people in one frame (null: nothing counted)'),
  occupiedMinutes: z.number().describe('Minutes with at least one person'),
});
type RollupView = z.infer<typeof RollupView>;

/** Accepts Unix ms or an ISO 8601 date. */
const TimeParam = z
  .union([z.coerce.number().int().min(0), z.iso.datetime({ offset: true }), z.iso.date()])
  .transform((v) => (typeof v === 'number' ? v : Date.parse(v)));

const round2 = (n: number): number => Math.round(n * 100) / 100;
const ratio = (a: number, b: number): number | null => (b > 0 ? Math.round((a / b) * 10_000) / 10_000 : null);

export class RollupsModule implements HubModule {
  readonly name = 'rollups';
  readonly acc: RollupAccumulator;
  private readonly tracked = new Map<string, Tracked>();
  private timer: NodeJS.Timeout | undefined;
  private readonly handlers: Array<() => void> = [];

  constructor(private readonly ctx: HubContext) {
    this.acc = new RollupAccumulator(ctx.db);
  }

  async start(): Promise<void> {
    await migrateRollups(this.ctx.db);
    const now = this.ctx.clock.now();
    // Time before this start is unknown (the hub was down), so accrual starts now.
    for (const a of this.ctx.registry.agents()) {
      this.tracked.set(a.agent, { room: a.room?.id ?? null, availability: a.availability, since: now });
    }
    const onAvail = (e: HubEvents['agent.availability']): void => {
      this.accrue(e.agent, e.ts);
      const t = this.tracked.get(e.agent);
      this.tracked.set(e.agent, {
        room: e.room ?? t?.room ?? null,
        availability: e.availability,
        since: e.ts,
      });
    };
    const onRecords = (e: HubEvents['records.committed']): void => {
      if (!e.room) return;
      for (const r of e.records) if (r.kind === 'capture') this.acc.addCapture(e.room, r);
    };
    this.ctx.bus.on('agent.availability', onAvail);
    this.ctx.bus.on('records.committed', onRecords);
    this.handlers.push(
      () => this.ctx.bus.off('agent.availability', onAvail),
      () => this.ctx.bus.off('records.committed', onRecords),
    );
    this.timer = this.ctx.clock.setInterval(() => void this.flush(), ROLLUP_FLUSH_MS);
  }

  async stop(): Promise<void> {
    for (const off of this.handlers.splice(0)) off();
    this.ctx.clock.clearInterval(this.timer);
    await this.flush();
  }

  /** Books the time since the last accrual to the agent's current availability. */
  private accrue(agent: string, until: number): void {
    const t = this.tracked.get(agent);
    if (!t?.room || until <= t.since) {
      if (t) t.since = Math.max(t.since, until);
      return;
    }
    const field: RollupField | null =
      t.availability === 'online'
        ? 'online_ms'
        : t.availability === 'offline' || t.availability === 'lost'
          ? 'down_ms'
          : null;
    if (field) this.acc.addSpan(t.room, field, t.since, until);
    t.since = until;
  }

  /** Adds scheduled minutes and, when healthy, covered minutes (called by the schedule module). */
  addCoverage(room: string, from: number, to: number, healthy: boolean): void {
    this.acc.addSpan(room, 'scheduled_ms', from, to);
    if (healthy) this.acc.addSpan(room, 'healthy_ms', from, to);
  }

  async flush(): Promise<void> {
    const now = this.ctx.clock.now();
    for (const agent of this.tracked.keys()) this.accrue(agent, now);
    try {
      await this.acc.flush();
    } catch (err) {
      this.ctx.log.error({ err, module: 'rollups' }, 'flushing rollups failed; will retry');
    }
  }

  async query(room: string, bucket: BucketKind, from: number, to: number): Promise<RollupView[]> {
    await this.flush();
    const rows = await this.ctx.db.all<Record<string, number | string>>(
      `SELECT start, ${ROLLUP_FIELDS.join(', ')}, people_peak FROM rollups
       WHERE room = ? AND bucket = ? AND start >= ? AND start < ? ORDER BY start`,
      [room, bucket, bucketStart(bucket, from), to],
    );
    return rows.map((r) => {
      const n = (f: RollupField): number => Number(r[f] ?? 0);
      const start = Number(r.start);
      return {
        room,
        bucket,
        start,
        end: bucketEnd(bucket, start),
        uptimeRatio: ratio(n('online_ms'), n('online_ms') + n('down_ms')),
        videoOkRatio: ratio(n('video_ok_ms'), n('video_ms')),
        audioActiveMinutes: round2(n('audio_active_ms') / 60_000),
        captureMinutes: round2(n('capture_ms') / 60_000),
        scheduledMinutes: round2(n('scheduled_ms') / 60_000),
        healthyScheduledMinutes: round2(n('healthy_ms') / 60_000),
        coverageRatio: ratio(n('healthy_ms'), n('scheduled_ms')),
        peopleMean: n('counted_ms') > 0 ? round2(n('people_ms') / n('counted_ms')) : null,
        peoplePeak: n('counted_ms') > 0 ? n('people_peak') : null,
        occupiedMinutes: round2(n('occupied_ms') / 60_000),
      };
    });
  }

  routes(http: FastifyInstance): void {
    const app = http.withTypeProvider<ZodTypeProvider>();
    const { preHandler, security } = adminRoute(this.ctx.config.adminToken);
    app.get(
      '/api/rooms/:room/rollups',
      {
        preHandler,
        schema: {
          security,
          summary: 'Hourly or daily rollups of a room (format=csv for CSV)',
          tags: ['rollups'],
          params: z.object({ room: z.string().max(64) }),
          querystring: z.object({
            bucket: z.enum(['hour', 'day']).default('hour'),
            from: TimeParam.optional(),
            to: TimeParam.optional(),
            format: FormatQuery,
          }),
          response: { 200: z.object({ rollups: z.array(RollupView) }), 400: ErrorBody },
        },
      },
      async (req, reply) => {
        const q = req.query;
        const now = this.ctx.clock.now();
        const to = q.to ?? now + 1;
        const from = q.from ?? to - (q.bucket === 'hour' ? 24 * 3_600_000 : 31 * 86_400_000);
        if (!Number.isFinite(from) || !Number.isFinite(to) || from >= to) {
          return sendError(reply, 400, 'bad_range', '`from` must be before `to`');
        }
        const rollups = await this.query(req.params.room, q.bucket, from, to);
        if (q.format === 'csv') {
          return sendCsv(
            reply,
            `rollups-${req.params.room}-${q.bucket}.csv`,
            Object.keys(RollupView.shape),
            rollups,
          );
        }
        return { rollups };
      },
    );
  }
}
