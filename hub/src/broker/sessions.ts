// Persistent (clean=false) sessions of the embedded broker expire (docs/hub.md "Abuse limits"). aedes
// keeps an offline session's subscriptions and every QoS 1 message queued for it for ever; this sweeps
// sessions that have been offline longer than the expiry, or whose queue passed its bound, and deletes
// them from the broker's persistence. With the identity rules (one persistent client id per account,
// auth/identity.ts) the broker then holds at most one bounded session per account.
import type { Clock } from '../context.js';

export interface SessionOptions {
  /** An offline persistent session is deleted after this long. */
  expiryMs: number;
  /** An offline session with more queued messages than this is deleted at the next sweep. */
  maxQueued: number;
  sweepEveryMs: number;
}

export const DEFAULT_SESSIONS: SessionOptions = {
  expiryMs: 2 * 60 * 60_000,
  maxQueued: 1000,
  sweepEveryMs: 60_000,
};

type ClientRef = { id: string };

/** The parts of aedes-persistence that hold a session's state. */
export interface SessionPersistence {
  cleanSubscriptions(client: ClientRef): Promise<unknown>;
  cleanIncoming?(client: ClientRef): Promise<unknown>;
  delWill(client: ClientRef): Promise<unknown>;
  outgoingStream(client: ClientRef): AsyncIterable<unknown>;
  outgoingClearMessageId(client: ClientRef, packet: unknown): Promise<unknown>;
}

interface Session {
  connected: boolean;
  since: number;
}

export class PersistentSessions {
  private readonly sessions = new Map<string, Session>();
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly persistence: () => SessionPersistence,
    /** True while a client with this id is connected (a take-over may report the old one gone late). */
    private readonly isLive: (clientId: string) => boolean,
    private readonly opts: SessionOptions,
    private readonly onDeleted: (clientId: string, reason: 'expired' | 'queue_full') => void,
  ) {}

  start(): void {
    this.timer = this.clock.setInterval(() => void this.sweep(), this.opts.sweepEveryMs);
  }

  stop(): void {
    this.clock.clearInterval(this.timer);
    this.timer = undefined;
  }

  connected(clientId: string, clean: boolean): void {
    // A clean connect makes aedes discard the id's earlier session itself [MQTT-3.1.2-6].
    if (clean) this.sessions.delete(clientId);
    else this.sessions.set(clientId, { connected: true, since: this.clock.now() });
  }

  disconnected(clientId: string): void {
    const s = this.sessions.get(clientId);
    if (!s || this.isLive(clientId)) return;
    s.connected = false;
    s.since = this.clock.now();
  }

  counts(): { connected: number; offline: number } {
    let connected = 0;
    for (const s of this.sessions.values()) if (s.connected) connected++;
    return { connected, offline: this.sessions.size - connected };
  }

  /** Deletes the offline sessions past their expiry or queue bound; resolves when done. */
  sweep(): Promise<void> {
    this.sweeping ??= this.runSweep().finally(() => {
      this.sweeping = null;
    });
    return this.sweeping;
  }

  private async runSweep(): Promise<void> {
    const now = this.clock.now();
    for (const [id, s] of [...this.sessions]) {
      if (s.connected || this.isLive(id)) continue;
      let reason: 'expired' | 'queue_full' | null = null;
      if (now - s.since >= this.opts.expiryMs) reason = 'expired';
      else if ((await this.queued(id, this.opts.maxQueued + 1)) > this.opts.maxQueued) reason = 'queue_full';
      if (!reason || this.isLive(id)) continue;
      await this.purge(id);
      this.sessions.delete(id);
      this.onDeleted(id, reason);
    }
  }

  /** Queued messages of a session, counted up to `limit`. */
  async queued(clientId: string, limit = Number.POSITIVE_INFINITY): Promise<number> {
    let n = 0;
    for await (const _ of this.persistence().outgoingStream({ id: clientId })) {
      if (++n >= limit) break;
    }
    return n;
  }

  private async purge(clientId: string): Promise<void> {
    const p = this.persistence();
    const ref = { id: clientId };
    await p.cleanSubscriptions(ref);
    await p.cleanIncoming?.(ref);
    await p.delWill(ref);
    const queued: unknown[] = [];
    for await (const packet of p.outgoingStream(ref)) queued.push(packet);
    for (const packet of queued) await p.outgoingClearMessageId(ref, packet);
  }
}
