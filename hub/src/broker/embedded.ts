// The embedded aedes broker (DESIGN.md "Hub": MQTT over TCP, and over WebSocket at /mqtt).
// Authentication and the ACL run as aedes hooks; agent publishes reach ingest through the `published`
// hook, whose callback is held until ingest is done so that a fast publisher is slowed by its own
// commits instead of growing the heap.
import type { IncomingMessage } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import type { Logger } from 'pino';
import { AccountDisabledError, type Accounts } from '../auth/accounts.js';
import { canPublish, canSubscribe, type Principal } from '../auth/acl.js';
import type { Clock, Db } from '../context.js';
import type { CoreMetrics } from '../metrics.js';
import { guardFrames, MAX_PACKET_BYTES } from './frame-guard.js';
import { encodePayload, loadOwnedRetained, saveOwnedRetained } from './owned-retained.js';
import { type RetainedPersistence, withRetainedIndex } from './retained-index.js';
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
}

type AuthedClient = Client & { principal?: Principal };

function authError(message: string, code: 4 | 5): AuthenticateError {
  const err = new Error(message) as AuthenticateError;
  err.returnCode = code;
  return err;
}

/**
 * Options that keep aedes alive under a large loopback burst (issue 3 §7). mqemitter 7 queues messages
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

  constructor(private readonly deps: EmbeddedBrokerDeps) {
    this.log = deps.log;
  }

  async start(): Promise<void> {
    const { metrics, accounts, log } = this.deps;
    this.aedes = await Aedes.createBroker({
      ...BURST_SAFE_OPTIONS,
      // Agent ids are up to 64 characters and are commonly used as client ids.
      maxClientsIdLength: 128,
      authenticate: (client, username, password, done) => {
        const c = client as AuthedClient;
        if (!username || !password) {
          metrics.authRefused.inc({ reason: 'no_credentials' });
          log.warn({ clientId: client.id }, 'connection refused: no username or password');
          done(authError('username and password required', 4), false);
          return;
        }
        accounts.authenticate(username, password.toString('utf8')).then(
          (principal) => {
            if (!principal) {
              metrics.authRefused.inc({ reason: 'bad_credentials' });
              log.warn(
                { clientId: client.id, username: username.slice(0, 80) },
                'connection refused: bad credentials',
              );
              done(authError('bad username or password', 4), false);
              return;
            }
            c.principal = principal;
            done(null, true);
          },
          (err) => {
            if (err instanceof AccountDisabledError) {
              metrics.authRefused.inc({ reason: 'disabled' });
              log.warn({ username: username.slice(0, 80) }, 'connection refused: account disabled');
              done(authError('account disabled (classroom-hub agents enable)', 5), false);
              return;
            }
            metrics.authRefused.inc({ reason: 'error' });
            log.error({ err, username: username.slice(0, 80) }, 'authentication failed with an error');
            const e = authError('server unavailable', 5);
            e.returnCode = 3 as never;
            done(e, false);
          },
        );
      },
      authorizePublish: (client, packet, done) => {
        // Only clients reach this hook; the hub's own publishes go straight to aedes.publish.
        const who = (client as AuthedClient | null)?.principal;
        const decision = who ? canPublish(who, packet.topic) : { ok: false as const, reason: 'no principal' };
        if (decision.ok) return done(null);
        metrics.aclRefused.inc({ action: 'publish' });
        log.warn(
          { username: who?.username, topic: packet.topic.slice(0, 200), reason: decision.reason },
          'publish refused by ACL',
        );
        // MQTT 3.1.1 has no negative PUBACK: aedes closes the connection on this error.
        done(new Error(`publish to ${packet.topic.slice(0, 200)} refused: ${decision.reason}`));
      },
      authorizeSubscribe: (client, sub, done) => {
        const who = (client as AuthedClient).principal;
        const decision = who ? canSubscribe(who, sub.topic) : { ok: false as const, reason: 'no principal' };
        if (decision.ok) return done(null, sub);
        metrics.aclRefused.inc({ action: 'subscribe' });
        log.warn(
          { username: who?.username, filter: sub.topic.slice(0, 200), reason: decision.reason },
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
            log.error({ err, agent: who.username, topic: packet.topic }, 'ingest failed');
            done(null);
          },
        );
      },
    });
    // aedes created its memory persistence; index its retained messages before anything is stored, so
    // exact-topic SUBSCRIBEs (every agent's own topics and hub/state) skip the full scan.
    withRetainedIndex((this.aedes as unknown as { persistence: RetainedPersistence }).persistence);
    this.aedes.on('clientError', (client, err) => {
      log.debug({ clientId: client.id, err: err.message }, 'client error');
    });
    this.aedes.on('clientReady', (client) => {
      const who = (client as AuthedClient).principal;
      log.info({ username: who?.username, role: who?.role, clientId: client.id }, 'mqtt client connected');
      if (who?.role === 'agent') this.deps.onAgentConnection?.(who.username, true);
    });
    this.aedes.on('clientDisconnect', (client) => {
      const who = (client as AuthedClient).principal;
      log.info({ username: who?.username, role: who?.role, clientId: client.id }, 'mqtt client disconnected');
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
    const server = createServer({ noDelay: true }, (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      this.guard(socket, socket.remoteAddress);
      this.aedes.handle(socket);
    });
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

  handleStream(stream: Duplex, req: IncomingMessage): void {
    this.guard(stream, req.socket.remoteAddress);
    this.aedes.handle(stream, req);
  }

  private guard(stream: Duplex, remote: string | undefined): void {
    guardFrames(stream, MAX_PACKET_BYTES, (reason) => {
      this.deps.metrics.oversizedPackets.inc();
      this.log.warn({ remote, reason }, 'connection dropped: oversized MQTT packet');
    });
  }

  /** Disconnects every client and closes the broker. */
  async close(): Promise<void> {
    await this.stopAccepting();
    if (this.aedes && !this.aedes.closed)
      await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    if (this.tcp) await new Promise<void>((resolve) => this.tcp?.close(() => resolve()));
    this.tcp = null;
  }
}
