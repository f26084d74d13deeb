// With `--broker` (Debian mosquitto 2), the identity rules that a broker must enforce come from the
// mosquitto configuration docs/hub.md gives ("External broker": use_username_as_clientid, max_qos 1,
// password_file, acl_file), and the hub-level rules (provisioned room, unknown_source) still hold.
// Real mosquitto on a free port, real MQTT.js clients.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningHub, startHub } from '../src/app.js';
import { ackCollector, apiFor, batch, birth, capture, TOKEN, tempDir, waitFor } from './core-helpers.js';
import { metric } from './identity-helpers.js';

const run = promisify(execFile);
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

const PASSWORDS: Record<string, string> = {
  'classroom-hub': 'hub-secret-1',
  'box-a': 'box-a-secret',
  'box-b': 'box-b-secret',
};

/** The ACL of docs/hub.md "External broker". */
const ACL = `pattern write classroom/v1/%u/state
pattern write classroom/v1/%u/birth
pattern write classroom/v1/%u/telemetry
pattern write classroom/v1/%u/records
pattern write classroom/v1/%u/cmd/result
pattern read  classroom/v1/%u/ack
pattern read  classroom/v1/%u/cmd
pattern read  classroom/v1/%u/config
pattern read  classroom/v1/hub/state
user classroom-hub
topic readwrite classroom/v1/#
`;

async function startMosquitto(): Promise<{ url: string; proc: ChildProcess }> {
  const t = tempDir('hub-mosquitto-id-');
  cleanups.push(() => t.remove());
  const port = await freePort();
  const passwd = join(t.dir, 'passwd');
  let first = true;
  for (const [user, pw] of Object.entries(PASSWORDS)) {
    await run('mosquitto_passwd', [...(first ? ['-c'] : []), '-b', passwd, user, pw]);
    first = false;
  }
  writeFileSync(join(t.dir, 'acl'), ACL);
  // Started as root, mosquitto drops to its own user, which must still read its files.
  chmodSync(t.dir, 0o755);
  for (const f of ['passwd', 'acl']) chmodSync(join(t.dir, f), 0o644);
  const conf = join(t.dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      'per_listener_settings false',
      'allow_anonymous false',
      `password_file ${passwd}`,
      `acl_file ${join(t.dir, 'acl')}`,
      'persistent_client_expiration 2h',
      'max_queued_messages 1000',
      'persistence false',
      // Listener options follow their `listener` line; placed before it they create a default listener on 1883.
      `listener ${port} 127.0.0.1`,
      // A box is only itself: the client id is replaced by the username, so nobody can take another's id.
      'use_username_as_clientid true',
      // Agents publish at QoS 0/1 only: a QoS 2 publish disconnects the client.
      'max_qos 1',
      '',
    ].join('\n'),
  );
  const proc = spawn('/usr/sbin/mosquitto', ['-c', conf], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let err = '';
  proc.stderr?.on('data', (b: Buffer) => {
    err += b.toString();
  });
  cleanups.push(() => {
    if (proc.exitCode === null && proc.pid) process.kill(-proc.pid, 'SIGKILL');
  });
  const url = `mqtt://127.0.0.1:${port}`;
  await waitFor(`mosquitto on ${port}`, async () => {
    if (proc.exitCode !== null) throw new Error(`mosquitto exited: ${err}`);
    const c = mqtt.connect(url, {
      reconnectPeriod: 0,
      connectTimeout: 2000,
      username: 'box-b',
      password: PASSWORDS['box-b'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        c.once('connect', () => resolve());
        c.once('error', reject);
      });
      return true;
    } catch {
      return false;
    } finally {
      c.end(true);
    }
  });
  return { url, proc };
}

function connect(url: string, username: string, clientId: string): Promise<MqttClient> {
  const c = mqtt.connect(url, {
    username,
    password: PASSWORDS[username],
    clientId,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
  });
  cleanups.push(() => void c.end(true));
  return new Promise((resolve, reject) => {
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

let url: string;
let hub: RunningHub;

beforeAll(async () => {
  ({ url } = await startMosquitto());
  const t = tempDir();
  hub = await startHub({
    dataDir: t.dir,
    httpPort: 0,
    mqttPort: 0,
    adminToken: TOKEN,
    broker: `mqtt://classroom-hub:${PASSWORDS['classroom-hub']}@${url.slice('mqtt://'.length)}`,
    logLevel: process.env.TEST_LOG ?? 'silent',
  });
  cleanups.push(async () => {
    await hub.stop();
    t.remove();
  });
  const api = apiFor(hub.httpPort, TOKEN);
  for (const [agent, room] of [
    ['box-a', 'room-a'],
    ['box-b', 'room-b'],
  ]) {
    expect((await api('POST', '/api/agents', { agent, room })).status).toBe(201);
  }
});

describe('external mosquitto configured as docs/hub.md says', () => {
  it('a box cannot take another box’s client id: mosquitto uses the username instead', async () => {
    const b = await connect(url, 'box-b', 'box-b');
    let bClosed = false;
    b.on('close', () => {
      bClosed = true;
    });
    const a = await connect(url, 'box-a', 'box-b');
    // A's session is its own: it may publish its birth, and B's connection still carries B's traffic.
    await a.publishAsync(
      'classroom/v1/box-a/state',
      JSON.stringify({ v: 1, state: 'online', session: 1, ts: Date.now() }),
      {
        qos: 1,
      },
    );
    await b.publishAsync(
      'classroom/v1/box-b/state',
      JSON.stringify({ v: 1, state: 'online', session: 1, ts: Date.now() }),
      {
        qos: 1,
      },
    );
    expect(bClosed).toBe(false);
    a.end(true);
  });

  it('a QoS 2 publish disconnects the box (max_qos 1)', async () => {
    const a = await connect(url, 'box-a', 'box-a');
    const closed = new Promise<void>((resolve) => a.once('close', () => resolve()));
    a.publish('classroom/v1/box-a/records', batch([1]), { qos: 2 });
    await closed;
  });

  it('the hub files records under the provisioned room and dead-letters unknown sources', async () => {
    const a = await connect(url, 'box-a', 'box-a');
    const acked = await ackCollector(a, 'box-a');
    await a.publishAsync('classroom/v1/box-a/birth', JSON.stringify(birth('box-a', 'room-b')), { qos: 1 });
    const body = JSON.stringify({
      v: 1,
      session: 1,
      records: [capture(10), { ...capture(11), source: 'ghost' }],
    });
    await a.publishAsync('classroom/v1/box-a/records', body, { qos: 1 });
    await waitFor('acked', () => acked.has(10) && acked.has(11));
    const api = apiFor(hub.httpPort, TOKEN);
    const rec = await api<{ records: Array<{ room: string; record: { seq: number } }> }>(
      'GET',
      '/api/records?agent=box-a',
    );
    expect(rec.body.records.map((r) => [r.record.seq, r.room])).toEqual([[10, 'room-a']]);
    expect((await api<{ room: { id: string } }>('GET', '/api/agents/box-a')).body.room.id).toBe('room-a');
    expect(await metric(api, 'classroom_hub_dead_letters_total', 'reason="unknown_source"')).toBe(1);
    expect(await metric(api, 'classroom_hub_agent_room_mismatch_total')).toBe(1);
  });
});
