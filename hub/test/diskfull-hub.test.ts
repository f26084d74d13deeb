// A full disk under the hub (docs/hub.md "Full disk"), on a real 8 MiB tmpfs: commits fail, so nothing
// is acked and the box keeps its records; /api/health says why (503, "disk full"); when space returns
// the hub recovers by itself, and every record the box produced is stored exactly once.
import type { RecordT } from '@classroom/protocol';
import type { MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { mountSmallFs, type SmallFs, unmountAll } from '../../test/helpers/smallfs.js';
import { startHub } from '../src/app.js';
import { apiFor, birth, capture, connectAgent, TOKEN, waitFor } from './core-helpers.js';

let fs: SmallFs | undefined;
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  fs?.unmount();
  unmountAll();
}, 60_000);

/** A box with an at-least-once outbox in memory: sends new records every tick and resends what is unacked. */
function box(client: MqttClient, agent: string) {
  const unacked = new Map<number, RecordT>();
  const acked = new Set<number>();
  let seq = 0;
  let producing = true;
  client.on('message', (topic, payload) => {
    if (topic !== `classroom/v1/${agent}/ack`) return;
    const m = JSON.parse(payload.toString()) as { ranges: Array<[number, number]> };
    for (const [a, b] of m.ranges)
      for (let s = a; s <= b; s++) {
        acked.add(s);
        unacked.delete(s);
      }
  });
  const timer = setInterval(() => {
    if (producing) {
      for (let i = 0; i < 20; i++) {
        seq++;
        const r = capture(seq, Date.now() - 60_000 + seq);
        unacked.set(seq, { ...r, ...{ pad: 'x'.repeat(300) } } as RecordT);
      }
    }
    const batch = [...unacked.values()].slice(0, 200);
    if (batch.length > 0)
      client.publish(`classroom/v1/${agent}/records`, JSON.stringify({ v: 1, session: 1, records: batch }), {
        qos: 1,
      });
  }, 150);
  return {
    acked,
    unacked,
    produced: () => seq,
    stopProducing: () => {
      producing = false;
    },
    stop: () => clearInterval(timer),
  };
}

describe('the hub on a full disk', () => {
  it('acks nothing while commits fail, says why, and recovers by itself with every record stored once', async () => {
    fs = mountSmallFs(8, 'hub-diskfull-');
    const hub = await startHub({
      dataDir: fs.dir,
      httpPort: 0,
      mqttPort: 0,
      adminToken: TOKEN,
      logLevel: process.env.TEST_LOG ?? 'silent',
      retention: false,
    });
    cleanups.push(() => hub.stop());
    const api = apiFor(hub.httpPort, TOKEN);
    const creds = (
      await api<{ username: string; password: string }>('POST', '/api/agents', { agent: 'box-f', room: 'F1' })
    ).body;
    const client = await connectAgent(`mqtt://127.0.0.1:${hub.mqttPort}`, creds.username, creds.password, {
      clientId: 'box-f',
      reconnectPeriod: 500,
    });
    cleanups.push(() => {
      client.end(true);
    });
    await client.subscribeAsync('classroom/v1/box-f/ack', { qos: 0 });
    await client.publishAsync('classroom/v1/box-f/birth', JSON.stringify(birth('box-f', 'F1')), { qos: 1 });
    const b = box(client, 'box-f');
    cleanups.push(() => b.stop());
    await waitFor('first acks', () => b.acked.size >= 100, 30_000);
    expect((await api<{ status: string; store: string }>('GET', '/api/health')).body).toMatchObject({
      status: 'ok',
      store: 'ok',
    });

    fs.fill(0);
    const degraded = await waitFor(
      'health to report the full disk',
      async () => {
        const h = await api<{ status: string; store: string }>('GET', '/api/health');
        return h.status === 503 ? h : null;
      },
      60_000,
      100,
    );
    expect(degraded.body).toMatchObject({ status: 'degraded', store: 'disk full' });
    const metrics = (await api('GET', '/metrics')).text;
    expect(metrics).toMatch(/^classroom_hub_store_degraded 1$/m);
    expect(metrics).toMatch(/classroom_hub_store_commit_failures_total\{reason="disk full"\} [1-9]/);
    // While the disk stays full the box's records pile up unacked, and the hub keeps answering.
    const ackedAtFull = b.acked.size;
    await waitFor('records to pile up unacked', () => b.unacked.size >= 200, 30_000);
    expect(b.acked.size - ackedAtFull).toBeLessThan(250); // at most what was committed as the disk filled
    expect((await api('GET', '/api/rooms')).status).toBe(200);

    fs.release();
    await waitFor(
      'health back to ok',
      async () => (await api<{ status: string }>('GET', '/api/health')).status === 200,
      60_000,
      100,
    );
    b.stopProducing();
    const produced = b.produced();
    await waitFor(`all ${produced} records acked`, () => b.acked.size === produced, 60_000, 100);
    const rows = await hub.ctx.db.all<{ n: number; d: number; lo: number; hi: number }>(
      "SELECT count(*) AS n, count(DISTINCT seq) AS d, min(seq) AS lo, max(seq) AS hi FROM records WHERE agent = 'box-f'",
    );
    expect(rows[0]).toEqual({ n: produced, d: produced, lo: 1, hi: produced });
    const metricsAfter = (await api('GET', '/metrics')).text;
    expect(metricsAfter).toMatch(/^classroom_hub_store_degraded 0$/m);
  }, 180_000);
});
