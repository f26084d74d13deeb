// GET /api/audit (DESIGN.md HTTP API): the audit log, newest first, filtered by time, actor and action.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { decodeCursor, encodeCursor, FormatQuery, sendCsv } from '../alarms/http.js';
import { ErrorSchema } from '../http/schemas.js';
import { ApiError } from '../http/server.js';
import type { AuditLog } from './log.js';

const Entry = z.object({
  id: z.number(),
  ts: z.number(),
  actor: z.string(),
  role: z.string(),
  action: z.string(),
  target: z.string().nullable(),
  detail: z.record(z.string(), z.unknown()),
  ip: z.string().nullable(),
});

const CSV_COLUMNS = ['id', 'ts', 'actor', 'role', 'action', 'target', 'detail', 'ip'];

export function auditRoutes(http: FastifyInstance, audit: AuditLog): void {
  http.withTypeProvider<ZodTypeProvider>().get(
    '/api/audit',
    {
      schema: {
        summary:
          'The audit log, newest first: who acked, commanded, configured, provisioned or viewed, when and from where',
        tags: ['staff'],
        querystring: z.object({
          from: z.coerce.number().int().min(0).optional().describe('ms since the epoch, inclusive'),
          to: z.coerce.number().int().min(0).optional().describe('ms since the epoch, exclusive'),
          user: z.string().max(128).optional().describe('actor: a staff user, admin-token or cli'),
          action: z.string().max(64).optional().describe('exact action, or a prefix ending in "." (alarm.)'),
          limit: z.coerce.number().int().min(1).max(1000).default(200),
          cursor: z.string().max(256).optional(),
          format: FormatQuery,
        }),
        response: {
          200: z.object({ entries: z.array(Entry), nextCursor: z.string().nullable() }),
          400: ErrorSchema,
        },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const before = decodeCursor(q.cursor, z.object({ id: z.number().int() }));
      if (before === 'invalid') throw new ApiError(400, 'bad_cursor', 'cursor is not valid');
      const rows = await audit.query({
        from: q.from,
        to: q.to,
        actor: q.user,
        action: q.action,
        beforeId: before?.id,
        limit: q.limit + 1,
      });
      const entries = rows.slice(0, q.limit);
      const last = entries[entries.length - 1];
      const nextCursor = rows.length > q.limit && last ? encodeCursor({ id: last.id }) : null;
      if (q.format === 'csv') {
        if (nextCursor) reply.header('x-next-cursor', nextCursor);
        return sendCsv(reply, 'audit.csv', CSV_COLUMNS, entries as unknown as Array<Record<string, unknown>>);
      }
      return { entries, nextCursor };
    },
  );
}
