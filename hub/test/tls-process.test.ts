// TLS on every listener of the real bin (docs/hub.md "TLS"): MQTTS, HTTPS, WSS /mqtt and WSS /api/stream
// with a CA and certificates made at test time, checked with independent clients (openssl s_client,
// Debian's mosquitto_pub/mosquitto_sub, curl) and MQTT.js / ws. Needs the built workspace (`npx tsc -b`).
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { batch, birth, range, TOKEN, tempDir, waitFor } from './core-helpers.js';
import { BIN, type Issued, run, sClient, spawnTlsHub, TestCa, type TlsHub } from './tls-helpers.js';

async function provision(dataDir: string, agent: string, room: string): Promise<string> {
  const { stdout } = await run(process.execPath, [
    BIN,
    'agents',
    'add',
    '--agent',
    agent,
    '--room',
    room,
    '--data-dir',
    dataDir,
  ]);
  return (JSON.parse(stdout) as { password: string }).password;
}

/** An agent's MQTT.js connection; the client id is the agent id, as the agent itself connects. */
async function connectTls(url: string, agent: string, password: string, ca: string): Promise<MqttClient> {
  const client = mqtt.connect(url, {
    username: agent,
    password,
    clientId: agent,
    ca: readFileSync(ca),
    reconnectPeriod: 0,
    connectTimeout: 15_000,
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
  return client;
}

/** Publishes records `seqs` and resolves once the hub's ack covers all of them (stored, DESIGN.md ack). */
async function sendAndAck(client: MqttClient, agent: string, seqs: number[]): Promise<void> {
  const acked = new Set<number>();
  const onMessage = (topic: string, payload: Buffer) => {
    if (topic !== `classroom/v1/${agent}/ack`) return;
    const m = JSON.parse(payload.toString()) as { ranges: Array<[number, number]> };
    for (const [a, b] of m.ranges) for (let s = a; s <= b; s++) acked.add(s);
  };
  client.on('message', onMessage);
  await client.subscribeAsync(`classroom/v1/${agent}/ack`, { qos: 1 });
  await client.publishAsync(`classroom/v1/${agent}/records`, batch(seqs), { qos: 1 });
  await waitFor(`ack of ${seqs.length} records for ${agent}`, () => seqs.every((s) => acked.has(s)), 30_000);
  client.off('message', onMessage);
}

function openStream(httpPort: number, ca: string): Promise<{ ws: WebSocket; messages: unknown[] }> {
  const ws = new WebSocket(`wss://127.0.0.1:${httpPort}/api/stream`, {
    ca: readFileSync(ca),
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  const messages: unknown[] = [];
  ws.on('message', (d) => messages.push(JSON.parse(d.toString())));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, messages }));
    ws.once('error', reject);
  });
}

async function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run('curl', ['-sS', '--max-time', '20', ...args]);
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

function metric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name)) sum += Number(line.split(' ').pop());
  return sum;
}

const HANDSHAKE_CAP = 32;

describe('classroom-hub serve --tls-cert/--tls-key (real process)', () => {
  const t = tempDir('hub-tls-');
  const pki = join(t.dir, 'pki');
  const data = join(t.dir, 'data');
  let ca: TestCa;
  let other: TestCa;
  let server: Issued;
  let hub: TlsHub;
  const passwords: Record<string, string> = {};

  beforeAll(async () => {
    await run('mkdir', ['-p', pki, data]);
    ca = await TestCa.create(pki, 'campus');
    other = await TestCa.create(pki, 'stranger');
    server = await ca.issue('hub', 'IP:127.0.0.1,DNS:localhost');
    for (const [agent, room] of [
      ['box-tls', 'T101'],
      ['box-wss', 'T102'],
      ['box-mosq', 'T103'],
    ] as const)
      passwords[agent] = await provision(data, agent, room);
    // The per-address cap on sockets still in their handshake is the broker's unauthenticated cap
    // (docs/hub-identity.md); a small one keeps the cap test to a few sockets.
    hub = await spawnTlsHub(data, ['--tls-cert', server.cert, '--tls-key', server.key, '--mqtts-port', '0'], {
      CLASSROOM_HUB_MQTT_MAX_UNAUTHENTICATED: String(HANDSHAKE_CAP),
    });
  });

  afterAll(async () => {
    await hub?.kill9();
    t.remove();
  });

  it('announces mqttsPort and "tls":true, and runs no plain MQTT listener by default', () => {
    expect(hub.listening.tls).toBe(true);
    expect(hub.listening.mqttsPort).toBeGreaterThan(0);
    expect(hub.listening.mqttPort).toBeNull();
    expect(hub.listening.certificate?.serial).toBe(server.serial);
    expect(hub.output()).not.toMatch(/mqtt:\/\/127\.0\.0\.1/);
    // The test certificate is valid for a day: the hub warns that it must be renewed soon.
    expect(hub.output()).toMatch(/"event":"hub\.tls_certificate_expiring","daysLeft":0/);
  });

  it('openssl s_client verifies the MQTTS and HTTPS listeners against the CA, and refuses another CA', async () => {
    const mqtts = await sClient(hub.listening.mqttsPort ?? 0, ca.cert);
    expect(mqtts.verify, mqtts.output).toBe('0 (ok)');
    expect(mqtts.serial).toBe(server.serial);
    const https = await sClient(hub.listening.httpPort, ca.cert);
    expect(https.verify, https.output).toBe('0 (ok)');
    expect(https.serial).toBe(server.serial);
    const stranger = await sClient(hub.listening.mqttsPort ?? 0, other.cert);
    expect(stranger.verify).not.toBe('0 (ok)');
    expect(stranger.verify).toMatch(/unable to (get local issuer|verify)/);
  });

  it('Debian mosquitto_pub/mosquitto_sub --cafile talk MQTT over TLS; a wrong CA is refused', async () => {
    const port = String(hub.listening.mqttsPort);
    const pw = passwords['box-mosq'] ?? '';
    const common = ['-h', '127.0.0.1', '-p', port, '--cafile', ca.cert, '-u', 'box-mosq', '-P', pw];
    const sub = await run('mosquitto_sub', [
      ...common,
      '-i',
      'box-mosq',
      '-t',
      'classroom/v1/hub/state',
      '-C',
      '1',
      '-W',
      '20',
    ]);
    expect(JSON.parse(sub.stdout)).toMatchObject({ online: true });
    await run('mosquitto_pub', [
      ...common,
      '-i',
      'box-mosq',
      '-q',
      '1',
      '-t',
      'classroom/v1/box-mosq/birth',
      '-m',
      JSON.stringify(birth('box-mosq', 'T103')),
    ]);
    const view = await waitFor('the birth sent over MQTTS is applied', async () => {
      const r = await curl([
        '--cacert',
        ca.cert,
        '-H',
        `Authorization: Bearer ${TOKEN}`,
        `https://127.0.0.1:${hub.listening.httpPort}/api/agents/box-mosq`,
      ]);
      const a = JSON.parse(r.stdout) as { birth: { agentVersion: string } | null };
      return a.birth ? a : null;
    });
    expect(view.birth?.agentVersion).toBe('test');

    const refused = await run('mosquitto_pub', [
      ...common.map((a) => (a === ca.cert ? other.cert : a)),
      '-i',
      'box-mosq',
      '-t',
      'classroom/v1/box-mosq/state',
      '-m',
      '{}',
    ]).then(
      () => null,
      (err: { code?: number; stderr?: string }) => err,
    );
    expect(refused?.code).not.toBe(0);
    expect(refused?.stderr ?? '').toMatch(/certificate verify failed|protocol error|TLS/i);
  });

  it('MQTT.js over mqtts:// and over wss:///mqtt: records are stored and acked; /api/stream runs on WSS', async () => {
    const stream = await openStream(hub.listening.httpPort, ca.cert);
    try {
      await waitFor('stream hello over WSS', () =>
        stream.messages.some((m) => (m as { type: string }).type === 'hello'),
      );
      const tcp = await connectTls(
        `mqtts://127.0.0.1:${hub.listening.mqttsPort}`,
        'box-tls',
        passwords['box-tls'] ?? '',
        ca.cert,
      );
      const ws = await connectTls(
        `wss://127.0.0.1:${hub.listening.httpPort}/mqtt`,
        'box-wss',
        passwords['box-wss'] ?? '',
        ca.cert,
      );
      try {
        await tcp.publishAsync('classroom/v1/box-tls/birth', JSON.stringify(birth('box-tls', 'T101')), {
          qos: 1,
        });
        await ws.publishAsync('classroom/v1/box-wss/birth', JSON.stringify(birth('box-wss', 'T102')), {
          qos: 1,
        });
        await sendAndAck(tcp, 'box-tls', range(1, 50));
        await sendAndAck(ws, 'box-wss', range(1, 50));
        await waitFor('births of both boxes on the WSS stream', () => {
          const agents = stream.messages
            .filter((m) => (m as { type: string }).type === 'birth')
            .map((m) => (m as { data: { agent: string } }).data.agent);
          return agents.includes('box-tls') && agents.includes('box-wss');
        });
      } finally {
        tcp.end(true);
        ws.end(true);
      }
      const records = await curl([
        '--cacert',
        ca.cert,
        '-H',
        `Authorization: Bearer ${TOKEN}`,
        `https://127.0.0.1:${hub.listening.httpPort}/api/records?agent=box-wss&limit=1000`,
      ]);
      expect((JSON.parse(records.stdout) as { records: unknown[] }).records).toHaveLength(50);
    } finally {
      stream.ws.close();
    }
  });

  it('curl --cacert gets HTTPS; without the CA curl refuses, and plain clients on TLS ports are counted', async () => {
    const base = `https://127.0.0.1:${hub.listening.httpPort}`;
    const health = await curl(['--cacert', ca.cert, `${base}/api/health`]);
    expect(health.code, health.stderr).toBe(0);
    expect(JSON.parse(health.stdout)).toMatchObject({ status: 'ok' });
    const untrusted = await curl([`${base}/api/health`]);
    expect(untrusted.code).toBe(60); // CURLE_PEER_FAILED_VERIFICATION
    const plainHttp = await curl([`http://127.0.0.1:${hub.listening.httpPort}/api/health`]);
    expect(plainHttp.code).not.toBe(0);

    // A plain MQTT client on the MQTTS port never gets a CONNACK.
    const plain = mqtt.connect(`mqtt://127.0.0.1:${hub.listening.mqttsPort}`, {
      username: 'box-tls',
      password: passwords['box-tls'] ?? '',
      clientId: 'box-tls',
      reconnectPeriod: 0,
      connectTimeout: 15_000,
    });
    const outcome = await new Promise<string>((resolve) => {
      plain.once('connect', () => resolve('connected'));
      plain.once('error', (e) => resolve(`error ${e.message}`));
      plain.once('close', () => resolve('closed'));
    });
    plain.end(true);
    expect(outcome).not.toBe('connected');

    const metrics = await curl(['--cacert', ca.cert, `${base}/metrics`]);
    expect(
      metric(metrics.stdout, 'classroom_hub_tls_handshake_failures_total{listener="mqtts"'),
    ).toBeGreaterThan(0);
    expect(
      metric(metrics.stdout, 'classroom_hub_tls_handshake_failures_total{listener="https"'),
    ).toBeGreaterThan(0);
    const expiry = metric(metrics.stdout, 'classroom_hub_tls_certificate_expiry_timestamp_seconds');
    const { stdout } = await run('openssl', ['x509', '-noout', '-enddate', '-in', server.cert]);
    expect(expiry).toBe(Date.parse(stdout.replace('notAfter=', '').trim()) / 1000);
  });
  it('caps TLS handshakes in progress per address; other addresses are unaffected', async () => {
    const port = hub.listening.mqttsPort ?? 0;
    const open = (localAddress: string) =>
      new Promise<Socket>((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port, localAddress }, () => resolve(s));
        s.once('error', reject);
      });
    // HANDSHAKE_CAP sockets from 127.0.0.5 that never send a ClientHello: the most one address may hold.
    const idle: Socket[] = [];
    try {
      for (let i = 0; i < HANDSHAKE_CAP; i++) idle.push(await open('127.0.0.5'));
      const closed = new Set<Socket>();
      for (const s of idle) {
        s.on('error', () => undefined);
        s.on('close', () => closed.add(s));
      }
      const extra = await open('127.0.0.5');
      extra.on('error', () => undefined);
      await new Promise<void>((resolve) =>
        extra.destroyed ? resolve() : extra.once('close', () => resolve()),
      );
      expect(closed.size).toBe(0);
      // 127.0.0.1 still completes a handshake while 127.0.0.5 is at its cap.
      const other = await sClient(port, ca.cert);
      expect(other.verify).toBe('0 (ok)');
    } finally {
      for (const s of idle) s.destroy();
    }
    const metrics = await curl(['--cacert', ca.cert, `https://127.0.0.1:${hub.listening.httpPort}/metrics`]);
    expect(
      metric(
        metrics.stdout,
        'classroom_hub_tls_handshake_failures_total{listener="mqtts",reason="too_many_pending"}',
      ),
    ).toBe(1);
    expect(hub.output()).toContain('too many handshakes in progress from this address');
    // Once they are gone the address completes handshakes again.
    await waitFor('a TLS handshake from 127.0.0.5 after the idle sockets closed', async () => {
      const ok = await new Promise<boolean>((resolve) => {
        const t = tlsConnect(
          { host: '127.0.0.1', port, localAddress: '127.0.0.5', ca: readFileSync(ca.cert) },
          () => {
            t.destroy();
            resolve(true);
          },
        );
        t.once('error', () => resolve(false));
        t.once('close', () => resolve(false));
      });
      return ok;
    });
    expect(hub.proc.exitCode).toBeNull();
  });
});
