// A restart of the hub on the same data dir: retained messages the hub owns come back, agents known
// before are `unknown` (with their room) until heard from, and the unsupported flags fail clearly.
import { afterAll, describe, expect, it } from 'vitest';
import { startHub } from '../src/app.js';
import { ConfigError, resolveConfig } from '../src/config.js';
import { apiFor, birth, connectAgent, TOKEN, tempDir, waitFor } from './core-helpers.js';

const t = tempDir();
afterAll(() => t.remove());

const start = () =>
  startHub({
    dataDir: t.dir,
    httpPort: 0,
    mqttPort: 0,
    adminToken: TOKEN,
    logLevel: process.env.TEST_LOG ?? 'silent',
  });

describe('hub restart', () => {
  it('republishes its retained messages and lists known agents as unknown', async () => {
    let hub = await start();
    let api = apiFor(hub.httpPort, TOKEN);
    const creds = (await api<{ password: string }>('POST', '/api/agents', { agent: 'box-r', room: 'R1' }))
      .body;
    const c = await connectAgent(`mqtt://127.0.0.1:${hub.mqttPort}`, 'box-r', creds.password);
    await c.publishAsync('classroom/v1/box-r/birth', JSON.stringify(birth('box-r', 'R1', 5)), { qos: 1 });
    await waitFor(
      'online',
      async () =>
        (await api<{ availability: string }>('GET', '/api/agents/box-r')).body.availability === 'online',
    );
    await hub.ctx.mqtt.publish(
      'classroom/v1/box-r/config',
      { v: 1, version: 3, config: { windowS: 5 } },
      { qos: 1, retain: true },
    );
    c.end(true);
    await hub.stop();

    hub = await start();
    api = apiFor(hub.httpPort, TOKEN);
    try {
      const a = await api<{ availability: string; session: number; room: { id: string; campus: string } }>(
        'GET',
        '/api/agents/box-r',
      );
      expect(a.body).toMatchObject({
        availability: 'unknown',
        session: 5,
        room: { id: 'R1', campus: 'Main' },
      });
      const again = await connectAgent(`mqtt://127.0.0.1:${hub.mqttPort}`, 'box-r', creds.password);
      const got = new Map<string, unknown>();
      again.on('message', (topic, payload) => got.set(topic, JSON.parse(payload.toString())));
      await again.subscribeAsync(['classroom/v1/box-r/config', 'classroom/v1/hub/state'], { qos: 1 });
      await waitFor('retained messages', () => got.size === 2);
      expect(got.get('classroom/v1/box-r/config')).toEqual({ v: 1, version: 3, config: { windowS: 5 } });
      expect(got.get('classroom/v1/hub/state')).toMatchObject({ v: 1, online: true });
      again.end(true);
    } finally {
      await hub.stop();
    }
  });

  it('refuses a bad --broker URL and a --database URL that is not PostgreSQL', () => {
    expect(() => resolveConfig({ dataDir: t.dir, broker: 'http://127.0.0.1:1883' })).toThrow(ConfigError);
    expect(() => resolveConfig({ dataDir: t.dir, database: 'mysql://x/db' })).toThrow(/postgres:\/\//);
    // PostgreSQL itself is supported (docs/hub-postgres.md; tested in pg-*.test.ts).
    expect(resolveConfig({ dataDir: t.dir, database: 'postgres://x/db' }).database).toBe('postgres://x/db');
  });
});
