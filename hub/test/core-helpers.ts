// Shared setup of the core's integration tests: a real hub (in-process or the built bin), real MQTT.js
// clients, temp data dirs, and polling instead of sleeps.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Birth, RecordT } from '@classroom/protocol';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { type RunningHub, startHub } from '../src/app.js';
import { checkResponse } from './openapi-responses.js';

export const TOKEN = 'core-test-admin-token';

export function tempDir(prefix = 'hub-core-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  // A deadline only for what never happens: CI's two cores at load 10–25 run the suite 2–4 × slower
  // than a quiet machine, where a 20 s default could cut off a wait that is merely slow.
  timeoutMs = 45_000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export type Api = <T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  token?: string | null,
) => Promise<{
  status: number;
  body: T;
  text: string;
  headers: Headers;
}>;

export function apiFor(httpPort: number, adminToken: string): Api {
  return async (method, path, body, token = adminToken) => {
    const res = await fetch(`http://127.0.0.1:${httpPort}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    // Every answer must be one the OpenAPI document describes (hub/test/openapi-responses.ts).
    await checkResponse(
      `http://127.0.0.1:${httpPort}`,
      method,
      path,
      res.status,
      res.headers.get('content-type'),
      text,
    );
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON (CSV, metrics)
    }
    return { status: res.status, body: parsed as never, text, headers: res.headers };
  };
}

export interface InProcessHub {
  hub: RunningHub;
  api: Api;
  dir: string;
  mqttUrl: string;
  stop(): Promise<void>;
}

export async function inProcessHub(options: Parameters<typeof startHub>[0] = {}): Promise<InProcessHub> {
  const t = tempDir();
  const hub = await startHub({
    dataDir: t.dir,
    httpPort: 0,
    mqttPort: 0,
    adminToken: TOKEN,
    logLevel: process.env.TEST_LOG ?? 'silent',
    ...options,
  });
  return {
    hub,
    api: apiFor(hub.httpPort, hub.adminToken),
    dir: t.dir,
    mqttUrl: `mqtt://127.0.0.1:${hub.mqttPort}`,
    stop: async () => {
      await hub.stop();
      t.remove();
    },
  };
}

export interface SpawnedHub {
  proc: ChildProcess;
  httpPort: number;
  mqttPort: number;
  output: () => string;
  /** SIGKILL the whole process group. */
  kill9(): Promise<void>;
  /** SIGTERM and wait for the exit code. */
  terminate(): Promise<number | null>;
}

const BIN = new URL('../bin/classroom-hub.js', import.meta.url).pathname;

/** Runs the built bin (`npx tsc -b hub` first) and waits for its hub.listening line. */
export async function spawnHub(
  dataDir: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<SpawnedHub> {
  const proc = spawn(
    process.execPath,
    [
      BIN,
      'serve',
      '--data-dir',
      dataDir,
      '--http-port',
      '0',
      '--mqtt-port',
      '0',
      '--admin-token',
      TOKEN,
      ...args,
    ],
    {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CLASSROOM_HUB_LOG_LEVEL: 'info', ...env },
    },
  );
  let out = '';
  proc.stdout?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  proc.stderr?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const line = await waitFor(
    'hub.listening',
    () => {
      if (proc.exitCode !== null) throw new Error(`hub exited: ${out}`);
      return out.split('\n').find((l) => l.includes('"event":"hub.listening"'));
    },
    30_000,
  );
  const parsed = JSON.parse(line) as { httpPort: number; mqttPort: number };
  return {
    proc,
    httpPort: parsed.httpPort,
    mqttPort: parsed.mqttPort,
    output: () => out,
    kill9: async () => {
      if (proc.exitCode === null && proc.pid) {
        try {
          process.kill(-proc.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await exited;
    },
    terminate: async () => {
      if (proc.exitCode === null && proc.pid) process.kill(-proc.pid, 'SIGTERM');
      return exited;
    },
  };
}

export async function connectAgent(
  url: string,
  username: string,
  password: string,
  opts: IClientOptions = {},
): Promise<MqttClient> {
  const client = mqtt.connect(url, {
    username,
    password,
    // An agent's client id must equal its agent id (DESIGN.md "A box is only itself").
    clientId: username,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    ...opts,
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
  return client;
}

/** Connect expected to fail; resolves with the error. */
export async function connectRefused(url: string, username: string, password: string): Promise<Error> {
  const client = mqtt.connect(url, { username, password, reconnectPeriod: 0, connectTimeout: 10_000 });
  try {
    return await new Promise<Error>((resolve, reject) => {
      client.once('connect', () => reject(new Error('connect unexpectedly accepted')));
      client.once('error', (err) => resolve(err));
    });
  } finally {
    client.end(true);
  }
}

export function birth(_agent: string, room: string, session = 1, telemetryIntervalS = 30): Birth {
  return {
    v: 1,
    session,
    ts: Date.now(),
    agentVersion: 'test',
    room: { id: room, name: `Room ${room}`, building: 'A', floor: '1', campus: 'Main' },
    sources: [
      {
        id: 'cam',
        kind: 'camera',
        label: 'Camera',
        probe: { codec: 'h264', width: 640, height: 360, fps: 25 },
      },
      { id: 'mic', kind: 'microphone', label: 'Mic', probe: { sampleRate: 48000, channels: 1 } },
    ],
    configVersion: 0,
    telemetryIntervalS,
  };
}

export function capture(seq: number, start = 1_700_000_000_000 + seq * 10_000): RecordT {
  return {
    seq,
    kind: 'capture',
    source: 'cam',
    start,
    end: start + 10_000,
    video: {
      fps: 25,
      width: 640,
      height: 360,
      keyframes: 5,
      bitrateKbps: 800,
      blackRatio: 0,
      frozenRatio: 0,
      motion: 0.1,
    },
  };
}

export function batch(seqs: number[], session = 1, historical = false): string {
  return JSON.stringify({
    v: 1,
    session,
    records: seqs.map((s) => capture(s)),
    ...(historical ? { historical: true } : {}),
  });
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Collects the seqs acked to `agent` on a connected client. */
export async function ackCollector(client: MqttClient, agent: string): Promise<Set<number>> {
  const acked = new Set<number>();
  client.on('message', (topic, payload) => {
    if (topic !== `classroom/v1/${agent}/ack`) return;
    const m = JSON.parse(payload.toString()) as { ranges: Array<[number, number]> };
    for (const [a, b] of m.ranges) for (let s = a; s <= b; s++) acked.add(s);
  });
  await client.subscribeAsync(`classroom/v1/${agent}/ack`, { qos: 0 });
  return acked;
}

/**
 * Publishes a birth with the sources `cam` and `mic`, as every agent does before its records: a record
 * whose source is not in the agent's current birth is dead-lettered (DESIGN.md "A box is only itself").
 */
export async function announce(client: MqttClient, agent: string, room: string, session = 1): Promise<void> {
  await client.publishAsync(`classroom/v1/${agent}/birth`, JSON.stringify(birth(agent, room, session)), {
    qos: 1,
  });
}
