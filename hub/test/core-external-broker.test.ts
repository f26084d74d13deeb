// `--broker mqtt://…` against a real Debian mosquitto on a free port: two hub instances share the
// records through an MQTT 5 shared subscription (each batch stored by exactly one of them and acked),
// while both keep the full registry from births.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { type RunningHub, startHub } from '../src/app.js';
import { ackCollector, batch, birth, range, TOKEN, tempDir, waitFor } from './core-helpers.js';

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

async function startMosquitto(): Promise<{ url: string; proc: ChildProcess }> {
  const t = tempDir('hub-mosquitto-');
  cleanups.push(() => t.remove());
  const port = await freePort();
  const conf = join(t.dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
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
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 2000 });
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

async function hubOn(url: string): Promise<RunningHub> {
  const t = tempDir();
  const hub = await startHub({
    dataDir: t.dir,
    httpPort: 0,
    mqttPort: 0,
    adminToken: TOKEN,
    broker: url,
    logLevel: process.env.TEST_LOG ?? 'silent',
  });
  cleanups.push(async () => {
    await hub.stop();
    t.remove();
  });
  return hub;
}

describe('external broker (mosquitto)', () => {
  it('shares records between two hubs, stores each once, acks all, and both see the birth', async () => {
    const { url } = await startMosquitto();
    const a = await hubOn(url);
    const b = await hubOn(url);
    expect(a.mqttPort).toBe(0);
    const agent: MqttClient = mqtt.connect(url, { clientId: 'box-x', reconnectPeriod: 0 });
    cleanups.push(() => void agent.end(true));
    await new Promise<void>((resolve) => agent.once('connect', () => resolve()));
    const acked = await ackCollector(agent, 'box-x');
    await agent.publishAsync('classroom/v1/box-x/birth', JSON.stringify(birth('box-x', 'R-ext')), { qos: 1 });
    for (let i = 0; i < 40; i++) {
      await agent.publishAsync('classroom/v1/box-x/records', batch(range(i * 10 + 1, i * 10 + 10)), {
        qos: 1,
      });
    }
    await waitFor('every record acked', () => acked.size === 400, 30_000);
    const count = async (h: RunningHub) =>
      (await h.ctx.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM records WHERE agent = 'box-x'"))?.n ?? 0;
    const [na, nb] = [await count(a), await count(b)];
    expect(na + nb).toBe(400);
    expect(na).toBeGreaterThan(0);
    expect(nb).toBeGreaterThan(0);
    for (const h of [a, b]) {
      await waitFor(
        'birth seen by every instance',
        () => h.ctx.registry.agent('box-x')?.room?.id === 'R-ext',
      );
    }
    // Retained messages the hub publishes go to the external broker.
    await a.ctx.mqtt.publish(
      'classroom/v1/box-x/config',
      { v: 1, version: 1, config: {} },
      { qos: 1, retain: true },
    );
    const late = mqtt.connect(url, { clientId: 'box-x-late', reconnectPeriod: 0 });
    cleanups.push(() => void late.end(true));
    const got = new Promise<string>((resolve) => late.on('message', (_t, m) => resolve(m.toString())));
    await new Promise<void>((resolve) => late.once('connect', () => resolve()));
    await late.subscribeAsync('classroom/v1/box-x/config', { qos: 1 });
    expect(JSON.parse(await got)).toEqual({ v: 1, version: 1, config: {} });
  });
});
