// Small HTTP helpers shared by the people-facing routes: the one error body, keyset cursors and CSV.
import { stringify } from 'csv-stringify/sync';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import type { ApiErrorBody } from '../context.js';
import { bearer } from '../http/schemas.js';
import { adminAuth } from '../http/server.js';

export function sendError(
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
  details?: unknown,
): FastifyReply {
  const body: ApiErrorBody = { error: { code, message, ...(details === undefined ? {} : { details }) } };
  return reply.code(status).send(body);
}

export const ErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

/** Opaque cursor for keyset paging: base64url of JSON. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function decodeCursor<T>(cursor: string | undefined, schema: z.ZodType<T>): T | null | 'invalid' {
  if (!cursor) return null;
  try {
    const parsed = schema.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return parsed.success ? parsed.data : 'invalid';
  } catch {
    return 'invalid';
  }
}

export const FormatQuery = z.enum(['json', 'csv']).optional().describe('json (default) or csv');

/**
 * Sends rows as CSV. Cells that a spreadsheet would evaluate as a formula are prefixed with a quote
 * (CSV injection: room names and notes are user-controlled).
 */
export function sendCsv(
  reply: FastifyReply,
  filename: string,
  columns: string[],
  rows: Array<Record<string, unknown>>,
): FastifyReply {
  const safe = rows.map((r) => {
    const out: Record<string, unknown> = {};
    for (const c of columns) {
      const v = r[c];
      if (typeof v === 'string' && /^[=+\-@\t\r]/.test(v)) out[c] = `'${v}`;
      else if (v !== null && typeof v === 'object') out[c] = JSON.stringify(v);
      else out[c] = v;
    }
    return out;
  });
  const text = stringify(safe, { header: true, columns });
  return reply
    .header('content-type', 'text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${filename}"`)
    .send(text);
}

/**
 * Route options every admin route of the people modules shares: the core's admin-token preHandler
 * and the OpenAPI security requirement.
 */
export function adminRoute(adminToken: string): { preHandler: never; security: typeof bearer } {
  return { preHandler: adminAuth(adminToken) as never, security: bearer };
}
