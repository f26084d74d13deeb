// Authentication and role checks for every route (docs/hub-people.md, "Roles"). One onRequest hook
// finds who is calling (session cookie of a staff user, or the admin token) and checks the route's
// rule from policy.ts; one onSend hook writes successful changes to the audit log before the client
// hears of them. The routes' own preHandlers (adminAuth) then see an authorised request.
import { timingSafeEqual } from 'node:crypto';
import cookie from '@fastify/cookie';
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { AuditLog } from '../audit/log.js';
import { liveAdminToken } from '../auth/admin-token.js';
import { ErrorSchema } from '../http/schemas.js';
import { ApiError, QUERY_TOKEN_ROUTE } from '../http/server.js';
import { type AuditRule, ROUTE_RULES, type RouteRule, ruleFor } from './policy.js';
import { roleAllows, type StaffPrincipal, TOKEN_ACTOR } from './roles.js';
import { SESSION_COOKIE, type StaffSessions } from './sessions.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling, set by the access hook; null on public routes called anonymously. */
    staff: StaffPrincipal | null;
  }
  interface FastifyContextConfig {
    access?: RouteRule['access'];
    audit?: RouteRule['audit'];
    queryToken?: boolean;
  }
}

export interface AccessDeps {
  adminToken: string;
  sessions: StaffSessions;
  audit: AuditLog;
  log: Logger;
  /** Where the refusal counter is registered (ctx.metrics). */
  metrics: Registry;
  rules?: Record<string, RouteRule>;
}

/** Every route the server has, with the rule that applies to it (the access test walks this list). */
export interface RouteEntry {
  method: string;
  url: string;
  rule: RouteRule | undefined;
}

const routeLists = new WeakMap<FastifyInstance, RouteEntry[]>();

export function listRoutes(http: FastifyInstance): RouteEntry[] {
  return routeLists.get(http) ?? [];
}

function tokenMatches(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function ruleOf(
  opts: { method: string | string[]; url: string; config?: unknown },
  table: Record<string, RouteRule>,
) {
  const cfg = (opts.config ?? {}) as {
    access?: RouteRule['access'];
    audit?: RouteRule['audit'];
    queryToken?: boolean;
  };
  const method = Array.isArray(opts.method) ? (opts.method[0] ?? 'GET') : opts.method;
  if (cfg.access) return { access: cfg.access, audit: cfg.audit, queryToken: cfg.queryToken } as RouteRule;
  return ruleFor(method, opts.url, table);
}

export async function installAccess(http: FastifyInstance, d: AccessDeps): Promise<void> {
  const table = d.rules ?? ROUTE_RULES;
  const routes: RouteEntry[] = [];
  routeLists.set(http, routes);
  const refused = new Counter({
    name: 'classroom_hub_http_refused_total',
    help: 'HTTP API calls refused by the access layer, by reason (unauthorized, forbidden, cross_origin)',
    labelNames: ['reason'],
    registers: [d.metrics],
  });
  await http.register(cookie);
  http.decorateRequest('staff', null);

  http.addHook('onRoute', (opts: RouteOptions) => {
    const methods = Array.isArray(opts.method) ? opts.method : [opts.method];
    const rule = ruleOf(opts, table);
    for (const method of methods) routes.push({ method, url: opts.url, rule });
    // The rule travels with the route; an unwritten rule under /api/ means admin only (fail closed).
    opts.config = {
      ...(opts.config ?? {}),
      access: rule?.access ?? 'admin',
      audit: rule?.audit,
      queryToken: rule?.queryToken ?? false,
    } as typeof opts.config;
    if (!rule && opts.url.startsWith('/api/'))
      d.log.warn({ route: `${methods.join(',')} ${opts.url}` }, 'route has no access rule: admin only');
    // The OpenAPI document tells callers what the access layer answers, so that every response the
    // hub sends is described there (hub/test/openapi-responses.ts checks this).
    const schema = opts.schema as
      | { hide?: boolean; response?: Record<string, unknown>; security?: unknown; description?: string }
      | undefined;
    const access = rule?.access ?? 'admin';
    if (schema && !schema.hide) {
      // Any route may fail validation (400) or fail inside (500), with the one error body.
      schema.response = { 400: ErrorSchema, 500: ErrorSchema, ...(schema.response ?? {}) };
    }
    if (schema && access !== 'public') {
      schema.response = { 401: ErrorSchema, 403: ErrorSchema, ...(schema.response ?? {}) };
      schema.security = [{ bearer: [] }, { session: [] }];
      schema.description = [schema.description, `Role: ${access} or above.`].filter(Boolean).join(' ');
    }
  });

  http.addHook('onRequest', async (req) => {
    const cfg = req.routeOptions.config as { access?: RouteRule['access']; queryToken?: boolean } | undefined;
    const url = req.routeOptions.url;
    if (!url || !cfg?.access) return; // no route: the 404 handler answers
    // The dashboard's files and /metrics need no caller; skip the session lookup for them.
    if (cfg.access === 'public' && !url.startsWith('/api/')) return;
    const principal = await identify(req, d, cfg.queryToken === true).catch((err: unknown) => {
      refused.inc({ reason: 'unauthorized' });
      throw err;
    });
    req.staff = principal;
    if (cfg.access === 'public') return;
    if (!principal) {
      refused.inc({ reason: 'unauthorized' });
      throw new ApiError(401, 'unauthorized', 'log in, or send Authorization: Bearer <admin token>');
    }
    if (principal.via === 'session' && UNSAFE.has(req.method) && !sameOrigin(req)) {
      refused.inc({ reason: 'cross_origin' });
      throw new ApiError(403, 'forbidden', 'cross-origin request refused');
    }
    if (!roleAllows(principal.role, cfg.access)) {
      refused.inc({ reason: 'forbidden' });
      await d.audit
        .record({
          actor: principal.name,
          role: principal.role,
          action: 'access.denied',
          target: `${req.method} ${req.routeOptions.url}`,
          ip: req.ip,
        })
        .catch((err) => d.log.error({ err }, 'audit record failed'));
      throw new ApiError(
        403,
        'forbidden',
        `needs the ${cfg.access} role; ${principal.name} is ${principal.role}`,
      );
    }
  });

  http.addHook('onSend', async (req, reply, payload) => {
    const audit = (req.routeOptions.config as { audit?: RouteRule['audit'] } | undefined)?.audit;
    if (!audit || audit === 'self' || reply.statusCode >= 400 || !req.staff) return payload;
    await recordRoute(d.audit, req, audit).catch((err) =>
      req.log.error({ err, url: req.url }, 'audit record failed'),
    );
    return payload;
  });
}

async function identify(
  req: FastifyRequest,
  d: AccessDeps,
  queryToken: boolean,
): Promise<StaffPrincipal | null> {
  const header = req.headers.authorization;
  let token: string | undefined;
  if (typeof header === 'string' && header.startsWith('Bearer ')) token = header.slice(7).trim();
  else {
    const q = (req.query as Record<string, unknown> | undefined)?.token;
    if (typeof q === 'string') {
      // docs/hub.md "HTTP API": a token in a URL ends up in proxy logs and browser history.
      if (!queryToken)
        throw new ApiError(
          401,
          'unauthorized',
          `?token= is accepted only on ${QUERY_TOKEN_ROUTE}; send Authorization: Bearer <token>`,
        );
      token = q;
    }
  }
  if (token !== undefined) {
    // A wrong token is an error even on public routes: the caller meant to authenticate. The live
    // holder follows `admin-token rotate` (auth/admin-token.ts).
    const holder = liveAdminToken(d.adminToken);
    const ok = holder ? holder.matches(token) : tokenMatches(token, d.adminToken);
    if (!ok) throw new ApiError(401, 'unauthorized', 'invalid admin token');
    return { name: TOKEN_ACTOR, role: 'admin', via: 'token', expiresAt: null };
  }
  const id = req.cookies?.[SESSION_COOKIE];
  if (!id) return null;
  return d.sessions.resolve(id);
}

/**
 * SameSite=Strict already keeps the cookie off cross-site requests; a browser's Origin header naming
 * another host is refused as well, in case a proxy or an old browser gets SameSite wrong.
 */
function sameOrigin(req: FastifyRequest): boolean {
  const o = req.headers.origin;
  if (o === undefined) return true;
  try {
    return new URL(o).host === req.headers.host;
  } catch {
    return false;
  }
}

async function recordRoute(audit: AuditLog, req: FastifyRequest, rule: AuditRule): Promise<void> {
  const who = req.staff;
  if (!who) return;
  const params = (req.params ?? {}) as Record<string, string>;
  const action = typeof rule.action === 'function' ? rule.action(req) : rule.action;
  const target = rule.target ? rule.target(req) : (Object.values(params)[0] ?? null);
  await audit.record({
    actor: who.name,
    role: who.role,
    action,
    target,
    detail: rule.detail?.(req) ?? {},
    ip: req.ip,
  });
}
