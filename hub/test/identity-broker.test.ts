// "A box is only itself" and the broker's abuse limits against the real hub (embedded aedes on a free
// port) with real MQTT.js clients and raw MQTT sockets bound to 127.0.0.2, 127.0.0.3 … as different
// source addresses (SECURITY.md, "Security tests").
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Api,
  ackCollector,
  batch,
  birth,
  capture,
  type InProcessHub,
  inProcessHub,
  waitFor,
} from './core-helpers.js';
import { captureLog, connected, connectFrom, connectPacket, metric, rawSocket } from './identity-helpers.js';

const run = promisify(execFile);
const BIN = new URL('../bin/classroom-hub.js', import.meta.url).pathname;

let h: InProcessHub;
let api: Api;
let port: number;
const logs = captureLog();
const passwords = new Map<string, string>();
const clients: MqttClient[] = [];

async function provision(agent: string, room: string): Promise<string> {
  const r = await api<{ password: string }>('POST', '/api/agents', { agent, room });
  expect(r.status).toBe(201);
  passwords.set(agent, r.body.password);
  return r.body.password;
}

function track(c: MqttClient): MqttClient {
  clients.push(c);
  return c;
}

beforeAll(async () => {
  h = await inProcessHub({
    log: logs.log,
    roomPollMs: 200,
    limits: {
      admission: { maxUnauthenticatedPerAddress: 4, connectTimeoutMs: 30_000 },
      // A long first block, so that "still blocked" never depends on how fast a loaded machine runs.
      throttle: { userFreeFailures: 3, addressFreeFailures: 8, baseDelayMs: 60_000, maxDelayMs: 300_000 },
      sessions: { expiryMs: 1500, sweepEveryMs: 200, maxQueued: 1000 },
    },
  });
  api = h.api;
  port = h.hub.mqttPort;
  for (const [a, r] of [
    ['box-a', 'room-a'],
    ['box-b', 'room-b'],
    ['box-q', 'room-q'],
    ['box-t', 'room-t'],
    ['box-m', 'room-m1'],
    ['box-c', 'room-c'],
  ] as const) {
    await provision(a, r);
  }
  const p = await api<{ password: string }>('POST', '/api/accounts', { account: 'tsp', role: 'platform' });
  passwords.set('tsp', p.body.password);
});

afterAll(async () => {
  for (const c of clients) c.end(true);
  await h?.stop();
});

describe('a box is only itself', () => {
  it('refuses an agent whose client id is another box’s id, and the other box stays connected', async () => {
    const b = track(
      await connected(port, '127.0.0.1', {
        clientId: 'box-b',
        username: 'box-b',
        password: passwords.get('box-b'),
      }),
    );
    let bClosed = false;
    b.on('close', () => {
      bClosed = true;
    });
    for (let i = 0; i < 3; i++) {
      const o = await connectFrom(port, '127.0.0.1', {
        clientId: 'box-b',
        username: 'box-a',
        password: passwords.get('box-a'),
      });
      expect(o.ok).toBe(false);
      if (!o.ok) expect(o.code).toBe(2);
    }
    expect(await metric(api, 'classroom_hub_auth_refused_total', 'reason="client_id_mismatch"')).toBe(3);
    // B's session is intact: a batch it sends now is stored and acked.
    const acked = await ackCollector(b, 'box-b');
    await b.publishAsync('classroom/v1/box-b/birth', JSON.stringify(birth('box-b', 'room-b')), { qos: 1 });
    await b.publishAsync('classroom/v1/box-b/records', batch([1, 2]), { qos: 1 });
    await waitFor('box-b acked', () => acked.has(2));
    expect(bClosed).toBe(false);
    expect((await api<{ availability: string }>('GET', '/api/agents/box-b')).body.availability).toBe(
      'online',
    );
    expect(logs.lines.some((l) => l.includes('identifier rejected') && l.includes('box-a'))).toBe(true);
  });

  it('applies the same rule over MQTT over WebSocket (/mqtt)', async () => {
    const c = mqtt.connect(`ws://127.0.0.1:${h.hub.httpPort}/mqtt`, {
      clientId: 'box-b',
      username: 'box-a',
      password: passwords.get('box-a'),
      reconnectPeriod: 0,
    });
    const err = await new Promise<Error>((resolve) => c.once('error', resolve));
    c.end(true);
    expect((err as { code?: number }).code).toBe(2);
    const ok = track(
      await mqtt.connectAsync(`ws://127.0.0.1:${h.hub.httpPort}/mqtt`, {
        clientId: 'box-q',
        username: 'box-q',
        password: passwords.get('box-q'),
        reconnectPeriod: 0,
      }),
    );
    await ok.endAsync();
  });

  it('lets a platform account use its name or <name>-…, nothing else', async () => {
    const pw = passwords.get('tsp');
    track(await connected(port, '127.0.0.1', { clientId: 'tsp-worker-1', username: 'tsp', password: pw }));
    const bad = await connectFrom(port, '127.0.0.1', { clientId: 'box-a', username: 'tsp', password: pw });
    expect(bad.ok ? 0 : bad.code).toBe(2);
  });

  it('files a birth naming another room under the provisioned room, counts it and raises agent.room_mismatch', async () => {
    const m = track(
      await connected(port, '127.0.0.1', {
        clientId: 'box-m',
        username: 'box-m',
        password: passwords.get('box-m'),
      }),
    );
    const acked = await ackCollector(m, 'box-m');
    await m.publishAsync('classroom/v1/box-m/birth', JSON.stringify(birth('box-m', 'room-x')), { qos: 1 });
    await m.publishAsync('classroom/v1/box-m/records', batch([1]), { qos: 1 });
    await waitFor('box-m acked', () => acked.has(1));
    const agent = await api<{ room: { id: string }; birth: { room: { id: string } } }>(
      'GET',
      '/api/agents/box-m',
    );
    expect(agent.body.room.id).toBe('room-m1');
    expect((await api('GET', '/api/rooms/room-x')).status).toBe(404);
    const room = await api<{ agents: Array<{ agent: string }> }>('GET', '/api/rooms/room-m1');
    expect(room.body.agents.map((a) => a.agent)).toEqual(['box-m']);
    const stored = await api<{ records: Array<{ room: string }> }>('GET', '/api/records?agent=box-m');
    expect(stored.body.records.map((r) => r.room)).toEqual(['room-m1']);
    expect(await metric(api, 'classroom_hub_agent_room_mismatch_total')).toBe(1);
    const alarm = await waitFor('room mismatch alarm', async () => {
      const r = await api<{ alarms: Array<{ type: string; room: string; detail: Record<string, unknown> }> }>(
        'GET',
        '/api/alarms?state=active&agent=box-m',
      );
      return r.body.alarms.find((a) => a.type === 'agent.room_mismatch');
    });
    expect(alarm.room).toBe('room-m1');
    expect(alarm.detail).toMatchObject({ provisionedRoom: 'room-m1', birthRoom: 'room-x' });
  });

  it('moves a box over the API and with the CLI while the hub runs', async () => {
    // The platform's view of the old room: its retained summary goes once the box has left.
    const platform = track(
      await connected(port, '127.0.0.1', {
        clientId: 'tsp-move',
        username: 'tsp',
        password: passwords.get('tsp'),
      }),
    );
    const oldRoom: Buffer[] = [];
    platform.on('message', (topic, payload) => {
      if (topic === 'classroom/v1/rooms/room-m1/summary') oldRoom.push(payload);
    });
    await platform.subscribeAsync('classroom/v1/rooms/room-m1/summary', { qos: 1 });
    await waitFor('retained summary of room-m1', () => oldRoom.some((p) => p.length > 0));
    const moved = await api<{ agent: string; room: string; previousRoom: string }>(
      'POST',
      '/api/agents/box-m/move',
      {
        room: 'room-x',
      },
    );
    expect(moved.status).toBe(200);
    expect(moved.body).toEqual({ agent: 'box-m', room: 'room-x', previousRoom: 'room-m1' });
    expect((await api<{ room: { id: string } }>('GET', '/api/agents/box-m')).body.room.id).toBe('room-x');
    // The birth names room-x, now the provisioned room: the mismatch alarm clears.
    await waitFor('mismatch cleared', async () => {
      const r = await api<{ alarms: Array<{ type: string }> }>(
        'GET',
        '/api/alarms?state=cleared&agent=box-m',
      );
      return r.body.alarms.some((a) => a.type === 'agent.room_mismatch');
    });
    await waitFor('summary of the vacated room cleared', () => oldRoom.at(-1)?.length === 0);
    const m = clients.find((c) => c.options.clientId === 'box-m') as MqttClient;
    const acked = await ackCollector(m, 'box-m');
    await m.publishAsync('classroom/v1/box-m/records', batch([2]), { qos: 1 });
    await waitFor('box-m acked 2', () => acked.has(2));
    const inX = await api<{ records: Array<{ record: { seq: number } }> }>('GET', '/api/records?room=room-x');
    expect(inX.body.records.map((r) => r.record.seq)).toEqual([2]);

    const { stdout } = await run(process.execPath, [
      BIN,
      'agents',
      'move',
      '--agent',
      'box-m',
      '--room',
      'room-m2',
      '--data-dir',
      h.dir,
    ]);
    expect(JSON.parse(stdout)).toEqual({ agent: 'box-m', room: 'room-m2', previousRoom: 'room-x' });
    await waitFor('CLI move seen by the running hub', async () => {
      const r = await api<{ room: { id: string } }>('GET', '/api/agents/box-m');
      return r.body.room.id === 'room-m2';
    });
    await waitFor('mismatch raised again', async () => {
      const r = await api<{ alarms: Array<{ type: string; room: string }> }>(
        'GET',
        '/api/alarms?state=active&agent=box-m',
      );
      return r.body.alarms.some((a) => a.type === 'agent.room_mismatch' && a.room === 'room-m2');
    });

    expect((await api('POST', '/api/agents/nobody/move', { room: 'room-x' })).status).toBe(404);
    expect((await api('POST', '/api/agents/box-m/move', { room: 'bad room!' })).status).toBe(400);
    const unknown = await run(process.execPath, [
      BIN,
      'agents',
      'move',
      '--agent',
      'nobody',
      '--room',
      'r',
      '--data-dir',
      h.dir,
    ]).catch((e: { code: number; stderr: string }) => e);
    expect(unknown).toMatchObject({ code: 3 });
    const doc = await api<{ paths: Record<string, unknown> }>('GET', '/api/openapi.json');
    expect(Object.keys(doc.body.paths)).toContain('/api/agents/{id}/move');
  });

  it('dead-letters a record whose source is not in the birth, keeps and acks the rest', async () => {
    const a = track(
      await connected(port, '127.0.0.1', {
        clientId: 'box-a',
        username: 'box-a',
        password: passwords.get('box-a'),
      }),
    );
    const acked = await ackCollector(a, 'box-a');
    await a.publishAsync('classroom/v1/box-a/birth', JSON.stringify(birth('box-a', 'room-a')), { qos: 1 });
    const ghost = { ...capture(2), source: 'ghost' };
    const event = {
      seq: 3,
      kind: 'event',
      source: 'ghost2',
      ts: Date.now(),
      type: 'source.down',
      detail: {},
    };
    const body = JSON.stringify({
      v: 1,
      session: 1,
      records: [capture(1), ghost, event, { ...capture(4), source: 'mic' }],
    });
    await a.publishAsync('classroom/v1/box-a/records', body, { qos: 1 });
    await waitFor('all four acked', () => [1, 2, 3, 4].every((s) => acked.has(s)));
    const stored = await api<{ records: Array<{ record: { seq: number } }> }>(
      'GET',
      '/api/records?agent=box-a',
    );
    expect(stored.body.records.map((r) => r.record.seq).sort()).toEqual([1, 4]);
    expect(await metric(api, 'classroom_hub_dead_letters_total', 'reason="unknown_source"')).toBe(2);
    const agent = await api<{ sources: Array<{ id: string }> }>('GET', '/api/agents/box-a');
    expect(agent.body.sources.map((s) => s.id)).toEqual(['cam', 'mic']);
    const alarms = await api<{ alarms: Array<{ source: string }> }>('GET', '/api/alarms?agent=box-a');
    expect(alarms.body.alarms.filter((x) => x.source === 'ghost2')).toEqual([]);
  });
});

describe('abuse limits', () => {
  it('closes the connection of a QoS 2 publish, stores nothing of it, and leaves other boxes alone', async () => {
    const q = track(
      await connected(port, '127.0.0.1', {
        clientId: 'box-q',
        username: 'box-q',
        password: passwords.get('box-q'),
      }),
    );
    const b = clients.find((c) => c.options.clientId === 'box-b') as MqttClient;
    const closed = new Promise<void>((resolve) => q.once('close', () => resolve()));
    q.publish('classroom/v1/box-q/records', batch([1]), { qos: 2 });
    await closed;
    expect(await metric(api, 'classroom_hub_mqtt_connections_closed_total', 'reason="qos2"')).toBe(1);
    expect((await api<{ records: unknown[] }>('GET', '/api/records?agent=box-q')).body.records).toEqual([]);
    const acked = await ackCollector(b, 'box-b');
    await b.publishAsync('classroom/v1/box-b/records', batch([3]), { qos: 1 });
    await waitFor('box-b still acked', () => acked.has(3));
  });

  it('cannot be made to hold memory by persistent sessions with fresh ids and QoS 2 ~1 MiB publishes without PUBREL', async () => {
    const payload = Buffer.alloc(1_000_000, 0x61);
    const attempts: Array<Promise<{ connack: number | undefined }>> = [];
    for (let i = 0; i < 40; i++) {
      attempts.push(
        (async () => {
          // One address each, so the unauthenticated-sockets cap is not what refuses them.
          const s = await rawSocket(port, `127.0.1.${i + 1}`);
          const [username, clientId] =
            i % 2 === 0 ? ['tsp', `tsp-${i}`] : ['box-c', i % 4 === 1 ? 'box-c' : `box-c-${i}`];
          s.send(
            connectPacket({ clientId, username, password: passwords.get(username) as string, clean: false }),
          );
          for (let m = 1; m <= 3; m++) {
            s.send({
              cmd: 'publish',
              topic: `classroom/v1/${username}/records`,
              qos: 2,
              messageId: m,
              payload,
              retain: false,
              dup: false,
            });
          }
          // Never PUBREL; wait for the broker to end it.
          await s.closed;
          const ack = s.packets.find((p) => p.cmd === 'connack') as { returnCode?: number } | undefined;
          return { connack: ack?.returnCode };
        })(),
      );
    }
    const results = await Promise.all(attempts);
    // Fresh ids are refused at CONNECT (2, identifier rejected); the one allowed id is closed at its first QoS 2 publish.
    expect(results.filter((r) => r.connack === 2)).toHaveLength(30);
    // The ten with the allowed id take each other's session over [MQTT-3.1.4-2]; one may go before its CONNACK.
    expect(results.filter((r) => r.connack === 0).length).toBeGreaterThanOrEqual(1);
    expect(results.every((r) => r.connack === 0 || r.connack === 2 || r.connack === undefined)).toBe(true);
    const persistence = (
      h.hub.ctx.mqtt as unknown as {
        aedes: { persistence: { incomingGetPacket(c: object, p: object): Promise<unknown> } };
      }
    ).aedes.persistence;
    for (const id of ['box-c', 'tsp-0', 'box-c-3']) {
      for (let m = 1; m <= 3; m++) {
        await expect(persistence.incomingGetPacket({ id }, { messageId: m })).rejects.toThrow();
      }
    }
    expect(await metric(api, 'classroom_hub_mqtt_persistent_sessions', 'state="connected"')).toBe(0);
    expect(
      await metric(api, 'classroom_hub_mqtt_persistent_sessions', 'state="offline"'),
    ).toBeLessThanOrEqual(1);
    expect(
      await metric(api, 'classroom_hub_mqtt_connections_closed_total', 'reason="qos2"'),
    ).toBeGreaterThanOrEqual(2);
    // And the one persistent session left behind expires.
    await waitFor(
      'attack session expired',
      async () => (await metric(api, 'classroom_hub_mqtt_persistent_sessions', 'state="offline"')) === 0,
    );
    expect(await metric(api, 'classroom_hub_mqtt_sessions_expired_total', 'reason="expired"')).toBe(1);
  });

  it('expires a persistent session and allows only one per account', async () => {
    const pw = passwords.get('tsp');
    const expiredBefore = await metric(api, 'classroom_hub_mqtt_sessions_expired_total', 'reason="expired"');
    const second = await connectFrom(port, '127.0.0.1', {
      clientId: 'tsp-2',
      username: 'tsp',
      password: pw,
      clean: false,
    });
    expect(second.ok ? 0 : second.code).toBe(2);
    expect(
      await metric(api, 'classroom_hub_auth_refused_total', 'reason="persistent_session"'),
    ).toBeGreaterThanOrEqual(1);
    const first = await connected(port, '127.0.0.1', {
      clientId: 'tsp',
      username: 'tsp',
      password: pw,
      clean: false,
    });
    await first.subscribeAsync('classroom/v1/rooms/#', { qos: 1 });
    expect(await metric(api, 'classroom_hub_mqtt_persistent_sessions', 'state="connected"')).toBe(1);
    await first.endAsync();
    await waitFor(
      'session expired',
      async () =>
        (await metric(api, 'classroom_hub_mqtt_sessions_expired_total', 'reason="expired"')) ===
        expiredBefore + 1,
    );
    expect(await metric(api, 'classroom_hub_mqtt_persistent_sessions', 'state="offline"')).toBe(0);
    const again = await connectFrom(port, '127.0.0.1', {
      clientId: 'tsp',
      username: 'tsp',
      password: pw,
      clean: false,
    });
    expect(again.ok && again.sessionPresent).toBe(false);
    if (again.ok) track(again.client);
  });

  it('refuses a client id over 64 characters without logging it; a 64-character agent id connects', async () => {
    // The longest string MQTT can carry (a 2-byte length [MQTT-1.5.3]).
    const huge = 'y'.repeat(65_535);
    const o = await connectFrom(port, '127.0.0.1', {
      clientId: huge,
      username: 'box-a',
      password: passwords.get('box-a'),
    });
    expect(o.ok ? 0 : o.code).toBe(2);
    const o65 = await connectFrom(port, '127.0.0.1', {
      clientId: `z${'y'.repeat(64)}`,
      username: 'nobody',
      password: 'x',
    });
    expect(o65.ok ? 0 : o65.code).toBe(2);
    // MQTT 3.1 (protocol level 3) is refused by aedes' own length check, and counted the same.
    const v31 = await connectFrom(port, '127.0.0.1', {
      clientId: `v${'y'.repeat(64)}`,
      username: 'box-a',
      password: passwords.get('box-a'),
      protocolId: 'MQIsdp',
      protocolVersion: 3,
    });
    expect(v31.ok ? 0 : v31.code).toBe(2);
    await waitFor(
      'three refusals counted',
      async () =>
        (await metric(api, 'classroom_hub_auth_refused_total', 'reason="client_id_too_long"')) === 3,
    );
    const long = `a${'b'.repeat(63)}`;
    await provision(long, 'room-long');
    track(
      await connected(port, '127.0.0.1', { clientId: long, username: long, password: passwords.get(long) }),
    );
    // Also the usernames and topics of refusals are cut.
    await connectFrom(port, '127.0.0.1', { clientId: 'w', username: 'u'.repeat(60_000), password: 'x' });
    await waitFor('refusals logged', () => logs.lines.some((l) => l.includes('client id too long')));
    expect(logs.lines.filter((l) => l.includes('y'.repeat(100)))).toEqual([]);
    expect(logs.lines.filter((l) => l.includes('u'.repeat(100)))).toEqual([]);
    expect(Math.max(...logs.lines.map((l) => l.length))).toBeLessThan(4000);
  });

  it('caps unauthenticated sockets per source address, and only that address', async () => {
    const before = await metric(api, 'classroom_hub_mqtt_unauthenticated_refused_total');
    const silent = await Promise.all(Array.from({ length: 4 }, () => rawSocket(port, '127.0.0.5')));
    await waitFor(
      '4 unauthenticated',
      async () => (await metric(api, 'classroom_hub_mqtt_unauthenticated_sockets')) >= 4,
    );
    const fifth = await rawSocket(port, '127.0.0.5');
    await fifth.closed;
    expect(fifth.packets).toEqual([]);
    expect(await metric(api, 'classroom_hub_mqtt_unauthenticated_refused_total')).toBe(before + 1);
    const elsewhere = await connected(port, '127.0.0.6', {
      clientId: 'box-t',
      username: 'box-t',
      password: passwords.get('box-t'),
    });
    await elsewhere.endAsync();
    for (const s of silent) s.socket.destroy();
    await waitFor(
      'slots released',
      async () => (await metric(api, 'classroom_hub_mqtt_unauthenticated_sockets')) === 0,
    );
    const back = await connected(port, '127.0.0.5', {
      clientId: 'box-t',
      username: 'box-t',
      password: passwords.get('box-t'),
    });
    await back.endAsync();
  });

  it('throttles failed logins per address and (address, username); the box at its own address still logs in', async () => {
    const attacker = '127.0.0.3';
    const box = '127.0.0.2';
    const right = passwords.get('box-t');
    const codes: Array<number | undefined> = [];
    for (let i = 0; i < 4; i++) {
      const o = await connectFrom(port, attacker, {
        clientId: 'box-t',
        username: 'box-t',
        password: `wrong-${i}`,
      });
      codes.push(o.ok ? 0 : o.code);
    }
    expect(codes).toEqual([4, 4, 4, 4]);
    // The fourth failure started a block: even the right password is not checked from this address.
    const blocked = await connectFrom(port, attacker, {
      clientId: 'box-t',
      username: 'box-t',
      password: right,
    });
    expect(blocked.ok ? 0 : blocked.code).toBe(3);
    expect(await metric(api, 'classroom_hub_auth_refused_total', 'reason="throttled"')).toBe(1);
    const own = await connected(port, box, { clientId: 'box-t', username: 'box-t', password: right });
    await own.endAsync();
    // Guessing other usernames from the same address blocks the address as a whole …
    for (let i = 0; i < 5; i++)
      await connectFrom(port, attacker, { clientId: `g${i}`, username: `guess-${i}`, password: 'x' });
    const any = await connectFrom(port, attacker, {
      clientId: 'box-a',
      username: 'box-a',
      password: passwords.get('box-a'),
    });
    expect(any.ok ? 0 : any.code).toBe(3);
    // … and still not the box at its own address.
    const again = await connected(port, box, { clientId: 'box-t', username: 'box-t', password: right });
    await again.endAsync();
    expect(logs.lines.some((l) => l.includes('too many failed logins') && l.includes(attacker))).toBe(true);
  });
});

describe('CONNECT deadline', () => {
  let h2: InProcessHub;
  beforeAll(async () => {
    h2 = await inProcessHub({ limits: { admission: { connectTimeoutMs: 1000 } } });
  });
  afterAll(async () => {
    await h2?.stop();
  });

  it('closes a socket that sends no CONNECT, and counts it', async () => {
    const s = await rawSocket(h2.hub.mqttPort, '127.0.0.4');
    await s.closed;
    expect(
      await metric(h2.api, 'classroom_hub_mqtt_connections_closed_total', 'reason="connect_timeout"'),
    ).toBe(1);
    const creds = await h2.api<{ password: string }>('POST', '/api/agents', {
      agent: 'box-d',
      room: 'room-d',
    });
    const c = await connected(h2.hub.mqttPort, '127.0.0.4', {
      clientId: 'box-d',
      username: 'box-d',
      password: creds.body.password,
    });
    await c.endAsync();
  });
});
