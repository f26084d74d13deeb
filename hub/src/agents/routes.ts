// The API side of agents reset-password / disable / enable (docs/hub.md "Secrets"). The change is applied
// at once by this hub (SecurityWatch.poll) and by other instances on a shared store within their poll.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { adminRoute } from '../alarms/http.js';
import type { SecurityWatch } from '../auth/watch.js';
import type { HubContext, HubModule } from '../context.js';
import { errorResponses } from '../http/schemas.js';
import { ApiError } from '../http/server.js';
import { AgentControlError, resetAgentPassword, setAgentDisabled } from './control.js';

const Params = z.object({ id: z.string().max(64) });

export class AgentControlModule implements HubModule {
  readonly name = 'agent-control';

  constructor(
    private readonly ctx: HubContext,
    private readonly watch: SecurityWatch,
  ) {}

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  private async apply<T>(fn: () => Promise<T>): Promise<T> {
    try {
      const out = await fn();
      await this.watch.poll();
      return out;
    } catch (err) {
      if (err instanceof AgentControlError) throw new ApiError(404, 'not_found', err.message);
      throw err;
    }
  }

  routes(http: FastifyInstance): void {
    const app = http.withTypeProvider<ZodTypeProvider>();
    const { preHandler, security } = adminRoute(this.ctx.config.adminToken);
    const db = this.ctx.db;
    app.post(
      '/api/agents/:id/reset-password',
      {
        preHandler,
        // Who may call it, and its audit-log entry (staff/policy.ts); the new password is never logged.
        config: { access: 'admin', audit: { action: 'agent.reset-password' } },
        schema: {
          summary: 'New password for a box; the old one is refused and its live MQTT session closed',
          tags: ['agents'],
          security,
          params: Params,
          response: {
            200: z.object({ agent: z.string(), username: z.string(), password: z.string() }),
            ...errorResponses,
          },
        },
      },
      async (req) => this.apply(() => resetAgentPassword(db, req.params.id, this.ctx.clock.now())),
    );
    for (const [action, disabled, summary] of [
      ['disable', true, 'Close the box’s live MQTT connection and refuse new ones'],
      ['enable', false, 'Let a disabled box connect again'],
    ] as const) {
      app.post(
        `/api/agents/:id/${action}`,
        {
          preHandler,
          config: { access: 'admin', audit: { action: `agent.${action}` } },
          schema: {
            summary,
            tags: ['agents'],
            security,
            params: Params,
            response: { 200: z.object({ agent: z.string(), disabled: z.boolean() }), ...errorResponses },
          },
        },
        async (req) => this.apply(() => setAgentDisabled(db, req.params.id, disabled, this.ctx.clock.now())),
      );
    }
  }
}
