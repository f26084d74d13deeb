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
 *
 * Two quieter faults for the chaos suite: `blackhole()` keeps every socket open but forwards
 * nothing and accepts new connections into the void (a router that drops packets: only keepalive
 * timeouts notice), and `setDelay(ms)` holds each chunk for that long in both directions (a
 * congested uplink; order is kept).
 */
export class FlakyProxy {
  private server: Server | null = null;
  private readonly pairs = new Set<[Socket, Socket]>();
  private up = true;
  private blackholed = false;
  private delayMs = 0;
  private cuts = 0;
  private blackholes = 0;
  private swallowed = 0;
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

  /** `swallowedBytes`: bytes that reached the proxy during a black hole and went nowhere. */
  stats(): { cuts: number; blackholes: number; swallowedBytes: number; accepted: number; open: number } {
    return {
      cuts: this.cuts,
      blackholes: this.blackholes,
      swallowedBytes: this.swallowed,
      accepted: this.accepted,
      open: this.pairs.size,
    };
  }

  /** Forwards nothing until restore(), without closing anything (bytes sent meanwhile are lost). */
  blackhole(): void {
    if (this.blackholed) return;
    this.blackholed = true;
    this.blackholes++;
    this.log.info({ blackholes: this.blackholes }, 'proxy: network black-holed');
  }

  /** Holds every chunk `ms` before forwarding it (0 = straight through). */
  setDelay(ms: number): void {
    this.delayMs = Math.max(0, ms);
    this.log.info({ delayMs: this.delayMs }, 'proxy: delay set');
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

  /** Ends a cut or a black hole (the delay stays as set). */
  restore(): void {
    if (this.up && !this.blackholed) return;
    this.up = true;
    this.blackholed = false;
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
    this.forward(client, upstream);
    this.forward(upstream, client);
  }

  /**
   * Copies one direction, honouring the black hole and the delay. Chunks wait in one queue per
   * direction, so a delay that changes mid-stream never reorders bytes of the TCP stream.
   */
  private forward(from: Socket, to: Socket): void {
    const queue: Array<{ due: number; chunk: Buffer }> = [];
    let timer: NodeJS.Timeout | null = null;
    const drain = (): void => {
      timer = null;
      const now = Date.now();
      while (queue.length > 0 && queue[0]!.due <= now) {
        const { chunk } = queue.shift()!;
        if (this.blackholed) this.swallowed += chunk.length;
        else if (!to.destroyed) to.write(chunk);
      }
      if (queue.length > 0) timer = setTimeout(drain, queue[0]!.due - now);
    };
    from.on('data', (chunk: Buffer) => {
      if (this.blackholed) {
        this.swallowed += chunk.length;
        return;
      }
      if (this.delayMs === 0 && queue.length === 0) {
        to.write(chunk);
        return;
      }
      queue.push({ due: Date.now() + this.delayMs, chunk });
      if (timer === null) timer = setTimeout(drain, Math.max(0, queue[0]!.due - Date.now()));
    });
    from.once('close', () => {
      if (timer) clearTimeout(timer);
      queue.length = 0;
    });
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
