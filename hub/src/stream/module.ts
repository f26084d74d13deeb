// GET /api/stream: a WebSocket of live changes for the dashboard and integrations (DESIGN.md).
// Every client gets availability, births, telemetry, live events, alarms, command updates and
// pre-class checks. Capture windows (the audio level / video health charts) are sent only for the
// rooms a client subscribed to, with {"type":"subscribe","rooms":[…]}, which keeps 1,000 rooms cheap.
import type { RecordT } from '@classroom/protocol';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge } from 'prom-client';
import type { WebSocket } from 'ws';
import type { PeopleBus } from '../alarms/events.js';
import { adminRoute } from '../alarms/http.js';
import type { HubContext, HubEvents, HubModule } from '../context.js';
import { bearer } from '../http/schemas.js';

/** A client further behind than this gets messages dropped rather than growing hub memory. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
const MAX_SUBSCRIBED_ROOMS = 64;

interface Client {
  socket: WebSocket;
  rooms: Set<string>;
}

export interface StreamMessage {
  type: string;
  ts: number;
  data: unknown;
}

export class StreamModule implements HubModule {
  readonly name = 'stream';
  private readonly clients = new Set<Client>();
  private readonly offs: Array<() => void> = [];
  private dropped: Counter | null = null;

  constructor(
    private readonly ctx: HubContext,
    private readonly people: PeopleBus,
  ) {}

  async start(): Promise<void> {
    const { bus } = this.ctx;
    this.dropped = new Counter({
      name: 'classroom_hub_stream_dropped_total',
      help: 'Stream messages dropped because a client was too far behind',
      registers: [this.ctx.metrics],
    });
    const clients = this.clients;
    new Gauge({
      name: 'classroom_hub_stream_clients',
      help: 'Connected /api/stream clients',
      registers: [this.ctx.metrics],
      collect() {
        this.set(clients.size);
      },
    });
    const on = <K extends keyof HubEvents>(event: K, fn: (p: HubEvents[K]) => void): void => {
      bus.on(event, fn);
      this.offs.push(() => bus.off(event, fn));
    };
    on('agent.availability', (e) => this.broadcast({ type: 'availability', ts: e.ts, data: e }));
    on('agent.birth', (e) =>
      this.broadcast({
        type: 'birth',
        ts: e.ts,
        data: {
          agent: e.agent,
          room: e.room ?? e.birth.room,
          sources: e.birth.sources,
          session: e.birth.session,
        },
      }),
    );
    on('agent.telemetry', (e) => this.broadcast({ type: 'telemetry', ts: e.telemetry.ts, data: e }));
    on('records.committed', (e) => this.onRecords(e));
    this.offs.push(
      this.people.on('alarm.transition', (t) => this.broadcast({ type: 'alarm', ts: t.ts, data: t })),
      this.people.on('command.update', (c) => this.broadcast({ type: 'command', ts: c.ts, data: c })),
      this.people.on('schedule.precheck', (p) => this.broadcast({ type: 'precheck', ts: p.ts, data: p })),
    );
  }

  async stop(): Promise<void> {
    for (const off of this.offs.splice(0)) off();
    for (const c of this.clients) c.socket.close(1001, 'hub stopping');
    this.clients.clear();
    this.ctx.metrics.removeSingleMetric('classroom_hub_stream_dropped_total');
    this.ctx.metrics.removeSingleMetric('classroom_hub_stream_clients');
  }

  get clientCount(): number {
    return this.clients.size;
  }

  private onRecords(e: HubEvents['records.committed']): void {
    // Replays describe the past: they are not live changes (DESIGN.md, records "historical").
    if (e.historical) return;
    const events: RecordT[] = [];
    const captures: RecordT[] = [];
    for (const r of e.records) (r.kind === 'event' ? events : captures).push(r);
    const ts = this.ctx.clock.now();
    if (events.length > 0)
      this.broadcast({ type: 'events', ts, data: { agent: e.agent, room: e.room, records: events } });
    if (captures.length > 0 && e.room) {
      const msg = JSON.stringify({
        type: 'captures',
        ts,
        data: { agent: e.agent, room: e.room, records: captures },
      });
      for (const c of this.clients) if (c.rooms.has(e.room)) this.sendRaw(c, msg);
    }
  }

  broadcast(msg: StreamMessage): void {
    if (this.clients.size === 0) return;
    const text = JSON.stringify(msg);
    for (const c of this.clients) this.sendRaw(c, text);
  }

  private sendRaw(c: Client, text: string): void {
    if (c.socket.readyState !== 1) return;
    if (c.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.dropped?.inc();
      return;
    }
    c.socket.send(text);
  }

  routes(http: FastifyInstance): void {
    http.get(
      '/api/stream',
      {
        websocket: true,
        schema: {
          summary: 'WebSocket of live changes; token as ?token= or Bearer',
          tags: ['stream'],
          security: bearer,
        },
        preHandler: adminRoute(this.ctx.config.adminToken).preHandler,
      },
      (socket) => {
        const client: Client = { socket, rooms: new Set() };
        this.clients.add(client);
        socket.on('message', (raw) => {
          try {
            const msg = JSON.parse(String(raw)) as { type?: unknown; rooms?: unknown };
            if (msg.type === 'subscribe' && Array.isArray(msg.rooms)) {
              client.rooms = new Set(
                msg.rooms.filter((r): r is string => typeof r === 'string').slice(0, MAX_SUBSCRIBED_ROOMS),
              );
            }
          } catch {
            socket.send(
              JSON.stringify({ type: 'error', ts: this.ctx.clock.now(), data: { message: 'bad JSON' } }),
            );
          }
        });
        socket.on('close', () => {
          this.clients.delete(client);
        });
        socket.on('error', (err) => this.ctx.log.warn({ err, module: 'stream' }, 'stream client error'));
        socket.send(JSON.stringify({ type: 'hello', ts: this.ctx.clock.now(), data: { version: 1 } }));
      },
    );
  }
}
