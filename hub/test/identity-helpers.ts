// Helpers of the identity and abuse-limit integration tests: MQTT.js clients bound to a chosen loopback
// source address, raw MQTT sockets for what a hostile client does that MQTT.js never would, a log
// capture, and /metrics readings.
import { createConnection, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import pino, { type Logger } from 'pino';
import type { Api } from './core-helpers.js';

/** A pino logger at debug whose lines are kept, to check what refusals put in the log. */
export function captureLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(l);
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

export type Outcome =
  | { ok: true; client: MqttClient; sessionPresent: boolean }
  | { ok: false; code: number | undefined; message: string };

/** Connects MQTT.js from `localAddress` (127.0.0.x); resolves with the CONNACK outcome, never rejects. */
export function connectFrom(port: number, localAddress: string, opts: IClientOptions): Promise<Outcome> {
  const client = new mqtt.MqttClient(() => createConnection({ host: '127.0.0.1', port, localAddress }), {
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 15_000,
    ...opts,
  });
  return new Promise((resolve) => {
    client.once('connect', (ack) => resolve({ ok: true, client, sessionPresent: ack.sessionPresent }));
    client.once('error', (err) => {
      client.end(true);
      resolve({ ok: false, code: (err as { code?: number }).code, message: err.message });
    });
    client.once('close', () => resolve({ ok: false, code: undefined, message: 'closed before CONNACK' }));
  });
}

export async function connected(
  port: number,
  localAddress: string,
  opts: IClientOptions,
): Promise<MqttClient> {
  const o = await connectFrom(port, localAddress, opts);
  if (!o.ok) throw new Error(`expected ${String(opts.clientId)} to connect: ${o.message}`);
  return o.client;
}

/** A raw TCP socket to the broker from `localAddress`, with the MQTT packets the broker sends back. */
export async function rawSocket(
  port: number,
  localAddress = '127.0.0.1',
): Promise<{ socket: Socket; packets: mqttPacket.Packet[]; closed: Promise<void>; send(p: object): void }> {
  const socket = createConnection({ host: '127.0.0.1', port, localAddress });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  const packets: mqttPacket.Packet[] = [];
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  parser.on('packet', (p) => packets.push(p));
  socket.on('data', (b) => parser.parse(b));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    socket,
    packets,
    closed,
    send: (p) => socket.write(mqttPacket.generate(p as mqttPacket.Packet)),
  };
}

export function connectPacket(o: {
  clientId: string;
  username: string;
  password: string;
  clean: boolean;
}): object {
  return {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: o.clean,
    clientId: o.clientId,
    keepalive: 60,
    username: o.username,
    password: Buffer.from(o.password),
  };
}

/** The value of one sample of /metrics, 0 when the series does not exist yet. */
export async function metric(api: Api, name: string, labels = ''): Promise<number> {
  const text = (await api('GET', '/metrics')).text;
  const series = labels ? `${name}{${labels}}` : name;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return 0;
}
