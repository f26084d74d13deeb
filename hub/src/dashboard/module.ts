// Serves the dashboard (hub/web, plain ES modules, no CDN) at `/` with a strict Content Security
// Policy (docs/hub-people.md "Dashboard": a strict CSP, so a crafted room name cannot run script). uPlot is served from node_modules under /vendor/.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { HubContext, HubModule } from '../context.js';

/** hub/web, from both hub/src/dashboard (vitest) and hub/dist/dashboard (built). */
export const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

/** A Host header that may be written into a header value: a name or address and an optional port. */
const SAFE_HOST = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/**
 * The dashboard's policy. WebSockets may go to its own origin only: CSP Level 3 lets 'self' match
 * ws:/wss: of the same host, and the explicit ws:// and wss:// of the request's Host cover browsers
 * that predate it (CSP3 "Does url match expression in origin with redirect count", 'self' rule).
 */
export function cspFor(host: string | undefined): string {
  const ws = host && SAFE_HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    `connect-src 'self'${ws}`,
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The policy without a known host: connect-src 'self' alone (Swagger UI at /api/docs needs no WebSocket). */
export const CSP = cspFor(undefined);

function securityHeaders(host: string | undefined, set: (name: string, value: string) => void): void {
  set('content-security-policy', cspFor(host));
  set('x-content-type-options', 'nosniff');
  set('referrer-policy', 'no-referrer');
  set('x-frame-options', 'DENY');
}

export class DashboardModule implements HubModule {
  readonly name = 'dashboard';
  private vendor = new Map<string, { type: string; body: Buffer }>();

  constructor(private readonly ctx: HubContext) {}

  async start(): Promise<void> {
    const require = createRequire(import.meta.url);
    const uplotDir = dirname(require.resolve('uplot/package.json'));
    this.vendor.set('uplot.js', {
      type: 'text/javascript; charset=utf-8',
      body: await readFile(join(uplotDir, 'dist/uPlot.iife.min.js')),
    });
    this.vendor.set('uplot.css', {
      type: 'text/css; charset=utf-8',
      body: await readFile(join(uplotDir, 'dist/uPlot.min.css')),
    });
    this.ctx.log.child({ module: 'dashboard' }).debug({ root: WEB_ROOT }, 'dashboard files');
  }

  async stop(): Promise<void> {}

  routes(http: FastifyInstance): void {
    void http.register(fastifyStatic, {
      root: WEB_ROOT,
      prefix: '/',
      index: 'index.html',
      decorateReply: false,
      wildcard: false,
      cacheControl: false,
      setHeaders: (res) => {
        // @fastify/static hands the FastifyReply to setHeaders.
        const reply = res as unknown as FastifyReply;
        securityHeaders(reply.request?.headers.host, (n, v) => reply.header(n, v));
        // Small app, always revalidated, so a hub upgrade never mixes old and new modules.
        reply.header('cache-control', 'no-cache');
      },
    });
    http.get('/vendor/:file', { schema: { hide: true } }, async (req, reply: FastifyReply) => {
      const f = this.vendor.get((req.params as { file: string }).file);
      if (!f) return reply.code(404).send({ error: { code: 'not_found', message: 'no such file' } });
      securityHeaders(req.headers.host, (n, v) => reply.header(n, v));
      return reply
        .header('content-type', f.type)
        .header('cache-control', 'public, max-age=86400')
        .send(f.body);
    });
  }
}
