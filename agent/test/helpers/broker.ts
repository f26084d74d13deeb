import { createServer, type Server } from 'node:net';
import { parseMessage, type RecordT } from '@classroom/protocol';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';

/** A free TCP port on 127.0.0.1 (so a broker can be started later on a known port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

export interface TestBroker {
  port: number;
  url: string;
  broker: Aedes;
  close(): Promise<void>;
}

/** A real in-process aedes broker on 127.0.0.1:port. */
export async function startBroker(port = 0): Promise<TestBroker> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const actual = typeof addr === 'object' && addr ? addr.port : port;
  return {
    port: actual,
    url: `mqtt://127.0.0.1:${actual}`,
    broker,
    close: async () => {
      // Destroy client sockets first, else server.close waits for them (a "power cut" of the hub).
      for (const c of Object.values(
        (broker as unknown as { clients: Record<string, { conn?: { destroy(): void } }> }).clients,
      )) {
        c.conn?.destroy();
      }
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export interface Received {
  topic: string;
  payload: string;
  retain: boolean;
}

/**
 * A stand-in for the hub's ingest until the real hub runs: validates each records batch with
 * @classroom/protocol, "commits" the seqs in memory (counting duplicates) and acks them.
 * Also keeps every message it sees, for assertions.
 */
export class TestHub {
  readonly messages: Received[] = [];
  readonly seqs = new Map<string, number[]>();
  readonly records = new Map<string, RecordT[]>();
  readonly historical: boolean[] = [];
  duplicates = 0;
  invalid = 0;
  acking = true;
  private client: MqttClient | null = null;

  async connect(url: string): Promise<void> {
    const client = mqtt.connect(url, {
      clientId: `test-hub-${Math.random().toString(16).slice(2)}`,
      reconnectPeriod: 200,
    });
    this.client = client;
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet.retain));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.subscribeAsync('classroom/v1/#', { qos: 1 });
  }

  private onMessage(topic: string, payload: Buffer, retain: boolean): void {
    this.messages.push({ topic, payload: payload.toString(), retain });
    const m = /^classroom\/v1\/([^/]+)\/records$/.exec(topic);
    if (!m) return;
    const agent = m[1]!;
    const r = parseMessage('records', payload);
    if (!r.ok) {
      this.invalid += 1;
      return;
    }
    if (!this.acking) return;
    this.historical.push(r.value.historical === true);
    const seen = this.seqs.get(agent) ?? [];
    const have = new Set(seen);
    const recs = this.records.get(agent) ?? [];
    for (const rec of r.value.records) {
      if (have.has(rec.seq)) this.duplicates += 1;
      else {
        seen.push(rec.seq);
        recs.push(rec);
      }
    }
    this.seqs.set(agent, seen);
    this.records.set(agent, recs);
    const ranges: [number, number][] = [];
    for (const rec of r.value.records) {
      const last = ranges[ranges.length - 1];
      if (last && last[1] + 1 === rec.seq) last[1] = rec.seq;
      else ranges.push([rec.seq, rec.seq]);
    }
    this.client?.publish(`classroom/v1/${agent}/ack`, JSON.stringify({ v: 1, ranges }), { qos: 0 });
  }

  publish(topic: string, payload: unknown, opts: { qos?: 0 | 1; retain?: boolean } = {}): Promise<void> {
    return new Promise((resolve, reject) =>
      this.client?.publish(
        topic,
        JSON.stringify(payload),
        { qos: opts.qos ?? 1, retain: opts.retain ?? false },
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }

  on(topicSuffix: string): unknown[] {
    return this.messages
      .filter((m) => m.topic.endsWith(topicSuffix))
      .map((m) => JSON.parse(m.payload) as unknown);
  }

  sortedSeqs(agent: string): number[] {
    return [...(this.seqs.get(agent) ?? [])].sort((a, b) => a - b);
  }

  async close(): Promise<void> {
    await this.client?.endAsync(true);
  }
}

/** Polls `fn` until it returns truthy; never a fixed sleep (the machine is shared and slow). */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  what: string,
  timeoutMs = 30_000,
): Promise<Exclude<T, null | undefined | false | 0 | ''>> {
  const start = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v as Exclude<T, null | undefined | false | 0 | ''>;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
