// Auth/ACL and durable ingest against a real in-process hub with real MQTT.js clients (docs/hub.md "MQTT authentication and ACL", "Ingest").
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HubEvents } from '../src/context.js';
import {
  ackCollector,
  batch,
  birth,
  connectAgent,
  connectRefused,
  type InProcessHub,
  inProcessHub,
  range,
  waitFor,
} from './core-helpers.js';

let h: InProcessHub;
let creds: { agent: string; username: string; password: string };
let other: { agent: string; username: string; password: string };
const clients: MqttClient[] = [];
const committed: HubEvents['records.committed'][] = [];

/** The QoS the broker granted, or 128 when it refused the filter (MQTT.js rejects those). */
async function grantedQos(c: MqttClient, topic: string): Promise<number> {
  try {
    const g = await c.subscribeAsync(topic, { qos: 1 });
    return g[0]?.qos ?? -1;
  } catch (err) {
    if ((err as Error).name === 'ErrorWithSubackPacket' || /Subscribe error/.test((err as Error).message))
      return 128;
    throw err;
  }
}

async function storedSeqs(agent: string): Promise<number[]> {
  const rows = await h.hub.ctx.db.all<{ seq: number }>(
    'SELECT seq FROM records WHERE agent = ? ORDER BY seq',
    [agent],
  );
  return rows.map((r) => r.seq);
}

beforeAll(async () => {
  h = await inProcessHub();
  h.hub.ctx.bus.on('records.committed', (e) => committed.push(e));
  creds = (await h.api<typeof creds>('POST', '/api/agents', { agent: 'box-a', room: 'R101' })).body;
  other = (await h.api<typeof other>('POST', '/api/agents', { agent: 'box-b', room: 'R102' })).body;
});

afterAll(async () => {
  for (const c of clients) c.end(true);
  await h?.stop();
});

describe('authentication', () => {
  it('refuses an unknown user and a wrong password, and counts both', async () => {
    const e1 = await connectRefused(h.mqttUrl, 'nobody', 'x');
    expect(e1.message).toMatch(/Bad username or password|Not authorized/i);
    const e2 = await connectRefused(h.mqttUrl, creds.username, `${creds.password}x`);
    expect(e2.message).toMatch(/Bad username or password|Not authorized/i);
    const metrics = await h.api('GET', '/metrics');
    expect(metrics.text).toMatch(/classroom_hub_auth_refused_total\{reason="bad_credentials"\} 2/);
  });

  it('accepts a provisioned agent at once', async () => {
    const c = await connectAgent(h.mqttUrl, creds.username, creds.password);
    clients.push(c);
    expect(c.connected).toBe(true);
  });
});

describe('ACL', () => {
  it('refuses subscriptions outside the agent’s own hub→agent topics', async () => {
    const c = await connectAgent(h.mqttUrl, creds.username, creds.password);
    clients.push(c);
    const byTopic: Record<string, number> = {};
    for (const t of [
      'classroom/v1/box-a/cmd',
      'classroom/v1/hub/state',
      'classroom/v1/box-b/cmd',
      'classroom/v1/+/records',
      '#',
    ]) {
      byTopic[t] = await grantedQos(c, t);
    }
    expect(byTopic['classroom/v1/box-a/cmd']).toBe(1);
    expect(byTopic['classroom/v1/hub/state']).toBe(1);
    expect(byTopic['classroom/v1/box-b/cmd']).toBe(128);
    expect(byTopic['classroom/v1/+/records']).toBe(128);
    expect(byTopic['#']).toBe(128);
  });

  it('disconnects an agent that publishes as another agent, and stores nothing', async () => {
    const c = await connectAgent(h.mqttUrl, creds.username, creds.password);
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    c.publish('classroom/v1/box-b/records', batch([1]), { qos: 1 });
    await closed;
    c.end(true);
    expect(await storedSeqs('box-b')).toEqual([]);
    const metrics = await h.api('GET', '/metrics');
    expect(metrics.text).toMatch(/classroom_hub_acl_refused_total\{action="publish"\} [1-9]/);
  });

  it('lets a platform account read room summaries only', async () => {
    const acc = await h.api<{ username: string; password: string }>('POST', '/api/accounts', {
      account: 'platform-1',
      role: 'platform',
    });
    expect(acc.status).toBe(201);
    const p = await connectAgent(h.mqttUrl, acc.body.username, acc.body.password);
    clients.push(p);
    expect(await grantedQos(p, 'classroom/v1/rooms/#')).toBe(1);
    expect(await grantedQos(p, 'classroom/v1/box-a/records')).toBe(128);
    const got = new Promise<string>((r) =>
      p.on('message', (t, m) => t.endsWith('/summary') && r(m.toString())),
    );
    await h.hub.ctx.mqtt.publish('classroom/v1/rooms/R101/summary', { hello: 1 }, { qos: 1, retain: true });
    expect(JSON.parse(await got)).toEqual({ hello: 1 });
  });
});

describe('ingest', () => {
  let agent: MqttClient;
  let acked: Set<number>;

  beforeAll(async () => {
    agent = await connectAgent(h.mqttUrl, other.username, other.password);
    clients.push(agent);
    acked = await ackCollector(agent, 'box-b');
    await agent.publishAsync('classroom/v1/box-b/birth', JSON.stringify(birth('box-b', 'R102')), { qos: 1 });
  });

  it('commits records, acks them only once stored, and drops duplicates', async () => {
    const before = committed.length;
    await agent.publishAsync('classroom/v1/box-b/records', batch(range(1, 10)), { qos: 1 });
    await waitFor('ack of 1..10', () => range(1, 10).every((s) => acked.has(s)));
    expect(await storedSeqs('box-b')).toEqual(range(1, 10));
    // A resend overlapping the first batch: stored once, acked again, emitted only for the new seqs.
    await agent.publishAsync('classroom/v1/box-b/records', batch(range(5, 15)), { qos: 1 });
    await waitFor('ack of 11..15', () => range(11, 15).every((s) => acked.has(s)));
    expect(await storedSeqs('box-b')).toEqual(range(1, 15));
    const events = committed.slice(before).filter((e) => e.agent === 'box-b');
    const emitted = events.flatMap((e) => e.records.map((r) => r.seq));
    expect(emitted).toEqual(range(1, 15));
    expect(events[0]?.room).toBe('R102');
  });

  it('dead-letters the hostile payload suite, stays healthy, and valid traffic is unaffected', async () => {
    const t = 'classroom/v1/box-b/records';
    const hostile: Array<[string, Buffer | string]> = [
      ['bad_json', '{"v":1,"session":1,"records":['],
      ['not_utf8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])],
      ['too_large', Buffer.alloc(600 * 1024, 0x20)],
      ['invalid', JSON.stringify({ v: 1, session: 1, records: [{ seq: 'x', kind: 'capture' }] })],
      ['bad_version', JSON.stringify({ v: 2, session: 1, records: [] })],
      ['too_deep', `${'['.repeat(40)}${']'.repeat(40)}`],
      ['forbidden_key', '{"v":1,"session":1,"records":[],"__proto__":{"x":1}}'],
      [
        'invalid',
        JSON.stringify({
          v: 1,
          session: 1,
          records: [{ ...JSON.parse(batch([20])).records[0], seq: 21 }, JSON.parse(batch([20])).records[0]],
        }),
      ],
    ];
    for (const [, payload] of hostile) {
      await agent.publishAsync(t, payload as never, { qos: 1 });
      // Valid traffic interleaved with the garbage.
    }
    await agent.publishAsync(t, batch(range(16, 18)), { qos: 1 });
    await agent.publishAsync('classroom/v1/box-b/telemetry', '{"v":1', { qos: 0 });
    await waitFor('ack of 16..18', () => range(16, 18).every((s) => acked.has(s)));
    expect(agent.connected).toBe(true);
    expect(await storedSeqs('box-b')).toEqual(range(1, 18));
    const reasons = await waitFor('dead letters stored', async () => {
      const rows = await h.hub.ctx.db.all<{
        reason: string;
        agent: string;
        size: number;
        payload: string;
        encoding: string;
      }>('SELECT reason, agent, size, payload, encoding FROM dead_letters ORDER BY id');
      return rows.length >= hostile.length + 1 ? rows : null;
    });
    expect(reasons.map((r) => r.reason).sort()).toEqual([...hostile.map(([r]) => r), 'bad_json'].sort());
    expect(reasons.every((r) => r.agent === 'box-b')).toBe(true);
    const big = reasons.find((r) => r.reason === 'too_large');
    expect(big?.size).toBe(600 * 1024);
    expect(big?.payload.length).toBeLessThanOrEqual(2048);
    expect(reasons.find((r) => r.reason === 'not_utf8')?.encoding).toBe('base64');
    const health = await h.api<{ status: string }>('GET', '/api/health', undefined, null);
    expect(health.body.status).toBe('ok');
    const metrics = await h.api('GET', '/metrics');
    expect(metrics.text).toMatch(/classroom_hub_dead_letters_total\{reason="bad_json"\} 2/);
    expect(metrics.text).toMatch(/classroom_hub_records_duplicate_total 6/);
  });

  it('splits acks of a sparse batch into messages of at most 256 ranges', async () => {
    const seqs = Array.from({ length: 400 }, (_, i) => 1001 + 2 * i);
    const messages: number[] = [];
    agent.on('message', (topic, payload) => {
      if (topic === 'classroom/v1/box-b/ack')
        messages.push((JSON.parse(payload.toString()) as { ranges: unknown[] }).ranges.length);
    });
    await agent.publishAsync('classroom/v1/box-b/records', batch(seqs), { qos: 1 });
    await waitFor('sparse batch acked', () => seqs.every((s) => acked.has(s)));
    expect(messages).toEqual([256, 144]);
  });

  it('keeps the last telemetry of an agent', async () => {
    const telemetry = {
      v: 1,
      session: 1,
      ts: Date.now(),
      cpuLoad: 0.42,
      memUsedBytes: 1,
      memTotalBytes: 2,
      diskFreeBytes: 3,
      diskTotalBytes: 4,
      temperatureC: 51.5,
      uptimeS: 9,
      clockOffsetMs: -3,
      outboxPending: 0,
    };
    await agent.publishAsync('classroom/v1/box-b/telemetry', JSON.stringify(telemetry), { qos: 0 });
    const view = await waitFor('telemetry', async () => {
      const r = await h.api<{ telemetry: { cpuLoad: number } | null }>('GET', '/api/agents/box-b');
      return r.body.telemetry?.cpuLoad === 0.42 ? r.body : null;
    });
    expect(view.telemetry).toMatchObject({ temperatureC: 51.5, clockOffsetMs: -3 });
  });

  it('drops a connection whose packet announces more than the size limit, before buffering it', async () => {
    const creds2 = (
      await h.api<{ password: string }>('POST', '/api/agents', { agent: 'box-huge', room: 'R9' })
    ).body;
    const c = await connectAgent(h.mqttUrl, 'box-huge', creds2.password);
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    const stream = (c as unknown as { stream: import('node:net').Socket }).stream;
    // PUBLISH (QoS 0) announcing a Remaining Length of 268,435,455 bytes, then a little of it.
    stream.write(Buffer.concat([Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]), Buffer.alloc(1024)]));
    await closed;
    c.end(true);
    const metrics = await h.api('GET', '/metrics');
    expect(metrics.text).toMatch(/classroom_hub_mqtt_oversized_packets_total 1/);
    expect(agent.connected).toBe(true);
  });

  it('tracks availability from state messages and ignores a stale will', async () => {
    const pub = (state: string, session: number) =>
      agent.publishAsync(
        'classroom/v1/box-b/state',
        JSON.stringify({ v: 1, state, session, ts: Date.now() }),
        { qos: 1, retain: true },
      );
    await pub('online', 3);
    await waitFor(
      'online',
      async () =>
        (await h.api<{ availability: string }>('GET', '/api/agents/box-b')).body.availability === 'online',
    );
    await pub('lost', 2); // the will of an older session
    await pub('sleeping', 3);
    const a = await waitFor('sleeping', async () => {
      const r = await h.api<{ availability: string; session: number }>('GET', '/api/agents/box-b');
      return r.body.availability === 'sleeping' ? r.body : null;
    });
    expect(a.session).toBe(3);
  });
});
