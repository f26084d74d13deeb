// Rooms as master data (docs/hub-people.md "Room registry"): the platform's registry decides the names,
// buildings, floors and capacities the API and dashboard show. Imports come over `PUT /api/rooms` or
// `classroom-hub rooms import` (another process: noticed by polling the table's version).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { adminRoute, ErrorBody, sendError } from '../alarms/http.js';
import type { HubContext, HubModule } from '../context.js';
import { parseRoomsCsv, parseRoomsJson, RegistryRoom, RoomsImportError } from './parse.js';
import { importRegistryRooms, listRegistryRooms, migrateRooms, registryVersion } from './store.js';

export const ROOMS_POLL_MS = 5000;

const ImportBody = z
  .object({
    csv: z
      .string()
      .max(5_000_000)
      .optional()
      .describe('The registry as CSV: id,name,building,floor,campus,capacity'),
    rooms: z
      .array(z.unknown())
      .max(20_000)
      .optional()
      .describe('The registry as JSON objects of the same fields'),
  })
  .refine((b) => (b.csv === undefined) !== (b.rooms === undefined), {
    message: 'give exactly one of csv, rooms',
  });

export const ImportResultBody = z.object({
  rooms: z.number().int(),
  added: z.number().int(),
  updated: z.number().int(),
  unchanged: z.number().int(),
  removed: z.number().int(),
});

export class RoomsModule implements HubModule {
  readonly name = 'rooms';
  private timer: NodeJS.Timeout | undefined;
  private version = '';
  private rooms = new Map<string, RegistryRoom>();
  private loading: Promise<void> | null = null;
  /** Told the ids of rooms whose registry entry changed, so retained summaries are published again. */
  onChange: ((rooms: string[]) => void) | undefined;

  constructor(
    private readonly ctx: HubContext,
    private readonly pollMs = ROOMS_POLL_MS,
  ) {
    ctx.hooks.roomDetail.push(async (room) => {
      const r = this.rooms.get(room);
      return r ? { capacity: r.capacity } : {};
    });
  }

  async start(): Promise<void> {
    await migrateRooms(this.ctx.db);
    await this.reload();
    this.timer = this.ctx.clock.setInterval(() => void this.reload(), this.pollMs);
  }

  async stop(): Promise<void> {
    this.ctx.clock.clearInterval(this.timer);
    this.timer = undefined;
    await this.loading;
  }

  /** The registry's entry for a room, if the platform lists it. */
  room(id: string): RegistryRoom | undefined {
    return this.rooms.get(id);
  }

  /** Rooms the registry lists, by id. */
  all(): RegistryRoom[] {
    return [...this.rooms.values()];
  }

  /** Reads the registry again when its version moved (an import by this or another process). */
  reload(): Promise<void> {
    this.loading ??= (async () => {
      try {
        const version = await registryVersion(this.ctx.db);
        if (version === this.version) return;
        const rooms = await listRegistryRooms(this.ctx.db);
        this.version = version;
        const before = this.rooms;
        this.rooms = new Map(rooms.map((r) => [r.id, r]));
        const changed = new Set<string>();
        for (const r of rooms) if (JSON.stringify(before.get(r.id)) !== JSON.stringify(r)) changed.add(r.id);
        for (const id of before.keys()) if (!this.rooms.has(id)) changed.add(id);
        this.ctx.registry.setRoomDirectory?.(
          new Map(
            rooms.map((r) => [
              r.id,
              { id: r.id, name: r.name, building: r.building, floor: r.floor, campus: r.campus },
            ]),
          ),
        );
        this.ctx.log.info(
          { module: this.name, rooms: rooms.length, changed: changed.size },
          'room registry loaded',
        );
        if (changed.size > 0) this.onChange?.([...changed]);
      } catch (err) {
        this.ctx.log.error({ err, module: this.name }, 'reading the room registry failed');
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  routes(http: FastifyInstance): void {
    const app = http.withTypeProvider<ZodTypeProvider>();
    const { preHandler, security } = adminRoute(this.ctx.config.adminToken);
    app.put(
      '/api/rooms',
      {
        preHandler,
        // A campus registry of MAX_ROOMS rooms is over the API's default 1 MiB body.
        bodyLimit: 8 * 1024 * 1024,
        config: { access: 'admin', audit: 'self' },
        schema: {
          security,
          summary:
            "Replace the room registry (the platform's master data): names, buildings, floors, campuses, capacities",
          description:
            'All or nothing: any bad line answers 400 with every bad line in error.details and keeps the previous registry.',
          tags: ['rooms'],
          body: ImportBody,
          response: { 200: ImportResultBody, 400: ErrorBody },
        },
      },
      async (req, reply) => {
        try {
          const rooms =
            req.body.csv !== undefined ? parseRoomsCsv(req.body.csv) : parseRoomsJson(req.body.rooms ?? []);
          const res = await importRegistryRooms(this.ctx.db, rooms, this.ctx.clock.now());
          await this.reload();
          await this.ctx.audit.recordRequest(req, 'rooms.import', 'registry', { ...res });
          return res;
        } catch (err) {
          if (err instanceof RoomsImportError) {
            return sendError(reply, 400, 'bad_rooms', err.message, { lines: err.errors });
          }
          throw err;
        }
      },
    );
    app.get(
      '/api/registry/rooms',
      {
        preHandler,
        config: { access: 'viewer' },
        schema: {
          security,
          summary: 'The room registry as last imported, by id',
          tags: ['rooms'],
          response: { 200: z.object({ rooms: z.array(RegistryRoom) }) },
        },
      },
      async () => ({ rooms: await listRegistryRooms(this.ctx.db) }),
    );
  }
}
