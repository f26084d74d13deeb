import { type AddressInfo, createConnection, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';

export interface ProxyOptions {
  targetHost: string;
  targetPort: number;
  /** Port to listen on (0 = a free port). Always binds 127.0.0.1. */
  listenPort?: number;
}

/**
 * A TCP proxy that can cut the network: `cut()` destroys every connection and refuses new ones
 * (as a dead uplink does, the far end sees nothing but the broken socket), `restore()` lets them
 * through again. Used by the flapping-network scenario between the agent and the hub's broker.
 */
export class FlakyProxy {
  private server: Server | null = null;
  private readonly pairs = new Set<[Socket, Socket]>();
  private up = true;
  private cuts = 0;
  private accepted = 0;

  constructor(
    private readonly log: Logger,
    private readonly options: ProxyOptions,
  ) {}

  async start(): Promise<number> {
    const server = createServer((client) => this.onClient(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.listenPort ?? 0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return this.port();
  }

  port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  isUp(): boolean {
    return this.up;
  }

  stats(): { cuts: number; accepted: number; open: number } {
    return { cuts: this.cuts, accepted: this.accepted, open: this.pairs.size };
  }

  /** Drops every open connection and refuses new ones until restore(). */
  cut(): void {
    if (!this.up) return;
    this.up = false;
    this.cuts++;
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
    this.log.info({ cuts: this.cuts }, 'proxy: network cut');
  }

  restore(): void {
    if (this.up) return;
    this.up = true;
    this.log.info('proxy: network restored');
  }

  async stop(): Promise<void> {
    this.cut();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private onClient(client: Socket): void {
    if (!this.up) {
      client.destroy();
      return;
    }
    this.accepted++;
    const upstream = createConnection({ host: this.options.targetHost, port: this.options.targetPort });
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const close = (): void => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const s of pair) {
      s.setNoDelay(true);
      s.on('error', close);
      s.on('close', close);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

export interface FlapSchedule {
  /** Seconds from the start at which the link goes down, and how long each outage lasts. */
  outages: { atS: number; forS: number }[];
}

/** Runs an outage schedule against a proxy; returns a function that cancels what is pending. */
export function scheduleFlaps(proxy: FlakyProxy, schedule: FlapSchedule): () => void {
  const timers: NodeJS.Timeout[] = [];
  for (const o of schedule.outages) {
    timers.push(setTimeout(() => proxy.cut(), o.atS * 1000));
    timers.push(setTimeout(() => proxy.restore(), (o.atS + o.forS) * 1000));
  }
  return () => {
    for (const t of timers) clearTimeout(t);
  };
}
