// The exact-topic retained index (hub/src/broker/retained-index.ts) must answer every SUBSCRIBE exactly
// as aedes' own memory persistence does: compared here against an unwrapped store fed the same packets,
// and end to end through a real aedes broker and an MQTT.js client.
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import type { Readable } from 'node:stream';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { isExactFilter, type RetainedPersistence, withRetainedIndex } from '../src/broker/retained-index.js';

type Broker = Aedes & { persistence: RetainedPersistence };
const brokers: Aedes[] = [];
const servers: Server[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  for (const b of brokers.splice(0)) await new Promise<void>((r) => b.close(() => r()));
});

async function broker(): Promise<Broker> {
  const b = await Aedes.createBroker();
  brokers.push(b);
  return b as Broker;
}

async function collect(stream: Readable): Promise<string[]> {
  const out: string[] = [];
  for await (const p of stream) out.push(`${p.topic}=${String(p.payload)}`);
  return out;
}

const TOPICS = [
  'classroom/v1/hub/state',
  'classroom/v1/agents/a1/config',
  'classroom/v1/agents/a1/cmd',
  'classroom/v1/agents/a2/config',
  'classroom/v1/rooms/R1/summary',
  'classroom/v1/rooms/R2/summary',
  'classroom/v1/rooms/R2',
  '$SYS/x/uptime',
  '/leading/slash',
  'trailing/',
  'a',
];

const PATTERNS = [
  ...TOPICS,
  'classroom/v1/agents/a3/config',
  'classroom/v1/rooms/+/summary',
  'classroom/v1/agents/+/+',
  'classroom/v1/#',
  'classroom/#',
  '#',
  '+/+',
  '+',
  '$SYS/#',
  'trailing/+',
  '/+/slash',
];

describe('retained index', () => {
  it('classifies filters', () => {
    expect(isExactFilter('classroom/v1/hub/state')).toBe(true);
    expect(isExactFilter('classroom/v1/+/state')).toBe(false);
    expect(isExactFilter('classroom/#')).toBe(false);
  });

  it('returns what aedes-persistence returns, for exact and wildcard filters, across updates and deletes', async () => {
    const plain = (await broker()).persistence;
    const indexed = withRetainedIndex((await broker()).persistence);
    const store = async (topic: string, payload: string) => {
      for (const p of [plain, indexed]) {
        await p.storeRetained({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: true });
      }
    };
    for (const [i, t] of TOPICS.entries()) await store(t, `v${i}`);
    await store('classroom/v1/agents/a1/config', 'updated');
    await store('classroom/v1/rooms/R2/summary', ''); // an empty retained payload deletes the topic
    await store('gone/soon', 'x');
    await store('gone/soon', '');
    expect(indexed.retainedCount()).toBe(TOPICS.length - 1);

    for (const pattern of PATTERNS) {
      const want = await collect(plain.createRetainedStream(pattern));
      expect(await collect(indexed.createRetainedStream(pattern)), pattern).toEqual(want);
    }
    // aedes asks once per SUBSCRIBE with all granted filters: all exact, and mixed with wildcards.
    const combos = [
      [
        'classroom/v1/agents/a1/config',
        'classroom/v1/agents/a1/cmd',
        'classroom/v1/hub/state',
        'nothing/here',
      ],
      ['classroom/v1/rooms/+/summary', 'classroom/v1/hub/state', '#'],
      ['classroom/v1/rooms/R2/summary', 'gone/soon'],
      [],
    ];
    for (const c of combos) {
      const want = await collect(plain.createRetainedStreamCombi(c));
      expect(await collect(indexed.createRetainedStreamCombi(c)), c.join(' ')).toEqual(want);
    }
    expect(await collect(indexed.createRetainedStreamCombi(['classroom/v1/agents/a1/config']))).toEqual([
      'classroom/v1/agents/a1/config=updated',
    ]);
  });

  it('delivers retained messages to exact and wildcard subscribers of a real broker', async () => {
    const b = await broker();
    withRetainedIndex(b.persistence);
    const server = createServer((s) => b.handle(s));
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    const publish = (topic: string, payload: string) =>
      new Promise<void>((resolve, reject) =>
        b.publish(
          { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: true, dup: false },
          (err) => (err ? reject(err) : resolve()),
        ),
      );
    await publish('classroom/v1/agents/a1/config', 'c1');
    await publish('classroom/v1/hub/state', 'online');
    await publish('classroom/v1/rooms/R1/summary', 's1');
    await publish('classroom/v1/rooms/R1/summary', 's2');

    const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 });
    try {
      await once(client, 'connect');
      const got: string[] = [];
      client.on('message', (topic, payload, packet) => {
        if (packet.retain) got.push(`${topic}=${payload}`);
      });
      await client.subscribeAsync(['classroom/v1/agents/a1/config', 'classroom/v1/hub/state', 'none/such'], {
        qos: 1,
      });
      await client.subscribeAsync('classroom/v1/rooms/+/summary', { qos: 1 });
      await expect.poll(() => got.length, { timeout: 10_000 }).toBe(3);
      expect(got.sort()).toEqual([
        'classroom/v1/agents/a1/config=c1',
        'classroom/v1/hub/state=online',
        'classroom/v1/rooms/R1/summary=s2',
      ]);
    } finally {
      await client.endAsync();
    }
  });
});
