// The embedded aedes broker (DESIGN.md "Hub": MQTT over TCP, and over WebSocket at /mqtt).
// Authentication and the ACL run as aedes hooks; agent publishes reach ingest through the `published`
// hook, whose callback is held until ingest is done so that a fast publisher is slowed by its own
// commits instead of growing the heap.
import type { IncomingMessage } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Aedes, type PublishPacket } from 'aedes';
import type { Logger } from 'pino';
import type { Accounts } from '../auth/accounts.js';
import { canPublish, canSubscribe, type Principal } from '../auth/acl.js';
import { clip, MAX_CLIENT_ID_LENGTH } from '../auth/identity.js';
import type { IdentityMetrics } from '../auth/metrics.js';
import type { Clock, Db } from '../context.js';
import type { CoreMetrics } from '../metrics.js';
import { type BrokerLimits, ConnectGuard, DEFAULT_LIMITS, type GuardedClient } from './connect-guard.js';
import { guardFrames, MAX_PACKET_BYTES } from './frame-guard.js';
import { encodePayload, loadOwnedRetained, saveOwnedRetained } from './owned-retained.js';
import { type RetainedPersistence, withRetainedIndex } from './retained-index.js';
import type { SessionPersistence } from './sessions.js';
import type { HubBroker } from './types.js';

export interface EmbeddedBrokerDeps {
  log: Logger;
  clock: Clock;
  db: Db;
  metrics: CoreMetrics;
  accounts: Accounts;
  /** Called for every publish of an authenticated agent; the returned promise gates the client. */
  onAgentMessage(agent: string, topic: string, payload: Buffer): Promise<void>;
  onAgentConnection?(agent: string, connected: boolean): void;
  /** Counters of the identity rules and abuse limits (auth/metrics.ts). */
  identity: IdentityMetrics;
  limits?: BrokerLimits;
  /** Every successful CONNECT, with the account's provisioned room (agents). */
  onAuthenticated?(who: Principal): void;
}

type AuthedClient = GuardedClient;

/**
 * Options that keep aedes alive under a large loopback burst (docs/hub.md "Operations notes", burst safety). mqemitter 7 queues messages
 * once `concurrency` deliveries are in flight, and its `released` callback starts the next queued message
 * synchronously; a queued message with no subscriber (or only synchronous ones) completes at once and
 * releases the next, so a long queue unwinds as one deep recursion: `RangeError: Maximum call stack size
 * exceeded` (mqemitter#204, aedes#193). With concurrency 0 mqemitter never queues: each message is
 * dispatched as it is emitted, and back-pressure still comes from each client's socket, because aedes
 * reads a client's next chunk only after every packet of the previous one has completed.
 */
export const BURST_SAFE_OPTIONS = { concurrency: 0 } as const;

export class EmbeddedBroker implements HubBroker {
  aedes!: Aedes;
  private tcp: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly log: Logger;

  readonly connectGuard: ConnectGuard;

  constructor(private readonly deps: EmbeddedBrokerDeps) {
    this.log = deps.log;
    this.connectGuard = new ConnectGuard({
      log: deps.log,
      clock: deps.clock,
      metrics: deps.metrics,
      identity: deps.identity,
      accounts: deps.accounts,
      limits: deps.limits ?? DEFAULT_LIMITS,
      persistence: () => (this.aedes as unknown as { persistence: SessionPersistence }).persistence,
      isLive: (id) =>
        Boolean((this.aedes as unknown as { clients?: Record<string, unknown> })?.clients?.[id]),
      ...(deps.onAuthenticated ? { onAuthenticated: deps.onAuthenticated } : {}),
    });
  }

  async start(): Promise<void> {
    const { metrics, log } = this.deps;
    const guard = this.connectGuard;
    this.aedes = await Aedes.createBroker({
      ...BURST_SAFE_OPTIONS,
      // MQTT 3.1 only; the 3.1.1 rule (agent id = client id, at most 64) is ConnectGuard's.
      maxClientsIdLength: MAX_CLIENT_ID_LENGTH,
      // A backstop behind Admission's own deadline (admission.ts), which uses the injected clock.
      connectTimeout: guard.limits.admission.connectTimeoutMs + 1000,
      preConnect: (client, _packet, done) => guard.preConnect(client, done),
      authenticate: (client, username, password, done) =>
        guard.authenticate(client as AuthedClient, username, password, done),
      authorizePublish: (client, packet, done) => {
        // Only clients reach this hook; the hub's own publishes go straight to aedes.publish.
        const who = (client as AuthedClient | null)?.principal;
        const qos2 = guard.refusePublish(client as AuthedClient | null, packet);
        if (qos2) return done(new Error(qos2));
        const decision = who ? canPublish(who, packet.topic) : { ok: false as const, reason: 'no principal' };
        if (decision.ok) return done(null);
        metrics.aclRefused.inc({ action: 'publish' });
        log.warn(
          { username: who?.username, topic: clip(packet.topic, 200), reason: decision.reason },
          'publish refused by ACL',
        );
        // MQTT 3.1.1 has no negative PUBACK: aedes closes the connection on this error.
        done(new Error(`publish to ${clip(packet.topic, 200)} refused: ${decision.reason}`));
      },
      authorizeSubscribe: (client, sub, done) => {
        const who = (client as AuthedClient).principal;
        const decision = who ? canSubscribe(who, sub.topic) : { ok: false as const, reason: 'no principal' };
        if (decision.ok) return done(null, sub);
        metrics.aclRefused.inc({ action: 'subscribe' });
        log.warn(
          { username: who?.username, filter: clip(sub.topic, 200), reason: decision.reason },
          'subscribe refused by ACL',
        );
        // A null subscription makes aedes answer SUBACK 0x80 (failure) for this filter [MQTT-3.9.3-2].
        done(null, null);
      },
      published: (packet, client, done) => {
        const who = (client as AuthedClient | null)?.principal;
        if (!client || !who || who.role !== 'agent') return done(null);
        const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
        this.deps.onAgentMessage(who.username, packet.topic, payload).then(
          () => done(null),
          (err) => {
            log.error({ err, agent: who.username, topic: clip(packet.topic, 200) }, 'ingest failed');
            done(null);
          },
        );
      },
    });
    // aedes created its memory persistence; index its retained messages before anything is stored, so
    // exact-topic SUBSCRIBEs (every agent's own topics and hub/state) skip the full scan.
    withRetainedIndex((this.aedes as unknown as { persistence: RetainedPersistence }).persistence);
    this.aedes.on('clientError', (client, err) => {
      log.debug({ clientId: clip(client.id), err: clip(err.message, 200) }, 'client error');
    });
    this.aedes.on('connectionError', (_client, err) => {
      // aedes' own connect timer (the backstop); Admission counts the deadlines it enforces itself.
      if (err.message === 'connect did not arrive in time')
        guard.identity.connectionsClosed.inc({ reason: 'connect_timeout' });
      // An MQTT 3.1 CONNECT with a long client id is refused by aedes itself (maxClientsIdLength).
      if (err.message === 'identifier rejected') {
        metrics.authRefused.inc({ reason: 'client_id_too_long' });
        log.warn({ max: MAX_CLIENT_ID_LENGTH }, 'connection refused: client id too long (MQTT 3.1)');
      }
    });
    guard.start();
    this.aedes.on('clientReady', (client) => {
      const who = (client as AuthedClient).principal;
      guard.ready(client);
      log.info(
        { username: who?.username, role: who?.role, clientId: clip(client.id) },
        'mqtt client connected',
      );
      if (who?.role === 'agent') this.deps.onAgentConnection?.(who.username, true);
    });
    this.aedes.on('clientDisconnect', (client) => {
      const who = (client as AuthedClient).principal;
      guard.disconnected(client);
      log.info(
        { username: who?.username, role: who?.role, clientId: clip(client.id) },
        'mqtt client disconnected',
      );
      if (who?.role === 'agent') this.deps.onAgentConnection?.(who.username, false);
    });
    await this.republishRetained();
  }

  /** Starts the MQTT/TCP listener; returns the bound port. */
  async listen(host: string, port: number): Promise<number> {
    // TCP_NODELAY: the hub answers a record with two small packets (PUBACK, then the ack once committed).
    // With Nagle's algorithm the ack waits until the box's TCP stack acknowledges the PUBACK, which a box
    // that has nothing to send delays by up to 40 ms (delayed ACK): that wait was most of a box's round
    // trip in the live-ingest benchmark.
    const server = createServer({ noDelay: true }, (socket) => this.handleSocket(socket));
    this.tcp = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    return typeof addr === 'object' && addr ? addr.port : port;
  }

  /** Stops accepting MQTT connections; existing ones stay until `close`. */
  async stopAccepting(): Promise<void> {
    const server = this.tcp;
    if (!server) return;
    server.close();
  }

  publish(topic: string, payload: unknown, opts: { qos: 0 | 1; retain?: boolean }): Promise<void> {
    const body = encodePayload(payload);
    const retain = opts.retain === true;
    const stored = retain
      ? saveOwnedRetained(this.deps.db, this.deps.clock, { topic, payload: body, qos: opts.qos })
      : Promise.resolve();
    return stored.then(() => this.rawPublish(topic, body, opts.qos, retain));
  }

  private rawPublish(topic: string, payload: Buffer, qos: 0 | 1, retain: boolean): Promise<void> {
    const packet: PublishPacket = { cmd: 'publish', topic, payload, qos, retain, dup: false };
    return new Promise((resolve, reject) => {
      if (this.aedes.closed) return reject(new Error(`broker closed; not published: ${topic}`));
      this.aedes.publish(packet, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** After a restart, the retained messages the hub owns come back before any client connects. */
  private async republishRetained(): Promise<void> {
    const rows = await loadOwnedRetained(this.deps.db);
    for (const r of rows) await this.rawPublish(r.topic, r.payload, r.qos, true);
    if (rows.length > 0) this.log.info({ count: rows.length }, 'retained messages republished');
  }

  connectedClients(): number {
    return this.aedes?.connectedClients ?? 0;
  }

  disconnectUser(username: string): number {
    const clients = (this.aedes as unknown as { clients: Record<string, AuthedClient> }).clients;
    let n = 0;
    for (const c of Object.values(clients)) {
      if (c.principal?.username !== username) continue;
      c.close();
      n++;
    }
    return n;
  }

  /** One MQTT connection over TCP, plain or TLS (the MQTTS listener hands its sockets here). */
  handleSocket(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    if (this.guard(socket, socket.remoteAddress)) this.aedes.handle(socket);
  }

  handleStream(stream: Duplex, req: IncomingMessage): void {
    if (this.guard(stream, req.socket.remoteAddress)) this.aedes.handle(stream, req);
  }

  /** Admission (unauthenticated cap, connect deadline) and the frame-size guard; false: stream closed. */
  private guard(stream: Duplex, remote: string | undefined): boolean {
    if (!this.connectGuard.admission.admit(stream, remote)) return false;
    guardFrames(stream, MAX_PACKET_BYTES, (reason) => {
      this.deps.metrics.oversizedPackets.inc();
      this.log.warn({ remote, reason }, 'connection dropped: oversized MQTT packet');
    });
    return true;
  }

  /** Disconnects every client and closes the broker. */
  async close(): Promise<void> {
    this.connectGuard.stop();
    await this.stopAccepting();
    if (this.aedes && !this.aedes.closed)
      await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    if (this.tcp) await new Promise<void>((resolve) => this.tcp?.close(() => resolve()));
    this.tcp = null;
  }
}
