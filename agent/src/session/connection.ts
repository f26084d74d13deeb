import { readFileSync } from 'node:fs';
import { topics } from '@classroom/protocol';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { redactCredentials } from '../redact.js';
import { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
import { describeBrokerError } from './tls-errors.js';

export interface BrokerOptions {
  url: string;
  username?: string;
  password?: string;
  /** Path of a PEM CA bundle for mqtts:// / wss://. */
  ca?: string;
  /** Paths of a PEM client certificate and its key: login without a password (docs/agent.md). */
  cert?: string;
  key?: string;
  keepaliveS: number;
}

export interface ConnectionHandlers {
  /** Subscribed and ready: publish state and birth, start the sender. */
  onConnect(session: number): Promise<void> | void;
  onDisconnect(): void;
  onMessage(topic: string, payload: Buffer): void;
}

export interface ConnectionContext {
  agent: string;
  broker: BrokerOptions;
  log: Logger;
  clock: { now(): number };
  /** Persists and returns the next session number (one per connect attempt). */
  nextSession(): Promise<number>;
  handlers: ConnectionHandlers;
  backoff?: Partial<BackoffOptions>;
  random?: () => number;
}

/**
 * One MQTT session at a time (docs/agent.md "MQTT session"). A fresh MQTT.js client per attempt, because the
 * will must carry the new session number; `reconnectPeriod: 0` because MQTT.js retries at a fixed
 * period and we want exponential backoff with jitter; `clean: true` because durability is the
 * outbox's job, not MQTT.js's in-memory store.
 */
export class Connection {
  private client: MqttClient | null = null;
  private session = 0;
  private attempt = 0;
  private connectedAt = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopping = false;
  private ready = false;
  private lastError: string | null = null;
  private readonly log: Logger;
  private readonly backoff: BackoffOptions;

  constructor(private readonly ctx: ConnectionContext) {
    this.log = ctx.log.child({ module: 'mqtt' });
    this.backoff = { ...DEFAULT_BACKOFF, ...ctx.backoff };
  }

  start(): void {
    this.stopping = false;
    void this.connect();
  }

  isConnected(): boolean {
    return this.ready && this.client?.connected === true;
  }

  currentSession(): number {
    return this.session;
  }

  status(): { connected: boolean; session: number; lastError: string | null; attempt: number } {
    return {
      connected: this.isConnected(),
      session: this.session,
      lastError: this.lastError,
      attempt: this.attempt,
    };
  }

  publish(topic: string, payload: string, opts: { qos: 0 | 1; retain?: boolean }): Promise<void> {
    const client = this.client;
    if (!client || !this.isConnected()) return Promise.reject(new Error('not connected'));
    // The last guard of docs/agent.md "Secrets": no camera password in anything the box sends.
    const body = redactCredentials(payload);
    return new Promise((resolve, reject) => {
      client.publish(topic, body, { qos: opts.qos, retain: opts.retain ?? false }, (err) =>
        err ? reject(err) : resolve(),
      );
    });
  }

  /** Publishes `lastWords` (retained state), then disconnects cleanly so the will does not fire. */
  async stop(lastWords?: { topic: string; payload: string }): Promise<void> {
    this.stopping = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const client = this.client;
    if (!client) return;
    if (lastWords && this.isConnected()) {
      await Promise.race([
        this.publish(lastWords.topic, lastWords.payload, { qos: 1, retain: true }).catch((err: unknown) =>
          this.log.warn({ err: String(err) }, 'could not publish final state'),
        ),
        new Promise((r) => setTimeout(r, 3000).unref()),
      ]);
    }
    await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
    this.ready = false;
    this.client = null;
  }

  /** Drops the current connection now (tests, and a broker that stopped answering). */
  drop(): void {
    this.client?.stream?.destroy();
  }

  private async connect(): Promise<void> {
    if (this.stopping) return;
    let session: number;
    try {
      session = await this.ctx.nextSession();
    } catch (err) {
      this.log.error({ err }, 'cannot persist the session counter');
      this.scheduleRetry();
      return;
    }
    if (this.stopping) return;
    this.session = session;
    const { agent, broker } = this.ctx;
    const options: IClientOptions = {
      clientId: `${agent}`,
      username: broker.username ?? agent,
      password: broker.password,
      clean: true,
      // The broker fires the will after 1.5 × keepalive of silence: 10 s → a power cut shows within 15 s.
      keepalive: broker.keepaliveS,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      protocolVersion: 4,
      will: {
        topic: topics.state(agent),
        payload: Buffer.from(JSON.stringify({ v: 1, state: 'lost', session, ts: this.ctx.clock.now() })),
        qos: 1,
        retain: true,
      },
    };
    const files: Array<['ca' | 'cert' | 'key', string | undefined, string]> = [
      ['ca', broker.ca, 'the CA bundle'],
      ['cert', broker.cert, 'the client certificate'],
      ['key', broker.key, 'the client key'],
    ];
    for (const [field, file, what] of files) {
      if (!file) continue;
      try {
        options[field] = readFileSync(file);
      } catch (err) {
        // Never fall back to the system CAs: the box would then trust any public certificate.
        this.lastError = `broker.${field} ${file}: cannot read ${what}: ${(err as Error).message}`;
        this.log.error({ err: this.lastError, session }, 'cannot connect');
        this.scheduleRetry();
        return;
      }
    }
    const client = mqtt.connect(broker.url, options);
    this.client = client;
    let closed = false;
    client.on('connect', () => void this.onConnect(client, session));
    client.on('message', (topic, payload) => this.ctx.handlers.onMessage(topic, payload));
    client.on('error', (err) => {
      this.lastError = describeBrokerError(err, broker);
      this.log.warn({ err: this.lastError, session }, 'mqtt error');
    });
    client.on('close', () => {
      if (closed) return;
      closed = true;
      const wasReady = this.ready && this.client === client;
      if (this.client === client) this.ready = false;
      if (wasReady) {
        this.log.warn({ session }, 'mqtt connection lost');
        this.ctx.handlers.onDisconnect();
      }
      client.end(true);
      if (this.client !== client || this.stopping) return;
      if (this.connectedAt > 0 && this.ctx.clock.now() - this.connectedAt >= this.backoff.stableMs)
        this.attempt = 0;
      this.connectedAt = 0;
      this.scheduleRetry();
    });
  }

  private scheduleRetry(): void {
    if (this.stopping) return;
    const delay = backoffDelay(this.attempt, this.backoff, this.ctx.random);
    this.attempt += 1;
    this.log.info({ delayMs: delay, attempt: this.attempt }, 'reconnecting after backoff');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.connect();
    }, delay);
  }

  private async onConnect(client: MqttClient, session: number): Promise<void> {
    const agent = this.ctx.agent;
    try {
      await client.subscribeAsync(
        [topics.ack(agent), topics.cmd(agent), topics.config(agent), topics.hubState()]
          .map((topic) => ({
            topic,
            qos: 1 as const,
          }))
          .reduce<Record<string, { qos: 1 }>>((acc, s) => {
            acc[s.topic] = { qos: s.qos };
            return acc;
          }, {}),
      );
    } catch (err) {
      this.log.error({ err: String(err) }, 'subscribe failed; dropping the connection');
      client.end(true);
      return;
    }
    if (this.client !== client || this.stopping) return;
    this.connectedAt = this.ctx.clock.now();
    this.ready = true;
    this.lastError = null;
    this.log.info({ session, url: this.ctx.broker.url }, 'mqtt connected');
    try {
      await this.ctx.handlers.onConnect(session);
    } catch (err) {
      this.log.error({ err }, 'session start failed; dropping the connection');
      client.end(true);
    }
  }
}
