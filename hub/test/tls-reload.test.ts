// The TLS lifecycle of the real bin (docs/hub.md "TLS"): SIGHUP swaps the certificate without dropping
// a connection, a bad pair on reload is refused while the old one keeps serving, a bad pair at start
// exits 2 with the reason, and the plain listener runs beside TLS only when asked for.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { batch, birth, range, TOKEN, tempDir, waitFor } from './core-helpers.js';
import { BIN, run, sClient, serveFails, spawnTlsHub, TestCa, type TlsHub } from './tls-helpers.js';

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

async function connect(url: string, agent: string, password: string, ca?: string): Promise<MqttClient> {
  const client = mqtt.connect(url, {
    username: agent,
    password,
    clientId: agent,
    ...(ca ? { ca: readFileSync(ca) } : {}),
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

async function roundTrip(client: MqttClient, agent: string, seqs: number[]): Promise<void> {
  const acked = new Set<number>();
  const onMessage = (topic: string, payload: Buffer) => {
    if (topic !== `classroom/v1/${agent}/ack`) return;
    const m = JSON.parse(payload.toString()) as { ranges: Array<[number, number]> };
    for (const [a, b] of m.ranges) for (let s = a; s <= b; s++) acked.add(s);
  };
  client.on('message', onMessage);
  await client.subscribeAsync(`classroom/v1/${agent}/ack`, { qos: 1 });
  await client.publishAsync(`classroom/v1/${agent}/records`, batch(seqs), { qos: 1 });
  await waitFor(`ack of records ${seqs[0]}…`, () => seqs.every((s) => acked.has(s)), 30_000);
  client.off('message', onMessage);
}

async function scrape(httpPort: number, ca: string, name: string): Promise<number> {
  const { stdout } = await run('curl', [
    '-sS',
    '--cacert',
    ca,
    '--max-time',
    '20',
    `https://127.0.0.1:${httpPort}/metrics`,
  ]);
  const line = stdout.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('SIGHUP reloads the certificate (real process)', () => {
  const t = tempDir('hub-tls-reload-');
  const pki = join(t.dir, 'pki');
  const data = join(t.dir, 'data');
  let ca: TestCa;
  let hub: TlsHub;
  let password: string;
  let firstSerial: string;

  beforeAll(async () => {
    mkdirSync(pki);
    mkdirSync(data);
    ca = await TestCa.create(pki, 'campus');
    firstSerial = (await ca.issue('hub', 'IP:127.0.0.1')).serial;
    password = await provision(data, 'box-r', 'R1');
    hub = await spawnTlsHub(data, [
      '--tls-cert',
      join(pki, 'hub.pem'),
      '--tls-key',
      join(pki, 'hub.key'),
      '--mqtts-port',
      '0',
    ]);
  });

  afterAll(async () => {
    await hub?.kill9();
    t.remove();
  });

  it('keeps open MQTTS and WSS connections and gives new ones the new certificate; refuses a bad pair', async () => {
    const mqttsPort = hub.listening.mqttsPort ?? 0;
    const httpPort = hub.listening.httpPort;
    expect((await sClient(mqttsPort, ca.cert)).serial).toBe(firstSerial);

    const box = await connect(`mqtts://127.0.0.1:${mqttsPort}`, 'box-r', password, ca.cert);
    let boxClosed = 0;
    box.on('close', () => {
      boxClosed++;
    });
    const stream = new WebSocket(`wss://127.0.0.1:${httpPort}/api/stream`, {
      ca: readFileSync(ca.cert),
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const streamed: Array<{ type: string }> = [];
    stream.on('message', (d) => streamed.push(JSON.parse(d.toString()) as { type: string }));
    let streamClosed = false;
    stream.on('close', () => {
      streamClosed = true;
    });
    await waitFor('stream hello', () => streamed.some((m) => m.type === 'hello'));
    try {
      await roundTrip(box, 'box-r', range(1, 20));

      // A renewal: new key and certificate renamed into the same paths, then SIGHUP.
      const renewed = await ca.issue('hub', 'IP:127.0.0.1');
      expect(renewed.serial).not.toBe(firstSerial);
      let mark = hub.output().length;
      hub.signal('SIGHUP');
      const reloaded = JSON.parse(await hub.waitLog('"event":"hub.tls_reloaded"', mark)) as {
        serial: string;
        previousSerial: string;
      };
      expect(reloaded).toMatchObject({ serial: renewed.serial, previousSerial: firstSerial });
      expect((await sClient(mqttsPort, ca.cert)).serial).toBe(renewed.serial);
      expect((await sClient(httpPort, ca.cert)).serial).toBe(renewed.serial);

      // The connections made before the reload are the same ones, and still carry traffic.
      await roundTrip(box, 'box-r', range(21, 40));
      expect(boxClosed).toBe(0);
      expect(box.connected).toBe(true);
      expect(streamClosed).toBe(false);
      await box.publishAsync('classroom/v1/box-r/birth', JSON.stringify(birth('box-r', 'R1')), { qos: 1 });
      await waitFor("the old connection's birth on the old stream", () =>
        streamed.some((m) => m.type === 'birth'),
      );

      // A key that is not the certificate's: refused, and the renewed pair keeps serving.
      const stranger = await ca.issue('stray', 'IP:127.0.0.1');
      copyFileSync(stranger.key, join(pki, 'hub.key'));
      mark = hub.output().length;
      hub.signal('SIGHUP');
      const failed = JSON.parse(await hub.waitLog('"event":"hub.tls_reload_failed"', mark)) as {
        error: string;
      };
      expect(failed.error).toMatch(/does not belong to the certificate/);
      expect((await sClient(mqttsPort, ca.cert)).serial).toBe(renewed.serial);
      const fresh = await connect(`mqtts://127.0.0.1:${mqttsPort}`, 'box-r2', 'x', ca.cert).catch(
        (e: Error) => e,
      );
      // The TLS handshake works (the refusal is MQTT's: unknown account), so the listener is healthy.
      expect(String(fresh)).toMatch(/Bad username or password|Not authorized/i);
      expect(boxClosed).toBe(0);
      expect(await scrape(httpPort, ca.cert, 'classroom_hub_tls_reloads_total{result="ok"}')).toBe(1);
      expect(await scrape(httpPort, ca.cert, 'classroom_hub_tls_reloads_total{result="failed"}')).toBe(1);
    } finally {
      box.end(true);
      stream.close();
    }
    // SIGHUP did not end the hub.
    expect(hub.proc.exitCode).toBeNull();
  });
});

describe('TLS configuration errors and the plain listener (real process)', () => {
  const t = tempDir('hub-tls-config-');
  const pki = join(t.dir, 'pki');
  let ca: TestCa;

  beforeAll(async () => {
    mkdirSync(pki);
    ca = await TestCa.create(pki, 'campus');
    await ca.issue('hub', 'IP:127.0.0.1');
    await ca.issue('other', 'IP:127.0.0.1');
    writeFileSync(join(pki, 'garbage.pem'), 'not a certificate\n');
  });

  afterAll(() => t.remove());

  it('exits 2 naming the file and the fault: missing, a directory, not PEM, mismatched, half a pair', async () => {
    const dataDir = ['--data-dir', join(t.dir, 'data')];
    const cert = join(pki, 'hub.pem');
    const key = join(pki, 'hub.key');
    const cases: Array<[string[], RegExp]> = [
      [['--tls-cert', join(pki, 'nope.pem'), '--tls-key', key], /--tls-cert .*nope\.pem: .*no such file/],
      [['--tls-cert', cert, '--tls-key', join(pki, 'nope.key')], /--tls-key .*nope\.key: .*no such file/],
      [['--tls-cert', pki, '--tls-key', key], /--tls-cert .*pki: cannot read .*is a directory/],
      [['--tls-cert', join(pki, 'garbage.pem'), '--tls-key', key], /garbage\.pem: not a PEM certificate/],
      [
        ['--tls-cert', cert, '--tls-key', join(pki, 'garbage.pem')],
        /--tls-key .*garbage\.pem: not a PEM private key/,
      ],
      [
        ['--tls-cert', cert, '--tls-key', join(pki, 'other.key')],
        /other\.key does not belong to the certificate/,
      ],
      [['--tls-cert', cert], /--tls-cert needs --tls-key/],
      [['--mqtts-port', '8883'], /--mqtts-port needs --tls-cert and --tls-key/],
    ];
    // Three bins at a time: each exits as soon as it has read its flags, but a Node start is seconds
    // on a loaded machine.
    for (let i = 0; i < cases.length; i += 3) {
      const batch = cases.slice(i, i + 3);
      const results = await Promise.all(batch.map(([args]) => serveFails([...dataDir, ...args])));
      batch.forEach(([args, message], j) => {
        expect(results[j]?.stderr, args.join(' ')).toMatch(message);
        expect(results[j]?.code, args.join(' ')).toBe(2);
      });
    }
    // The environment variables are the same options.
    const env = await serveFails(dataDir, {
      CLASSROOM_HUB_TLS_CERT: cert,
      CLASSROOM_HUB_TLS_KEY: join(pki, 'other.key'),
    });
    expect(env.stderr).toMatch(/does not belong to the certificate/);
    expect(env.code).toBe(2);
  }, 240_000);

  it('runs the plain MQTT listener beside TLS when CLASSROOM_HUB_MQTT_PORT is set, on --mqtt-host', async () => {
    const data = join(t.dir, 'data-plain');
    mkdirSync(data);
    const password = await provision(data, 'box-p', 'P1');
    const hub = await spawnTlsHub(data, ['--mqtt-host', '127.0.0.1'], {
      CLASSROOM_HUB_TLS_CERT: join(pki, 'hub.pem'),
      CLASSROOM_HUB_TLS_KEY: join(pki, 'hub.key'),
      CLASSROOM_HUB_MQTTS_PORT: '0',
      CLASSROOM_HUB_MQTT_PORT: '0',
    });
    try {
      expect(hub.listening.tls).toBe(true);
      expect(hub.listening.mqttPort).toBeGreaterThan(0);
      expect(hub.listening.mqttsPort).toBeGreaterThan(0);
      expect(hub.listening.mqttPort).not.toBe(hub.listening.mqttsPort);
      // Loopback: no warning about clear-text passwords on the network.
      expect(hub.output()).not.toMatch(/reachable from the network/);
      const { stdout } = await run('mosquitto_sub', [
        '-h',
        '127.0.0.1',
        '-p',
        String(hub.listening.mqttPort),
        '-u',
        'box-p',
        '-P',
        password,
        '-i',
        'box-p',
        '-t',
        'classroom/v1/hub/state',
        '-C',
        '1',
        '-W',
        '20',
      ]);
      expect(JSON.parse(stdout)).toMatchObject({ online: true });
      const tls = await sClient(hub.listening.mqttsPort ?? 0, ca.cert);
      expect(tls.verify).toBe('0 (ok)');
    } finally {
      await hub.kill9();
    }
  });
});
