// Burst survival (docs/hub.md "Operations notes", burst safety). aedes 1.2 dispatches through mqemitter 7, which queues messages once
// `concurrency` (100) deliveries are in flight and starts the next queued one synchronously from the
// completion of the previous: a long run of queued messages that complete at once (no subscriber)
// unwinds as one recursion and overflows the stack (mqemitter#204). The hub runs aedes with
// BURST_SAFE_OPTIONS; these tests show the cause and that the hub survives a loopback burst.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { BURST_SAFE_OPTIONS } from '../src/broker/embedded.js';
import {
  ackCollector,
  announce,
  batch,
  connectAgent,
  type InProcessHub,
  inProcessHub,
  range,
  waitFor,
} from './core-helpers.js';

const run = promisify(execFile);
const HUB_DIR = new URL('..', import.meta.url).pathname;

/** 200 publishes with a (asynchronous) subscriber, then 100k with none: the pattern that recurses. */
const REPRO = (options: string) => `
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
process.on('uncaughtException', (e) => { console.log('CRASH ' + e.message); process.exit(3); });
const broker = await Aedes.createBroker(${options});
const server = createServer(broker.handle);
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const sub = mqtt.connect('mqtt://127.0.0.1:' + server.address().port);
await new Promise((r) => sub.on('connect', r));
await sub.subscribeAsync('with-subscriber', { qos: 0 });
let done = 0;
const N = 100000;
const p = (topic) => broker.publish({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 0, retain: false }, () => done++);
for (let i = 0; i < 200; i++) p('with-subscriber');
for (let i = 0; i < N; i++) p('no-subscriber');
while (done < N + 200) await new Promise((r) => setTimeout(r, 20));
console.log('OK ' + done);
process.exit(0);
`;

async function runRepro(options: string): Promise<string> {
  try {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', REPRO(options)], {
      cwd: HUB_DIR,
      timeout: 50_000,
    });
    return stdout.trim();
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? err).trim();
  }
}

describe('aedes burst', () => {
  it('default aedes overflows the stack on the burst pattern; BURST_SAFE_OPTIONS survives it', async () => {
    expect(await runRepro('{}')).toMatch(/^CRASH Maximum call stack size exceeded/);
    expect(await runRepro(JSON.stringify(BURST_SAFE_OPTIONS))).toBe('OK 100200');
  });
});

describe('hub under a loopback burst', () => {
  let h: InProcessHub;
  const clients: MqttClient[] = [];

  afterAll(async () => {
    for (const c of clients) c.end(true);
    await h?.stop();
  });

  it('survives 100k records from 20 boxes published at once and stores each exactly once', async () => {
    h = await inProcessHub();
    const AGENTS = 20;
    const BATCHES = 100;
    const PER = 50;
    const acked: Array<Set<number> | null> = [];
    for (let a = 0; a < AGENTS; a++) {
      const creds = (
        await h.api<{ password: string }>('POST', '/api/agents', { agent: `burst-${a}`, room: `B${a}` })
      ).body;
      const c = await connectAgent(h.mqttUrl, `burst-${a}`, creds.password);
      c.on('error', () => undefined);
      await announce(c, `burst-${a}`, `B${a}`);
      clients.push(c);
      // Half of the boxes do not listen for acks: their acks complete synchronously in the broker,
      // which is the run of queue entries that used to recurse.
      acked.push(a % 2 === 0 ? await ackCollector(c, `burst-${a}`) : null);
    }
    const sends: Promise<unknown>[] = [];
    for (let b = 0; b < BATCHES; b++) {
      for (let a = 0; a < AGENTS; a++) {
        const seqs = range(b * PER + 1, (b + 1) * PER);
        // Every batch is sent twice: the duplicates must be dropped.
        sends.push(clients[a]!.publishAsync(`classroom/v1/burst-${a}/records`, batch(seqs), { qos: 1 }));
        if (b % 10 === 0)
          sends.push(clients[a]!.publishAsync(`classroom/v1/burst-${a}/records`, batch(seqs), { qos: 1 }));
      }
    }
    await Promise.all(sends);
    const total = AGENTS * BATCHES * PER;
    const count = await waitFor(
      'all records stored',
      async () => {
        const r = await h.hub.ctx.db.get<{ n: number; d: number }>(
          "SELECT COUNT(*) AS n, COUNT(DISTINCT agent || ':' || seq) AS d FROM records WHERE agent LIKE 'burst-%'",
        );
        return r && r.n >= total ? r : null;
      },
      120_000,
      200,
    );
    expect(count).toEqual({ n: total, d: total });
    await waitFor(
      'acks of listening boxes',
      () => acked.every((s) => s === null || s.size === BATCHES * PER),
      60_000,
      100,
    );
    const health = await h.api<{ status: string; mqttClients: number }>(
      'GET',
      '/api/health',
      undefined,
      null,
    );
    expect(health.body).toMatchObject({ status: 'ok', mqttClients: AGENTS });
    expect(clients.every((c) => c.connected)).toBe(true);
  }, 180_000);
});
