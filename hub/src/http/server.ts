// The HTTP server: fastify with zod schemas on every route (fastify-type-provider-zod), an OpenAPI 3
// document generated from them, one error body for every failure, and the admin-token guard.
import { timingSafeEqual } from 'node:crypto';
import swagger from '@fastify/swagger';
import websocket from '@fastify/websocket';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { liveAdminToken } from '../auth/admin-token.js';
import type { ApiErrorBody } from '../context.js';
import { redactUrl } from '../log-redact.js';
import { VERSION } from '../version.js';

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export function errorBody(code: string, message: string, details?: unknown): ApiErrorBody {
  return details === undefined ? { error: { code, message } } : { error: { code, message, details } };
}

function tokenMatches(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The one route that takes the token from the query string (DESIGN.md "GET /api/stream"). */
export const QUERY_TOKEN_ROUTE = '/api/stream';

/**
 * preHandler that requires the admin token as `Authorization: Bearer <token>`. Only the WebSocket stream
 * also takes `?token=`, because browsers cannot set headers on a WebSocket; anywhere else a token in the
 * URL would end up in proxies' logs and browser history, so it is refused (docs/hub.md "Secrets").
 * The token is looked up at each request, so `admin-token rotate` takes effect without a restart.
 */
export function adminAuth(adminToken: string) {
  return async function requireAdmin(req: FastifyRequest, _reply: FastifyReply): Promise<void> {
    // The access hook (staff/access.ts) has already checked this route's role for this caller.
    if ((req as { staff?: unknown }).staff) return;
    const header = req.headers.authorization;
    let token: string | undefined;
    if (typeof header === 'string' && header.startsWith('Bearer ')) token = header.slice(7).trim();
    else {
      const q = (req.query as Record<string, unknown> | undefined)?.token;
      if (typeof q === 'string') {
        if (req.routeOptions.url !== QUERY_TOKEN_ROUTE)
          throw new ApiError(
            401,
            'unauthorized',
            `?token= is accepted only on ${QUERY_TOKEN_ROUTE}; send Authorization: Bearer <token>`,
          );
        token = q;
      }
    }
    if (token === undefined)
      throw new ApiError(401, 'unauthorized', 'missing admin token (Authorization: Bearer …)');
    const holder = liveAdminToken(adminToken);
    const ok = holder ? holder.matches(token) : tokenMatches(token, adminToken);
    if (!ok) throw new ApiError(401, 'unauthorized', 'invalid admin token');
  };
}

export interface HttpOptions {
  log: Logger;
  bodyLimit?: number;
  /** Serve HTTPS (and WSS) with this certificate and key (docs/hub.md "TLS"). */
  https?: import('node:tls').TlsOptions;
}

export async function createHttpServer(opts: HttpOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(opts.https ? { https: opts.https } : {}),
    loggerInstance: opts.log,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    // The hub's ids contain dots and dashes; keep route matching exact.
    routerOptions: { ignoreTrailingSlash: true },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  app.setErrorHandler((err, req, reply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      const details = err.validation.map((v) => ({
        path: `${err.validationContext ?? ''}${v.instancePath ?? ''}`,
        message: v.message,
      }));
      return reply
        .code(400)
        .send(
          errorBody(
            'invalid_request',
            `invalid ${err.validationContext ?? 'request'}: ${details[0]?.message ?? ''}`,
            details,
          ),
        );
    }
    if (err instanceof ApiError)
      return reply.code(err.statusCode).send(errorBody(err.code, err.message, err.details));
    const e = err as { statusCode?: number; code?: string; message?: string };
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      return reply
        .code(e.statusCode)
        .send(errorBody(e.code?.toLowerCase() ?? 'bad_request', e.message ?? 'bad request'));
    }
    req.log.error({ err, url: redactUrl(req.url), method: req.method }, 'request failed');
    return reply.code(500).send(errorBody('internal', 'internal error; see the hub log'));
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(errorBody('not_found', `no route ${req.method} ${req.url.split('?')[0]}`));
  });

  await app.register(swagger, {
    openapi: {
      // 3.1: response schemas are JSON Schema 2020-12 (null is a type), so independent validators read them as is.
      openapi: '3.1.0',
      info: {
        title: 'Classroom hub API',
        version: VERSION,
        description:
          'Every /api route except /api/health, /api/session and this description needs a caller: a staff ' +
          'user logged in with POST /api/session (session cookie), or Authorization: Bearer <admin token> ' +
          '(acts as admin). Each operation names the role it needs (viewer < operator < admin).',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'The admin token' },
          session: {
            type: 'apiKey',
            in: 'cookie',
            name: 'classroom_session',
            description: 'Set by POST /api/session',
          },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
  return app as unknown as FastifyInstance;
}

/** Serves the generated document; registered last so that it sees every route. */
export function openApiRoute(app: FastifyInstance): void {
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
