// Staff sessions and user administration over HTTP (DESIGN.md HTTP API: /api/session; docs/hub-people.md).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { Counter, type Registry } from 'prom-client';
import { z } from 'zod';
import type { AuditLog } from '../audit/log.js';
import { ErrorSchema } from '../http/schemas.js';
import { ApiError } from '../http/server.js';
import { STAFF_ROLES } from './roles.js';
import { SESSION_COOKIE, type StaffSessions } from './sessions.js';
import type { LoginThrottle } from './throttle.js';
import { StaffUserError, type StaffUsers } from './users.js';

export interface StaffRouteDeps {
  users: StaffUsers;
  sessions: StaffSessions;
  throttle: LoginThrottle;
  audit: AuditLog;
  metrics: Registry;
}

const Role = z.enum(STAFF_ROLES);
const Who = z.object({
  name: z.string(),
  role: Role,
  via: z.enum(['session', 'token']),
  expiresAt: z.number().nullable(),
});
const UserView = z.object({
  name: z.string(),
  role: Role,
  disabled: z.boolean(),
  createdAt: z.number(),
  updatedAt: z.number(),
});

function userErrorToApi(err: unknown): unknown {
  if (err instanceof StaffUserError) {
    const status = err.code === 'conflict' ? 409 : err.code === 'not_found' ? 404 : 400;
    return new ApiError(status, err.code, err.message);
  }
  return err;
}

/** Secure only over TLS: a plain-HTTP hub on a lab network would otherwise never get the cookie back. */
function cookieOptions(req: FastifyRequest, maxAgeS: number) {
  return {
    path: '/',
    httpOnly: true,
    sameSite: 'strict' as const,
    secure: req.protocol === 'https',
    maxAge: maxAgeS,
  };
}

export function staffRoutes(http: FastifyInstance, d: StaffRouteDeps): void {
  const app = http.withTypeProvider<ZodTypeProvider>();
  const logins = new Counter({
    name: 'classroom_hub_staff_logins_total',
    help: 'Staff logins at POST /api/session, by outcome (ok, invalid, throttled)',
    labelNames: ['outcome'],
    registers: [d.metrics],
  });

  app.get(
    '/api/session',
    {
      schema: {
        summary: 'Who is calling: a staff user with a session, the admin token, or nobody',
        tags: ['staff'],
        response: { 200: z.object({ user: Who.nullable() }) },
      },
    },
    async (req) => ({ user: req.staff }),
  );

  app.post(
    '/api/session',
    {
      schema: {
        summary: 'Log a staff user in: sets the HttpOnly session cookie',
        tags: ['staff'],
        body: z.object({ name: z.string().min(1).max(64), password: z.string().min(1).max(256) }),
        response: {
          200: z.object({ name: z.string(), role: Role, expiresAt: z.number() }),
          400: ErrorSchema,
          401: ErrorSchema,
          429: ErrorSchema,
        },
      },
    },
    async (req, reply) => {
      const { name, password } = req.body;
      const wait = d.throttle.retryAfterMs(req.ip, name);
      if (wait > 0) {
        logins.inc({ outcome: 'throttled' });
        reply.header('retry-after', String(Math.ceil(wait / 1000)));
        throw new ApiError(429, 'throttled', 'too many failed logins from this address; try again later');
      }
      const user = await d.users.verify(name, password);
      if (!user) {
        d.throttle.fail(req.ip, name);
        logins.inc({ outcome: 'invalid' });
        await d.audit.record({ actor: name, role: 'none', action: 'session.login_failed', ip: req.ip });
        throw new ApiError(401, 'invalid_login', 'wrong name or password, or the account is disabled');
      }
      d.throttle.succeed(req.ip, name);
      const s = await d.sessions.open(user.name, {
        ip: req.ip,
        userAgent: String(req.headers['user-agent'] ?? ''),
      });
      logins.inc({ outcome: 'ok' });
      await d.audit.record({ actor: user.name, role: user.role, action: 'session.login', ip: req.ip });
      reply.setCookie(SESSION_COOKIE, s.id, cookieOptions(req, Math.floor(d.sessions.ttlMs / 1000)));
      return { name: user.name, role: user.role, expiresAt: s.expiresAt };
    },
  );

  app.delete(
    '/api/session',
    {
      schema: {
        summary: 'Log out: ends the session on the hub and clears the cookie',
        tags: ['staff'],
        response: { 204: z.null().describe('Logged out (also when there was no session)') },
      },
    },
    async (req, reply: FastifyReply) => {
      const id = req.cookies?.[SESSION_COOKIE];
      if (id) {
        await d.sessions.close(id);
        if (req.staff?.via === 'session') {
          await d.audit.record({
            actor: req.staff.name,
            role: req.staff.role,
            action: 'session.logout',
            ip: req.ip,
          });
        }
      }
      reply.clearCookie(SESSION_COOKIE, cookieOptions(req, 0));
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/users',
    {
      schema: {
        summary: 'Staff users and their roles (no passwords)',
        tags: ['staff'],
        response: { 200: z.object({ users: z.array(UserView) }) },
      },
    },
    async () => ({ users: await d.users.list() }),
  );

  app.post(
    '/api/users',
    {
      schema: {
        summary: 'Create a staff user (or with rotate, a new password and role): the password is shown once',
        tags: ['staff'],
        body: z.object({ name: z.string().max(64), role: Role, rotate: z.boolean().optional() }),
        response: {
          201: z.object({ name: z.string(), role: Role, password: z.string() }),
          400: ErrorSchema,
          409: ErrorSchema,
        },
      },
    },
    async (req, reply) => {
      try {
        const c = await d.users.add(req.body);
        reply.code(201);
        return c;
      } catch (err) {
        throw userErrorToApi(err);
      }
    },
  );

  app.post(
    '/api/users/:name/disable',
    {
      schema: {
        summary: 'Disable a staff user: every session of theirs ends at once',
        tags: ['staff'],
        params: z.object({ name: z.string().max(64) }),
        response: { 200: z.object({ user: UserView }), 404: ErrorSchema },
      },
    },
    async (req) => {
      try {
        return { user: await d.users.disable(req.params.name) };
      } catch (err) {
        throw userErrorToApi(err);
      }
    },
  );
}
