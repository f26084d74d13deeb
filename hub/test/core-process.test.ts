// The real bin (`classroom-hub serve`): CLI provisioning while it runs, kill -9 mid-ingest with nothing
// lost or doubled, graceful SIGTERM, and Debian's mosquitto clients as an independent implementation.
// Needs the built workspace (`npx tsc -b hub`).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import {
  announce,
  apiFor,
  batch,
  birth,
  connectAgent,
  range,
  type SpawnedHub,
  spawnHub,
  tempDir,
  waitFor,
} from './core-helpers.js';

const run = promisify(execFile);
const BIN = new URL('../bin/classroom-hub.js', import.meta.url).pathname;
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function cliAdd(
  dataDir: string,
  agent: string,
  room: string,
): Promise<{ agent: string; username: string; password: string }> {
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
  return JSON.parse(stdout) as { agent: string; username: string; password: string };
}

function track(hub: SpawnedHub): SpawnedHub {
  cleanups.push(() => hub.kill9());
  return hub;
}

/**
 * A minimal at-least-once sender, as the agent's outbox behaves: every record stays pending until an ack
 * covers it, and everything pending is resent after a reconnect.
 */
class Sender {
  pending = new Map<number, true>();
  acked = new Set<number>();
  client: MqttClient | null = null;

  constructor(
    readonly agent: string,
    readonly password: string,
    total: number,
  ) {
    for (const s of range(1, total)) this.pending.set(s, true);
  }

  async connect(port: number): Promise<void> {
    const c = await connectAgent(`mqtt://127.0.0.1:${port}`, this.agent, this.password);
    c.on('error', () => undefined);
    c.on('message', (topic, payload) => {
      if (topic !== `classroom/v1/${this.agent}/ack`) return;
      const m = JSON.parse(payload.toString()) as { ranges: Array<[number, number]> };
      for (const [a, b] of m.ranges) {
        for (let s = a; s <= b; s++) {
          this.acked.add(s);
          this.pending.delete(s);
        }
      }
    });
    await c.subscribeAsync(`classroom/v1/${this.agent}/ack`, { qos: 0 });
    await announce(c, this.agent, 'R');
    this.client = c;
  }

  /** Sends everything pending in batches of `size`; stops quietly when the connection dies. */
  async sendPending(size: number): Promise<void> {
    const seqs = [...this.pending.keys()].sort((a, b) => a - b);
    for (let i = 0; i < seqs.length; i += size) {
      const c = this.client;
      if (!c?.connected) return;
      try {
        await c.publishAsync(`classroom/v1/${this.agent}/records`, batch(seqs.slice(i, i + size)), {
          qos: 1,
        });
      } catch {
        return;
      }
    }
  }
}

describe('classroom-hub serve (real process)', () => {
  it('provisions with the CLI while running; the new box connects at once', async () => {
    const t = tempDir();
    cleanups.push(() => t.remove());
    const hub = track(await spawnHub(t.dir));
    const creds = await cliAdd(t.dir, 'box-cli', 'R201');
    expect(creds.username).toBe('box-cli');
    const c = await connectAgent(`mqtt://127.0.0.1:${hub.mqttPort}`, creds.username, creds.password);
    cleanups.push(() => void c.end(true));
    const api = apiFor(hub.httpPort, 'core-test-admin-token');
    const one = await api<{ room: { id: string } }>('GET', '/api/agents/box-cli');
    expect(one.status).toBe(200);
    expect(one.body.room.id).toBe('R201');
  });

  it('loses nothing and doubles nothing across kill -9 mid-ingest', async () => {
    const t = tempDir();
    cleanups.push(() => t.remove());
    const creds = await cliAdd(t.dir, 'box-k', 'R301');
    const TOTAL = 3000;
    const sender = new Sender('box-k', creds.password, TOTAL);
    let hub = track(await spawnHub(t.dir));
    await sender.connect(hub.mqttPort);
    const sending = sender.sendPending(25);
    await waitFor('some acks before the kill', () => sender.acked.size >= 300, 30_000, 5);
    await hub.kill9();
    const ackedBeforeKill = new Set(sender.acked);
    expect(ackedBeforeKill.size).toBeLessThan(TOTAL);
    // In-flight QoS 1 publishes of the dead connection fail only when the client is ended.
    sender.client?.end(true);
    await Promise.race([sending, new Promise((r) => setTimeout(r, 5000))]);

    hub = track(await spawnHub(t.dir));
    await sender.connect(hub.mqttPort);
    await sender.sendPending(100);
    await waitFor('every record acked', () => sender.pending.size === 0, 45_000);
    const api = apiFor(hub.httpPort, 'core-test-admin-token');
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/api/records?agent=box-k&limit=1000${cursor ? `&cursor=${cursor}` : ''}`;
      const page: {
        status: number;
        body: { records: Array<{ record: { seq: number } }>; nextCursor: string | null };
      } = await api('GET', q);
      expect(page.status).toBe(200);
      seen.push(...page.body.records.map((r) => r.record.seq));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen.length).toBe(TOTAL);
    expect(new Set(seen).size).toBe(TOTAL);
    for (const s of ackedBeforeKill) expect(seen).toContain(s);
    sender.client?.end(true);
  });

  it('on SIGTERM flushes, publishes hub/state offline and exits 0', async () => {
    const t = tempDir();
    cleanups.push(() => t.remove());
    const creds = await cliAdd(t.dir, 'box-t', 'R401');
    const hub = track(await spawnHub(t.dir));
    const sender = new Sender('box-t', creds.password, 200);
    await sender.connect(hub.mqttPort);
    const states: Array<{ online: boolean }> = [];
    sender.client?.on('message', (topic, payload) => {
      if (topic === 'classroom/v1/hub/state')
        states.push(JSON.parse(payload.toString()) as { online: boolean });
    });
    await sender.client?.subscribeAsync('classroom/v1/hub/state', { qos: 1 });
    await waitFor('retained hub/state online', () => states.some((s) => s.online));
    await sender.sendPending(50);
    const code = await hub.terminate();
    expect(code).toBe(0);
    expect(states.at(-1)?.online).toBe(false);
    // Every record the hub received before SIGTERM was committed: a restart holds them all.
    const again = track(await spawnHub(t.dir));
    const api = apiFor(again.httpPort, 'core-test-admin-token');
    const page = await api<{ records: unknown[] }>('GET', '/api/records?agent=box-t&limit=1000');
    expect(page.body.records.length).toBe(200 - sender.pending.size);
    expect(sender.pending.size).toBe(0);
    expect(hub.output()).toContain('"event":"hub.stopped"');
  });

  it('works with Debian mosquitto_pub / mosquitto_sub as independent clients', async () => {
    const t = tempDir();
    cleanups.push(() => t.remove());
    const creds = await cliAdd(t.dir, 'box-m', 'R501');
    const hub = track(await spawnHub(t.dir));
    const common = [
      '-h',
      '127.0.0.1',
      '-p',
      String(hub.mqttPort),
      '-u',
      creds.username,
      '-P',
      creds.password,
    ];
    // A box has one client id, its agent id (DESIGN.md "A box is only itself"), so the Debian clients
    // take turns: mosquitto_pub sends a birth and the records, then the hub holds them.
    await run('mosquitto_pub', [
      ...common,
      '-i',
      'box-m',
      '-q',
      '1',
      '-t',
      'classroom/v1/box-m/birth',
      '-m',
      JSON.stringify(birth('box-m', 'R501')),
    ]);
    await run('mosquitto_pub', [
      ...common,
      '-i',
      'box-m',
      '-q',
      '1',
      '-t',
      'classroom/v1/box-m/records',
      '-m',
      batch([1, 2, 3]),
    ]);
    const api = apiFor(hub.httpPort, 'core-test-admin-token');
    const stored = await waitFor('records stored', async () => {
      const r = await api<{ records: Array<{ record: { seq: number } }> }>('GET', '/api/records?agent=box-m');
      return r.body.records.length === 3 ? r.body.records : null;
    });
    expect(stored.map((r) => r.record.seq)).toEqual([1, 2, 3]);
    // mosquitto_sub as the box reads the retained hub/state.
    const { stdout } = await run('mosquitto_sub', [
      ...common,
      '-i',
      'box-m',
      '-t',
      'classroom/v1/hub/state',
      '-C',
      '1',
      '-W',
      '20',
    ]);
    expect(JSON.parse(stdout.trim())).toMatchObject({ v: 1, online: true });
    // Another client id with the box's credentials is refused (identifier rejected).
    await expect(
      run('mosquitto_pub', [
        ...common,
        '-i',
        'box-other',
        '-q',
        '1',
        '-t',
        'classroom/v1/box-m/records',
        '-m',
        batch([4]),
      ]),
    ).rejects.toMatchObject({ stderr: expect.stringMatching(/identifier rejected/i) });
    // A wrong password is refused (mosquitto_sub exits non-zero).
    await expect(
      run('mosquitto_sub', [
        '-h',
        '127.0.0.1',
        '-p',
        String(hub.mqttPort),
        '-u',
        'box-m',
        '-P',
        'wrong',
        '-t',
        'classroom/v1/hub/state',
        '-C',
        '1',
        '-W',
        '5',
      ]),
    ).rejects.toThrow();
  });
});
