// The provisioned room is authoritative (DESIGN.md "A box is only itself"). This module keeps the
// registry's rooms equal to the `accounts` table: `POST /api/agents/{id}/move` changes both at once, and
// `classroom-hub agents move` (another process) is picked up by polling the table's updated_at. It also
// counts births that name another room.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { type Accounts, ProvisioningError } from '../auth/accounts.js';
import type { IdentityMetrics } from '../auth/metrics.js';
import type { HubContext, HubEvents, HubModule } from '../context.js';
import { provisionalRoom } from '../http/routes-core.js';
import { bearer, errorResponses } from '../http/schemas.js';
import { ApiError } from '../http/server.js';
import type { AgentRegistry } from './registry.js';

export interface ProvisionedRoomsDeps {
  ctx: HubContext;
  accounts: Accounts;
  registry: AgentRegistry;
  identity: IdentityMetrics;
  requireAdmin: (req: never, reply: never) => Promise<void>;
  /** How often the accounts table is read for moves made by another process. */
  pollMs?: number;
}

/** Rows written within this long before the last one seen are read again (clocks of two processes). */
const POLL_OVERLAP_MS = 2000;

export const MoveResult = z.object({
  agent: z.string(),
  room: z.string(),
  previousRoom: z.string().nullable(),
});

export class ProvisionedRoomsModule implements HubModule {
  readonly name = 'provisioned-rooms';
  private timer: NodeJS.Timeout | undefined;
  private watermark = 0;
  private polling: Promise<void> | null = null;
  private readonly onMismatch = (e: HubEvents['agent.room_mismatch']) => {
    if (e.mismatch && e.cause === 'birth') this.d.identity.roomMismatch.inc();
  };

  constructor(private readonly d: ProvisionedRoomsDeps) {}

  async start(): Promise<void> {
    this.d.ctx.bus.on('agent.room_mismatch', this.onMismatch);
    this.watermark = this.d.ctx.clock.now() - POLL_OVERLAP_MS;
    this.timer = this.d.ctx.clock.setInterval(() => void this.poll(), this.d.pollMs ?? 2000);
  }

  async stop(): Promise<void> {
    this.d.ctx.clock.clearInterval(this.timer);
    this.timer = undefined;
    this.d.ctx.bus.off('agent.room_mismatch', this.onMismatch);
    await this.polling;
  }

  /** Applies rooms changed in the accounts table since the last poll. */
  poll(): Promise<void> {
    this.polling ??= (async () => {
      try {
        const rows = await this.d.accounts.agentRoomsChangedSince(this.watermark - POLL_OVERLAP_MS);
        for (const r of rows) {
          this.watermark = Math.max(this.watermark, r.updatedAt);
          if (r.room) this.d.registry.ensure(r.agent, provisionalRoom(r.room, r.name ?? undefined));
        }
      } catch (err) {
        this.d.ctx.log.error({ err, module: this.name }, 'reading provisioned rooms failed');
      } finally {
        this.polling = null;
      }
    })();
    return this.polling;
  }

  routes(http: FastifyInstance): void {
    const app = http.withTypeProvider<ZodTypeProvider>();
    app.post(
      '/api/agents/:id/move',
      {
        preHandler: this.d.requireAdmin as never,
        schema: {
          summary:
            'Move an agent to another room: its records, availability, alarms and summaries are filed under it from now on',
          security: bearer,
          params: z.object({ id: z.string().max(64) }),
          body: z.object({
            room: z.string().max(64).describe('The new provisioned room id'),
            name: z.string().max(256).optional().describe('Room display name until a birth names the room'),
          }),
          response: { 200: MoveResult, ...errorResponses },
        },
      },
      async (req) => {
        try {
          const moved = await this.d.accounts.moveAgent(req.params.id, req.body.room, {
            name: req.body.name,
            now: this.d.ctx.clock.now(),
          });
          this.d.registry.ensure(moved.agent, provisionalRoom(moved.room, req.body.name));
          return moved;
        } catch (err) {
          if (err instanceof ProvisioningError) {
            throw new ApiError(err.code === 'not_found' ? 404 : 400, err.code, err.message);
          }
          throw err;
        }
      },
    );
  }
}
