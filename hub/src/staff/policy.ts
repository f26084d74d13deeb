// Who may call which route, and which calls go to the audit log (docs/hub-people.md, "Roles" and
// "Audit log"). One table, so that a review sees every rule at once; a module may instead give its
// route `config: { access, audit }`. A route under /api/ with no rule is refused to all but admins,
// and hub/test/staff-access.test.ts fails until it has one.
import type { FastifyRequest } from 'fastify';
import type { AccessRule } from './roles.js';

export interface AuditRule {
  /** Action name, or a function of the request (a snapshot is a command of its own kind). */
  action: string | ((req: FastifyRequest) => string);
  /** Default: the route's first path parameter. */
  target?: (req: FastifyRequest) => string | null;
  /** Only fields that help a reader; never a password, secret or URL query. */
  detail?: (req: FastifyRequest) => Record<string, unknown>;
}

export interface RouteRule {
  access: AccessRule;
  /** The route records what it did itself (login and logout know more than a hook). */
  audit?: AuditRule | 'self';
  /** Accepts the admin token as `?token=` (WebSocket upgrades, where browsers cannot set headers). */
  queryToken?: boolean;
}

type Body = Record<string, unknown> | undefined;
const body = (req: FastifyRequest): Body => (req.body ?? undefined) as Body;
const pick = (req: FastifyRequest, ...keys: string[]): Record<string, unknown> => {
  const b = body(req) ?? {};
  const out: Record<string, unknown> = {};
  for (const k of keys) if (b[k] !== undefined) out[k] = b[k];
  return out;
};
const origin = (url: unknown): string | null => {
  try {
    return typeof url === 'string' ? new URL(url).origin : null;
  } catch {
    return null;
  }
};

/** Keyed by `METHOD /url` as fastify names the route; a key ending in `*` matches by prefix. */
export const ROUTE_RULES: Record<string, RouteRule> = {
  'GET /api/health': { access: 'public' },
  'GET /api/openapi.json': { access: 'public' },
  'GET /api/docs*': { access: 'public' },
  'GET /api/session': { access: 'public' },
  'POST /api/session': { access: 'public', audit: 'self' },
  'DELETE /api/session': { access: 'public', audit: 'self' },
  'GET /metrics': { access: 'public' },
  'GET /mqtt': { access: 'public' },

  'GET /api/rooms': { access: 'viewer' },
  'GET /api/rooms/:room': { access: 'viewer' },
  'GET /api/agents': { access: 'viewer' },
  'GET /api/agents/:id': { access: 'viewer' },
  'GET /api/records': { access: 'viewer' },
  'GET /api/rooms/:room/rollups': { access: 'viewer' },
  'GET /api/rooms/:room/schedule': { access: 'viewer' },
  'GET /api/alarms': { access: 'viewer' },
  'GET /api/alarms/:id': { access: 'viewer' },
  'GET /api/maintenance': { access: 'viewer' },
  'GET /api/overview': { access: 'viewer' },
  'GET /api/stream': { access: 'viewer', queryToken: true },

  'POST /api/alarms/:id/ack': {
    access: 'operator',
    audit: { action: 'alarm.ack', detail: (req) => pick(req, 'note') },
  },
  'POST /api/agents/:id/commands': {
    access: 'operator',
    audit: {
      action: (req) => (body(req)?.name === 'snapshot' ? 'snapshot.take' : 'command.send'),
      detail: (req) => pick(req, 'name', 'args'),
    },
  },
  // A command's result carries the snapshot picture, so reading it is an operator's right too.
  'GET /api/commands/:id': { access: 'operator' },
  'PUT /api/rooms/:room/maintenance': {
    access: 'operator',
    audit: { action: 'maintenance.set', detail: (req) => pick(req, 'on', 'note') },
  },

  'POST /api/agents': {
    access: 'admin',
    audit: {
      action: 'agent.provision',
      target: (req) => String(body(req)?.agent ?? ''),
      detail: (req) => pick(req, 'room', 'name', 'rotate'),
    },
  },
  'POST /api/agents/:id/move': {
    access: 'admin',
    audit: { action: 'agent.move', detail: (req) => pick(req, 'room', 'name') },
  },
  'POST /api/accounts': {
    access: 'admin',
    audit: {
      action: 'account.provision',
      target: (req) => String(body(req)?.account ?? ''),
      detail: (req) => pick(req, 'role', 'rotate'),
    },
  },
  'PUT /api/agents/:id/config': {
    access: 'admin',
    audit: { action: 'config.set', detail: (req) => ({ keys: Object.keys(body(req) ?? {}) }) },
  },
  'PUT /api/rooms/:room/schedule': { access: 'admin', audit: { action: 'schedule.set' } },
  'GET /api/webhooks': { access: 'admin' },
  'POST /api/webhooks': {
    access: 'admin',
    audit: {
      action: 'webhook.add',
      target: (req) => origin(body(req)?.url),
    },
  },
  'DELETE /api/webhooks/:id': { access: 'admin', audit: { action: 'webhook.remove' } },
  'GET /api/users': { access: 'admin' },
  'POST /api/users': {
    access: 'admin',
    audit: {
      action: 'user.add',
      target: (req) => String(body(req)?.name ?? ''),
      detail: (req) => pick(req, 'role', 'rotate'),
    },
  },
  'POST /api/users/:name/disable': { access: 'admin', audit: { action: 'user.disable' } },
  'GET /api/audit': { access: 'admin' },
};

/** The rule of a route, or undefined when none is written (the caller then refuses all but admins). */
export function ruleFor(method: string, url: string, table = ROUTE_RULES): RouteRule | undefined {
  const m = method === 'HEAD' ? 'GET' : method;
  const key = `${m} ${url}`;
  const exact = table[key];
  if (exact) return exact;
  for (const [k, rule] of Object.entries(table)) {
    if (k.endsWith('*') && key.startsWith(k.slice(0, -1))) return rule;
  }
  if (!url.startsWith('/api/') && url !== '/api') return { access: 'public' };
  return undefined;
}
