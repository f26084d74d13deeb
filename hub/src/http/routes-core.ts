// Core read API (docs/hub.md "HTTP API (core part)"): health, agents (and provisioning), rooms, metrics, MQTT over WebSocket.
import { Room } from '@classroom/protocol';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { createWebSocketStream } from 'ws';
import { z } from 'zod';
import { type Accounts, ProvisioningError } from '../auth/accounts.js';
import type { HubBroker } from '../broker/types.js';
import type { HubContext } from '../context.js';
import type { AgentRegistry } from '../registry/registry.js';
import { VERSION } from '../version.js';
import { AgentViewSchema, bearer, errorResponses } from './schemas.js';
import { ApiError } from './server.js';

export interface CoreRouteDeps {
  ctx: HubContext;
  registry: AgentRegistry;
  accounts: Accounts;
  requireAdmin: (req: never, reply: never) => Promise<void>;
  broker: HubBroker;
  startedAt: number;
  /** Brings agents provisioned by another process (the CLI) into the registry. */
  syncAccounts: () => Promise<void>;
  /** Whether the store takes writes (store/health.ts); absent means it does. */
  storeHealth?: () => { status: 'ok' | 'degraded'; store: string; since?: number };
}

const HealthBody = z.object({
  status: z.enum(['ok', 'degraded']),
  /** "ok", or why commits fail: "disk full", "I/O error", "read-only", "database unreachable", "write failed". */
  store: z.string(),
  /** Since when the store refuses writes (ms), while degraded. */
  since: z.number().optional(),
  version: z.string(),
  uptimeS: z.number(),
  mqttClients: z.number(),
  agents: z.record(z.string(), z.number()),
});

const Credentials = z.object({ agent: z.string(), username: z.string(), password: z.string() });

export function coreRoutes(http: FastifyInstance, d: CoreRouteDeps): void {
  const app = http.withTypeProvider<ZodTypeProvider>();
  const pre = { preHandler: d.requireAdmin as never };

  app.get(
    '/api/health',
    {
      schema: {
        summary:
          'Liveness and basic counts (no token needed); 503 with status "degraded" while the store refuses writes',
        response: {
          200: HealthBody,
          503: HealthBody,
        },
      },
    },
    async (_req, reply) => {
      const store = d.storeHealth?.() ?? { status: 'ok' as const, store: 'ok' };
      // docs/hub.md "Full disk": while commits fail nothing is acked; a balancer in front of several hubs
      // should send boxes elsewhere, hence 503.
      if (store.status !== 'ok') reply.code(503);
      return {
        ...store,
        version: VERSION,
        uptimeS: Math.round((d.ctx.clock.now() - d.startedAt) / 1000),
        mqttClients: d.broker.connectedClients(),
        agents: d.registry.counts(),
      };
    },
  );

  app.get(
    '/api/agents',
    {
      ...pre,
      schema: {
        summary: 'Every known agent with availability, room, sources and last telemetry',
        security: bearer,
        response: { 200: z.object({ agents: z.array(AgentViewSchema) }), ...errorResponses },
      },
    },
    async () => {
      await d.syncAccounts();
      return { agents: d.registry.agents() };
    },
  );

  app.get(
    '/api/agents/:id',
    {
      ...pre,
      schema: {
        summary: 'One agent',
        security: bearer,
        params: z.object({ id: z.string().max(64) }),
        response: { 200: AgentViewSchema, ...errorResponses },
      },
    },
    async (req) => {
      if (!d.registry.agent(req.params.id)) await d.syncAccounts();
      const a = d.registry.agent(req.params.id);
      if (!a) throw new ApiError(404, 'not_found', `unknown agent "${req.params.id}"`);
      return a;
    },
  );

  app.post(
    '/api/agents',
    {
      ...pre,
      schema: {
        summary: 'Provision an agent: returns its MQTT username and a new password (shown once)',
        security: bearer,
        body: z.object({
          agent: z.string(),
          room: z.string(),
          name: z.string().max(256).optional(),
          rotate: z.boolean().optional().describe('Issue a new password for an existing agent'),
        }),
        response: { 201: Credentials, 409: errorResponses[400], ...errorResponses },
      },
    },
    async (req, reply) => {
      try {
        const c = await d.accounts.addAgent(req.body);
        d.registry.ensure(c.agent, provisionalRoom(req.body.room, req.body.name));
        reply.code(201);
        return { agent: c.agent, username: c.username, password: c.password };
      } catch (err) {
        throw provisioningToApi(err);
      }
    },
  );

  app.post(
    '/api/accounts',
    {
      ...pre,
      schema: {
        summary: 'Create a platform account (may subscribe to classroom/v1/rooms/#)',
        security: bearer,
        body: z.object({ account: z.string(), role: z.literal('platform'), rotate: z.boolean().optional() }),
        response: {
          201: z.object({
            account: z.string(),
            role: z.literal('platform'),
            username: z.string(),
            password: z.string(),
          }),
          409: errorResponses[400],
          ...errorResponses,
        },
      },
    },
    async (req, reply) => {
      try {
        const c = await d.accounts.addPlatform(req.body.account, req.body.rotate ?? false);
        reply.code(201);
        return { account: c.account, role: 'platform' as const, username: c.username, password: c.password };
      } catch (err) {
        throw provisioningToApi(err);
      }
    },
  );

  const RoomView = z.object({
    room: Room,
    agents: z.array(AgentViewSchema),
  });

  app.get(
    '/api/rooms',
    {
      ...pre,
      schema: {
        summary: 'Every room known from births (or provisioning) with its agents',
        security: bearer,
        response: { 200: z.object({ rooms: z.array(RoomView) }), ...errorResponses },
      },
    },
    async () => {
      await d.syncAccounts();
      const rooms = new Map<string, z.infer<typeof RoomView>>();
      for (const a of d.registry.agents()) {
        if (!a.room) continue;
        const r = rooms.get(a.room.id) ?? { room: a.room, agents: [] };
        r.agents.push(a);
        rooms.set(a.room.id, r);
      }
      return { rooms: [...rooms.values()].sort((x, y) => (x.room.id < y.room.id ? -1 : 1)) };
    },
  );

  app.get(
    '/api/rooms/:room',
    {
      ...pre,
      schema: {
        summary:
          'Live state of a room: its agent, each source, last telemetry, plus feature fields (alarms…)',
        security: bearer,
        params: z.object({ room: z.string().max(64) }),
        response: { 200: RoomView.passthrough(), ...errorResponses },
      },
    },
    async (req) => {
      if (d.registry.byRoom(req.params.room).length === 0) await d.syncAccounts();
      const agents = d.registry.byRoom(req.params.room);
      const first = agents[0];
      if (!first?.room) throw new ApiError(404, 'not_found', `unknown room "${req.params.room}"`);
      const extra: Record<string, unknown> = {};
      for (const hook of d.ctx.hooks.roomDetail) Object.assign(extra, await hook(req.params.room));
      return { room: first.room, agents, ...extra };
    },
  );

  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    reply.header('content-type', d.ctx.metrics.contentType);
    return d.ctx.metrics.metrics();
  });

  // MQTT over WebSocket (DESIGN.md): the socket becomes a stream that aedes handles like a TCP one.
  const handleStream = d.broker.handleStream?.bind(d.broker);
  if (handleStream) {
    http.get('/mqtt', { websocket: true, schema: { hide: true } }, (socket, req) => {
      const stream = createWebSocketStream(socket);
      stream.on('error', (err) => req.log.debug({ err: err.message }, 'mqtt websocket stream error'));
      handleStream(stream, req.raw);
    });
  }
}

export function provisionalRoom(id: string, name?: string): z.infer<typeof Room> {
  return { id, name: name ?? id, building: '', floor: '', campus: '' };
}

function provisioningToApi(err: unknown): unknown {
  if (err instanceof ProvisioningError) {
    return new ApiError(err.code === 'conflict' ? 409 : 400, err.code, err.message);
  }
  return err;
}
