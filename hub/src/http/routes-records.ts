// GET /api/records (DESIGN.md): filters, opaque cursor paging, and `format=csv`.
import { RecordSchema } from '@classroom/protocol';
import { stringify } from 'csv-stringify/sync';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../context.js';
import { bearer, errorResponses } from './schemas.js';
import { ApiError } from './server.js';

export const MAX_PAGE = 1000;

interface Row {
  agent: string;
  seq: number;
  ts: number;
  room: string | null;
  historical: number;
  received_at: number;
  body: string;
}

type Cursor = [number, string, number];

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(s: string): Cursor {
  try {
    const v: unknown = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    if (
      Array.isArray(v) &&
      v.length === 3 &&
      Number.isSafeInteger(v[0]) &&
      typeof v[1] === 'string' &&
      Number.isSafeInteger(v[2])
    ) {
      return v as Cursor;
    }
  } catch {
    // fall through to the error below
  }
  throw new ApiError(400, 'invalid_request', 'invalid cursor: pass back the nextCursor of a previous page');
}

const Query = z.object({
  room: z.string().max(64).optional(),
  agent: z.string().max(64).optional(),
  kind: z.enum(['capture', 'event']).optional(),
  from: z.coerce.number().int().min(0).optional().describe('Earliest record time (ms), inclusive'),
  to: z.coerce.number().int().min(0).optional().describe('Latest record time (ms), exclusive'),
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(100),
  cursor: z.string().max(512).optional(),
  format: z.enum(['json', 'csv']).default('json'),
  token: z.string().optional(),
});

const StoredRecord = z.object({
  agent: z.string(),
  room: z.string().nullable(),
  historical: z.boolean(),
  receivedAt: z.number(),
  record: RecordSchema,
});

/** The record's time (`start` for a capture, `ts` for an event) orders pages; (agent, seq) breaks ties. */
export function recordsRoutes(http: FastifyInstance, db: Db, requireAdmin: unknown): void {
  const app = http.withTypeProvider<ZodTypeProvider>();
  app.get(
    '/api/records',
    {
      preHandler: requireAdmin as never,
      schema: {
        summary: 'Stored records, oldest first, in pages; format=csv returns CSV of the same page',
        security: bearer,
        querystring: Query,
        response: {
          200: z.object({ records: z.array(StoredRecord), nextCursor: z.string().nullable() }),
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const where: string[] = [];
      const params: unknown[] = [];
      if (q.room !== undefined) where.push('room = ?') && params.push(q.room);
      if (q.agent !== undefined) where.push('agent = ?') && params.push(q.agent);
      if (q.kind !== undefined) where.push('kind = ?') && params.push(q.kind);
      if (q.from !== undefined) where.push('ts >= ?') && params.push(q.from);
      if (q.to !== undefined) where.push('ts < ?') && params.push(q.to);
      if (q.cursor !== undefined) {
        const [ts, agent, seq] = decodeCursor(q.cursor);
        where.push('(ts > ? OR (ts = ? AND (agent > ? OR (agent = ? AND seq > ?))))');
        params.push(ts, ts, agent, agent, seq);
      }
      const sql = `SELECT agent, seq, ts, room, historical, received_at, body FROM records
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ts, agent, seq LIMIT ?`;
      params.push(q.limit + 1);
      const rows = await db.all<Row>(sql, params);
      const page = rows.slice(0, q.limit);
      const last = page[page.length - 1];
      const nextCursor = rows.length > q.limit && last ? encodeCursor([last.ts, last.agent, last.seq]) : null;
      const records = page.map((r) => ({
        agent: r.agent,
        room: r.room,
        historical: r.historical === 1,
        receivedAt: r.received_at,
        record: JSON.parse(r.body) as z.infer<typeof RecordSchema>,
      }));
      if (q.format === 'csv') {
        if (nextCursor) reply.header('x-next-cursor', nextCursor);
        reply.header('content-type', 'text/csv; charset=utf-8');
        return reply.serializer((x: unknown) => x as string).send(toCsv(records) as never);
      }
      return { records, nextCursor };
    },
  );
}

const CSV_COLUMNS = [
  'agent',
  'room',
  'seq',
  'kind',
  'source',
  'start',
  'end',
  'ts',
  'type',
  'historical',
  'receivedAt',
  'fps',
  'width',
  'height',
  'keyframes',
  'bitrateKbps',
  'blackRatio',
  'frozenRatio',
  'motion',
  'rmsDb',
  'peakDb',
  'loudnessLufs',
  'silenceRatio',
  'detail',
] as const;

function toCsv(records: Array<z.infer<typeof StoredRecord>>): string {
  const rows = records.map(({ agent, room, historical, receivedAt, record: r }) => {
    const base = { agent, room, seq: r.seq, kind: r.kind, source: r.source, historical, receivedAt };
    if (r.kind === 'event') return { ...base, ts: r.ts, type: r.type, detail: JSON.stringify(r.detail) };
    return { ...base, start: r.start, end: r.end, ...(r.video ?? {}), ...(r.audio ?? {}) };
  });
  return stringify(rows, {
    header: true,
    columns: [...CSV_COLUMNS],
    cast: { boolean: (b) => (b ? 'true' : 'false') },
  });
}
