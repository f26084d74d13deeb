// Commands and remote config (DESIGN.md "Commands", docs/hub-people.md "Commands and remote config"): the API publishes `cmd` with an
// expiry and records the agent's `cmd/result`; PUT config publishes a retained, versioned config.
import { randomUUID } from 'node:crypto';
import { AgentSettings, COMMAND_NAMES, topics } from '@classroom/protocol';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { PeopleBus } from '../alarms/events.js';
import { adminRoute, ErrorBody, sendError } from '../alarms/http.js';
import type { HubContext, HubEvents, HubModule } from '../context.js';
import { THUMBNAIL_ID_PREFIX } from '../patrol/thumbnails.js';
import { timetableField } from '../schedule/timetable.js';

const MIGRATION = `
CREATE TABLE IF NOT EXISTS commands (
  id TEXT PRIMARY KEY,
  agent TEXT NOT NULL,
  name TEXT NOT NULL,
  args TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  status TEXT NOT NULL,
  error TEXT,
  data TEXT,
  updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS commands_agent ON commands (agent, created_at);
CREATE TABLE IF NOT EXISTS agent_configs (
  agent TEXT PRIMARY KEY,
  version BIGINT NOT NULL,
  config TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);`;

export const DEFAULT_COMMAND_TTL_S = 60;

interface CommandRow {
  id: string;
  agent: string;
  name: string;
  args: string;
  created_at: number | string;
  expires_at: number | string;
  status: string;
  error: string | null;
  data: string | null;
  updated_at: number | string;
}

const CommandView = z.object({
  id: z.string(),
  agent: z.string(),
  name: z.enum(COMMAND_NAMES),
  args: z.record(z.string(), z.unknown()),
  createdAt: z.number(),
  expiresAt: z.number(),
  status: z.enum(['pending', 'accepted', 'ok', 'error', 'expired']),
  error: z.string().nullable(),
  data: z.record(z.string(), z.unknown()).nullable(),
  updatedAt: z.number(),
});
type CommandView = z.infer<typeof CommandView>;

export class CommandsModule implements HubModule {
  readonly name = 'commands';
  private readonly onResult = (e: HubEvents['command.result']): void => {
    void this.storeResult(e).catch((err: unknown) =>
      this.ctx.log.error({ err, module: 'commands', command: e.result.id }, 'storing command result failed'),
    );
  };

  constructor(
    private readonly ctx: HubContext,
    private readonly people: PeopleBus,
  ) {}

  async start(): Promise<void> {
    await this.ctx.db.migrate('people-003-commands', MIGRATION);
    this.ctx.bus.on('command.result', this.onResult);
  }

  async stop(): Promise<void> {
    this.ctx.bus.off('command.result', this.onResult);
  }

  private async storeResult(e: HubEvents['command.result']): Promise<void> {
    const r = e.result;
    // Thumbnails are answered to the patrol wall's cache and never stored (patrol/thumbnails.ts).
    if (r.id.startsWith(THUMBNAIL_ID_PREFIX)) return;
    // Only the agent the command was sent to may answer it.
    const res = await this.ctx.db.run(
      `UPDATE commands SET status = ?, error = ?, data = ?, updated_at = ?
       WHERE id = ? AND agent = ? AND status IN ('pending', 'accepted')`,
      [
        r.status,
        r.error ?? null,
        r.data ? JSON.stringify(r.data) : null,
        this.ctx.clock.now(),
        r.id,
        e.agent,
      ],
    );
    if (res.changes === 0) {
      this.ctx.log.warn(
        { module: 'commands', agent: e.agent, command: r.id },
        'result for unknown or finished command',
      );
      return;
    }
    const row = await this.ctx.db.get<CommandRow>('SELECT * FROM commands WHERE id = ?', [r.id]);
    if (row)
      this.people.emit('command.update', {
        id: r.id,
        agent: e.agent,
        name: row.name,
        status: r.status,
        ts: this.ctx.clock.now(),
      });
  }

  private view(row: CommandRow): CommandView {
    const expiresAt = Number(row.expires_at);
    const pending = row.status === 'pending' || row.status === 'accepted';
    return {
      id: row.id,
      agent: row.agent,
      name: row.name as CommandView['name'],
      args: JSON.parse(row.args) as Record<string, unknown>,
      createdAt: Number(row.created_at),
      expiresAt,
      // A command nobody answered before its expiry will not run any more (the agent refuses it).
      status: pending && this.ctx.clock.now() > expiresAt ? 'expired' : (row.status as CommandView['status']),
      error: row.error,
      data: row.data ? (JSON.parse(row.data) as Record<string, unknown>) : null,
      updatedAt: Number(row.updated_at),
    };
  }

  routes(http: FastifyInstance): void {
    const app = http.withTypeProvider<ZodTypeProvider>();
    const { preHandler, security } = adminRoute(this.ctx.config.adminToken);
    const AgentParams = z.object({ id: z.string().max(64) });
    app.post(
      '/api/agents/:id/commands',
      {
        preHandler,
        schema: {
          security,
          summary: 'Send a command to an agent; answers 202 with the command id',
          tags: ['commands'],
          params: AgentParams,
          body: z.object({
            name: z.enum(COMMAND_NAMES),
            args: z.record(z.string().max(64), z.unknown()).default({}),
            ttlS: z.number().int().min(1).max(86_400).default(DEFAULT_COMMAND_TTL_S),
          }),
          response: { 202: z.object({ id: z.string(), expiresAt: z.number() }), 404: ErrorBody },
        },
      },
      async (req, reply) => {
        const agent = req.params.id;
        if (req.body.name === 'thumbnail')
          return sendError(
            reply,
            400,
            'invalid_request',
            'thumbnails are not commands of the log: use GET /api/rooms/{room}/thumbnail',
          );
        if (!this.ctx.registry.agent(agent))
          return sendError(reply, 404, 'not_found', `agent ${agent} not found`);
        const id = randomUUID();
        const now = this.ctx.clock.now();
        const expiresAt = now + req.body.ttlS * 1000;
        await this.ctx.db.run(
          `INSERT INTO commands (id, agent, name, args, created_at, expires_at, status, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)`,
          [id, agent, req.body.name, JSON.stringify(req.body.args), now, expiresAt, now],
        );
        await this.ctx.mqtt.publish(
          topics.cmd(agent),
          { v: 1, id, name: req.body.name, args: req.body.args, expiresAt },
          { qos: 1 },
        );
        this.people.emit('command.update', { id, agent, name: req.body.name, status: 'pending', ts: now });
        return reply.code(202).send({ id, expiresAt });
      },
    );
    app.get(
      '/api/commands/:id',
      {
        preHandler,
        schema: {
          security,
          summary: 'A command and its result',
          tags: ['commands'],
          params: z.object({ id: z.string().max(64) }),
          response: { 200: CommandView, 404: ErrorBody },
        },
      },
      async (req, reply) => {
        const row = await this.ctx.db.get<CommandRow>('SELECT * FROM commands WHERE id = ?', [req.params.id]);
        if (!row) return sendError(reply, 404, 'not_found', `command ${req.params.id} not found`);
        return this.view(row);
      },
    );
    app.put(
      '/api/agents/:id/config',
      {
        preHandler,
        schema: {
          security,
          summary: 'Set the remotely managed part of an agent config (published retained, versioned)',
          tags: ['commands'],
          params: AgentParams,
          body: AgentSettings,
          response: {
            200: z.object({ agent: z.string(), version: z.number(), config: AgentSettings }),
            404: ErrorBody,
          },
        },
      },
      async (req, reply) => {
        const agent = req.params.id;
        const view = this.ctx.registry.agent(agent);
        if (!view) return sendError(reply, 404, 'not_found', `agent ${agent} not found`);
        const now = this.ctx.clock.now();
        const version = await this.ctx.db.transaction(async () => {
          const prev = await this.ctx.db.get<{ version: number | string }>(
            'SELECT version FROM agent_configs WHERE agent = ?',
            [agent],
          );
          // Versions only go up, also past what the agent reported in its birth.
          const next = Math.max(Number(prev?.version ?? 0), view.birth?.configVersion ?? 0) + 1;
          const json = JSON.stringify(req.body);
          if (prev) {
            await this.ctx.db.run(
              'UPDATE agent_configs SET version = ?, config = ?, updated_at = ? WHERE agent = ?',
              [next, json, now, agent],
            );
          } else {
            await this.ctx.db.run(
              'INSERT INTO agent_configs (agent, version, config, updated_at) VALUES (?, ?, ?, ?)',
              [agent, next, json, now],
            );
          }
          return next;
        });
        await this.ctx.mqtt.publish(
          topics.config(agent),
          // The room's timetable rides along (docs/agent-media.md "Duty cycle"); it is not stored here.
          { v: 1, version, config: { ...req.body, ...(await timetableField(this.ctx, view.room?.id, now)) } },
          { qos: 1, retain: true },
        );
        return { agent, version, config: req.body };
      },
    );
  }
}
