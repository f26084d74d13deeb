// Admission of MQTT sockets before they are authenticated (docs/hub-identity.md "Abuse limits"): each
// source address may hold only so many sockets that have not sent their CONNECT, and a socket whose
// CONNECT has not arrived within the deadline is closed. Both bound what a peer without credentials can
// hold open. A socket whose CONNECT arrived leaves the count: its authentication takes one scrypt check,
// and failed ones are throttled (auth/throttle.ts), so a building of boxes behind one NAT address, or
// every box reconnecting at once after a hub restart, is not refused. Timers come from the injected clock.
import type { Duplex } from 'node:stream';
import { addressKey } from '../auth/identity.js';
import type { Clock } from '../context.js';

export interface AdmissionOptions {
  /** Most sockets per source address that have not sent their CONNECT yet. */
  maxUnauthenticatedPerAddress: number;
  /** CONNECT must arrive within this long after the socket opened. */
  connectTimeoutMs: number;
}

export const DEFAULT_ADMISSION: AdmissionOptions = {
  // Boxes behind one NAT address all reconnect at once after a hub restart, and a loaded hub accepts a
  // whole burst before it reads the first CONNECT: the cap must hold such a burst (the 5,000-box bench
  // connects in waves of 250 from one address). Still far below what exhausts file descriptors, and
  // each socket is held for at most the CONNECT deadline.
  maxUnauthenticatedPerAddress: 256,
  connectTimeoutMs: 10_000,
};

interface Conn {
  address: string;
  counted: boolean;
  timer: NodeJS.Timeout | undefined;
}

export interface AdmissionEvents {
  refused(address: string): void;
  timedOut(address: string): void;
}

export class Admission {
  private readonly pending = new Map<string, number>();
  private readonly conns = new WeakMap<object, Conn>();
  private total = 0;

  constructor(
    private readonly clock: Clock,
    private readonly opts: AdmissionOptions,
    private readonly events: AdmissionEvents,
  ) {}

  /** A new socket: returns false (and destroys it) when its address is over the cap. */
  admit(stream: Duplex, remote: string | undefined): boolean {
    const address = addressKey(remote);
    const n = this.pending.get(address) ?? 0;
    if (n >= this.opts.maxUnauthenticatedPerAddress) {
      this.events.refused(address);
      stream.destroy();
      return false;
    }
    this.pending.set(address, n + 1);
    this.total++;
    const conn: Conn = { address, counted: true, timer: undefined };
    conn.timer = this.clock.setTimeout(() => {
      conn.timer = undefined;
      this.events.timedOut(address);
      stream.destroy();
    }, this.opts.connectTimeoutMs);
    this.conns.set(stream, conn);
    stream.once('close', () => {
      this.clock.clearTimeout(conn.timer);
      conn.timer = undefined;
      this.release(conn);
    });
    return true;
  }

  /** The socket's CONNECT arrived [MQTT-3.1.0-1]: the deadline no longer applies, nor the cap. */
  connectArrived(stream: object): void {
    const conn = this.conns.get(stream);
    if (!conn) return;
    this.clock.clearTimeout(conn.timer);
    conn.timer = undefined;
    this.release(conn);
  }

  /** The socket authenticated (its CONNECT arrived, so this is a no-op unless that was missed). */
  authenticated(stream: object): void {
    const conn = this.conns.get(stream);
    if (conn) this.release(conn);
  }

  /** The throttling key of the socket's source address. */
  addressOf(stream: object): string {
    return this.conns.get(stream)?.address ?? 'unknown';
  }

  unauthenticated(): number {
    return this.total;
  }

  private release(conn: Conn): void {
    if (!conn.counted) return;
    conn.counted = false;
    this.total--;
    const n = (this.pending.get(conn.address) ?? 1) - 1;
    if (n > 0) this.pending.set(conn.address, n);
    else this.pending.delete(conn.address);
  }
}
