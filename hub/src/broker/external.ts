// `--broker mqtt://…` (DESIGN.md "Hub", the scale-out path): the hub is a client of an external broker
// (Mosquitto, EMQX) that does authentication and the ACL itself. Records arrive over an MQTT 5 shared
// subscription, so with several hub instances each batch reaches one of them; state, birth, telemetry
// and command results use ordinary subscriptions so that every instance keeps a full registry.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseTopic, TOPIC_ROOT, topics } from '@classroom/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { ConfigError } from '../config.js';
import type { Clock, Db } from '../context.js';
import type { CoreMetrics } from '../metrics.js';
import { encodePayload, loadOwnedRetained, saveOwnedRetained } from './owned-retained.js';
import type { HubBroker } from './types.js';

/** The share group of every hub instance (MQTT 5 `$share/{group}/{filter}`). */
export const SHARE_GROUP = 'classroom-hub';

export interface ExternalBrokerDeps {
  url: string;
  /** PEM CA bundle that the broker's certificate must chain to (mqtts://, wss://; docs/hub.md "TLS"). */
  ca?: string | null;
  log: Logger;
  clock: Clock;
  db: Db;
  metrics: CoreMetrics;
  onAgentMessage(agent: string, topic: string, payload: Buffer): Promise<void>;
}

export class ExternalBroker implements HubBroker {
  private client: MqttClient | null = null;
  private readonly clientId = `classroom-hub-${randomBytes(4).toString('hex')}`;

  constructor(private readonly deps: ExternalBrokerDeps) {}

  async start(): Promise<void> {
    const url = new URL(this.deps.url);
    const username = url.username
      ? decodeURIComponent(url.username)
      : process.env.CLASSROOM_HUB_BROKER_USERNAME;
    const password = url.password
      ? decodeURIComponent(url.password)
      : process.env.CLASSROOM_HUB_BROKER_PASSWORD;
    url.username = '';
    url.password = '';
    let ca: Buffer | undefined;
    if (this.deps.ca) {
      try {
        ca = readFileSync(this.deps.ca);
      } catch (err) {
        throw new ConfigError(
          `--broker-ca ${this.deps.ca}: cannot read the CA bundle (${(err as Error).message})`,
        );
      }
    }
    const client = mqtt.connect(url.toString(), {
      ...(ca ? { ca } : {}),
      protocolVersion: 5,
      clientId: this.clientId,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 15_000,
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
      will: {
        topic: topics.hubState(),
        payload: Buffer.from(JSON.stringify({ v: 1, online: false, ts: this.deps.clock.now() })),
        qos: 1,
        retain: true,
      },
    });
    this.client = client;
    // Acks are small packets sent right after a commit: no Nagle delay on the hub's side (see the embedded
    // broker's listener). The broker's side is its own setting (mosquitto: set_tcp_nodelay true).
    client.on('connect', () => (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true));
    client.on('error', (err) =>
      this.deps.log.warn({ err: err.message, url: url.toString() }, 'external broker error'),
    );
    client.on('reconnect', () =>
      this.deps.log.warn({ url: url.toString() }, 'reconnecting to external broker'),
    );
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) =>
        reject(new Error(`cannot connect to broker ${url.toString()}: ${err.message}`));
      client.once('connect', () => {
        client.off('error', onError);
        resolve();
      });
      client.once('error', onError);
    });
    // Inbound publishes are handled one after another by MQTT.js; records are handed to ingest without
    // waiting for the commit, so that batches of many agents still share one group commit.
    client.on('message', (topic, payload) => {
      const t = parseTopic(topic);
      const agent = t.ok && t.topic.kind === 'agent' ? t.topic.agent : null;
      if (!agent) return;
      this.deps
        .onAgentMessage(agent, topic, payload)
        .catch((err) => this.deps.log.error({ err, topic }, 'ingest failed'));
    });
    const everyInstance = ['state', 'birth', 'telemetry', 'cmd/result'].map(
      (leaf) => `${TOPIC_ROOT}/+/${leaf}`,
    );
    const shared = [`$share/${SHARE_GROUP}/${TOPIC_ROOT}/+/records`];
    const granted = await client.subscribeAsync([...everyInstance, ...shared], { qos: 1 });
    const refused = granted.filter((g) => g.qos >= 0x80);
    if (refused.length > 0) {
      throw new Error(
        `external broker refused the hub's subscriptions: ${refused.map((g) => g.topic).join(', ')}`,
      );
    }
    for (const r of await loadOwnedRetained(this.deps.db))
      await this.rawPublish(r.topic, r.payload, r.qos, true);
    this.deps.log.info({ url: url.toString(), clientId: this.clientId }, 'connected to external broker');
  }

  async listen(): Promise<number> {
    return 0; // the external broker is where agents connect
  }

  async stopAccepting(): Promise<void> {}

  publish(topic: string, payload: unknown, opts: { qos: 0 | 1; retain?: boolean }): Promise<void> {
    const body = encodePayload(payload);
    const retain = opts.retain === true;
    const stored = retain
      ? saveOwnedRetained(this.deps.db, this.deps.clock, { topic, payload: body, qos: opts.qos })
      : Promise.resolve();
    return stored.then(() => this.rawPublish(topic, body, opts.qos, retain));
  }

  private async rawPublish(topic: string, payload: Buffer, qos: 0 | 1, retain: boolean): Promise<void> {
    const c = this.client;
    if (!c) throw new Error(`not connected to the external broker; not published: ${topic}`);
    await c.publishAsync(topic, payload, { qos, retain });
  }

  connectedClients(): number {
    return this.client?.connected ? 1 : 0;
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (c) await c.endAsync();
  }
}
