// Shared setup for people API/browser tests: a real in-process hub (startHub) on free ports with a
// temp data dir, plus a real MQTT.js "agent" that speaks protocol v1.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Birth, CaptureRecord, EventType } from '@classroom/protocol';
import { topics } from '@classroom/protocol';
import mqtt, { type MqttClient } from 'mqtt';
import { type RunningHub, startHub } from '../src/app.js';
import { checkResponse } from './openapi-responses.js';

export interface TestHub {
  hub: RunningHub;
  base: string;
  token: string;
  dir: string;
  api<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: T; headers: Headers }>;
  stop(): Promise<void>;
}

export async function startTestHub(env: Record<string, string> = {}): Promise<TestHub> {
  const dir = mkdtempSync(join(tmpdir(), 'people-hub-'));
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  let hub: RunningHub;
  try {
    hub = await startHub({
      dataDir: dir,
      host: '127.0.0.1',
      httpPort: 0,
      mqttPort: 0,
      adminToken: 'people-test-token',
      // The tests' webhook receivers listen on loopback (docs/hub-people.md "Webhooks").
      webhookAllowPrivate: true,
      logLevel: process.env.TEST_LOG ?? 'silent',
    });
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  const base = `http://127.0.0.1:${hub.httpPort}`;
  const token = hub.adminToken;
  return {
    hub,
    base,
    token,
    dir,
    api: async <T>(method: string, path: string, body?: unknown) => {
      const res = await fetch(base + path, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      // Every answer must be one the OpenAPI document describes (hub/test/openapi-responses.ts).
      await checkResponse(base, method, path, res.status, res.headers.get('content-type'), text);
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
      return { status: res.status, body: parsed as T, headers: res.headers };
    },
    stop: async () => {
      await hub.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RoomInfo {
  id: string;
  name: string;
  building: string;
  floor: string;
}

/** A protocol-level agent: provisions itself through the API, connects, sends birth and state. */
export class FakeAgent {
  client: MqttClient | null = null;
  seq = 0;
  session = 1;
  readonly received: Array<{ topic: string; payload: unknown }> = [];

  constructor(
    readonly t: TestHub,
    readonly agent: string,
    readonly room: RoomInfo,
  ) {}

  async connect(): Promise<void> {
    const cred = await this.t.api<{ username: string; password: string }>('POST', '/api/agents', {
      agent: this.agent,
      room: this.room.id,
    });
    if (cred.status !== 201) throw new Error(`provisioning failed: ${JSON.stringify(cred.body)}`);
    this.client = await mqtt.connectAsync(`mqtt://127.0.0.1:${this.t.hub.mqttPort}`, {
      username: cred.body.username,
      password: cred.body.password,
      clientId: this.agent,
      reconnectPeriod: 0,
      will: {
        topic: topics.state(this.agent),
        payload: Buffer.from(JSON.stringify({ v: 1, state: 'lost', session: 1, ts: Date.now() })),
        qos: 1,
        retain: true,
      },
    });
    this.client.on('message', (topic, payload) => {
      this.received.push({ topic, payload: JSON.parse(payload.toString()) });
    });
    await this.client.subscribeAsync([topics.cmd(this.agent), topics.config(this.agent)], { qos: 1 });
    await this.sendBirth(1);
    await this.publish('state', { v: 1, state: 'online', session: 1, ts: Date.now() }, true);
  }

  async sendBirth(session: number): Promise<void> {
    const birth: Birth = {
      v: 1,
      session,
      ts: Date.now(),
      agentVersion: '0.1.0',
      room: { ...this.room, campus: 'Main' },
      sources: [
        {
          id: 'cam',
          kind: 'camera',
          label: 'Front camera',
          probe: { codec: 'h264', width: 1280, height: 720 },
        },
        { id: 'mic', kind: 'microphone', label: 'Ceiling mic', probe: { sampleRate: 48000, channels: 1 } },
      ],
      configVersion: 0,
      telemetryIntervalS: 30,
    };
    await this.publish('birth', birth);
  }

  async publish(
    leaf: 'birth' | 'state' | 'telemetry' | 'records' | 'cmd/result',
    payload: unknown,
    retain = false,
  ) {
    await this.client!.publishAsync(topics.agent(this.agent, leaf), JSON.stringify(payload), {
      qos: 1,
      retain,
    });
  }

  async event(type: EventType, source: string | null) {
    this.seq++;
    await this.publish('records', {
      v: 1,
      session: this.session,
      records: [{ seq: this.seq, kind: 'event', source, ts: Date.now(), type, detail: {} }],
    });
  }

  async capture(records: Array<Omit<CaptureRecord, 'seq'>>): Promise<void> {
    const withSeq = records.map((r) => ({ ...r, seq: ++this.seq }));
    await this.publish('records', { v: 1, session: this.session, records: withSeq });
  }

  async close(): Promise<void> {
    await this.client?.endAsync(true);
  }
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  // A deadline only for what never happens: CI's two cores at load 10–25 run the suite 2–4 × slower
  // than a quiet machine, where a 20 s default could cut off a wait that is merely slow.
  timeoutMs = 45_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}
