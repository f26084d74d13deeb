// The hub ingests the `occupancy` of capture windows and the birth's "unavailable" (docs/occupancy.md,
// DESIGN.md "Records") with a real in-process hub and a real MQTT.js agent; a malformed one is
// dead-lettered alone.
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { birth, capture, connectAgent, type InProcessHub, inProcessHub, waitFor } from './core-helpers.js';

let h: InProcessHub;
let client: MqttClient;

beforeAll(async () => {
  h = await inProcessHub();
  const creds = (
    await h.api<{ username: string; password: string }>('POST', '/api/agents', {
      agent: 'box-o',
      room: 'R201',
    })
  ).body;
  client = await connectAgent(h.mqttUrl, creds.username, creds.password);
});

afterAll(async () => {
  client?.end(true);
  await h?.stop();
});

describe('occupancy at the hub', () => {
  it('stores windows with occupancy and a birth saying "unavailable", and dead-letters a bad one alone', async () => {
    const b = birth('box-o', 'R201');
    b.sources[0] = { ...b.sources[0]!, occupancy: 'unavailable', occupancyReason: 'detector init failed' };
    await client.publishAsync('classroom/v1/box-o/birth', JSON.stringify(b), { qos: 1 });
    const good = { ...capture(1), occupancy: { people: 23.5, peak: 27, samples: 2 } };
    const plain = capture(3);
    await client.publishAsync(
      'classroom/v1/box-o/records',
      JSON.stringify({ v: 1, session: 1, records: [good] }),
      { qos: 1 },
    );
    const bad = { ...capture(2), occupancy: { people: 9, peak: 4, samples: 1 } };
    await client.publishAsync(
      'classroom/v1/box-o/records',
      JSON.stringify({ v: 1, session: 1, records: [bad] }),
      { qos: 1 },
    );
    await client.publishAsync(
      'classroom/v1/box-o/records',
      JSON.stringify({ v: 1, session: 1, records: [plain] }),
      { qos: 1 },
    );
    const rows = await waitFor('two stored windows', async () => {
      const r = await h.hub.ctx.db.all<{ seq: number; body: unknown }>(
        "SELECT seq, body FROM records WHERE agent = 'box-o' ORDER BY seq",
      );
      return r.length >= 2 ? r : undefined;
    });
    const bodies = rows.map((r) => (typeof r.body === 'string' ? JSON.parse(r.body) : r.body));
    expect(rows.map((r) => r.seq)).toEqual([1, 3]);
    expect(bodies[0].occupancy).toEqual({ people: 23.5, peak: 27, samples: 2 });
    expect(bodies[1].occupancy).toBeUndefined();
    const dead = await waitFor('the bad window dead-lettered', async () => {
      const d = await h.hub.ctx.db.all<{ reason: string; detail: string }>(
        "SELECT reason, detail FROM dead_letters WHERE agent = 'box-o'",
      );
      return d.length > 0 ? d : undefined;
    });
    expect(dead).toHaveLength(1);
    expect(dead[0]!.detail).toMatch(/peak/);
    const api = await h.api<{
      birth: { sources: { occupancy?: string; occupancyReason?: string }[] } | null;
    }>('GET', '/api/agents/box-o');
    expect(api.body.birth?.sources[0]).toMatchObject({
      occupancy: 'unavailable',
      occupancyReason: 'detector init failed',
    });
  });
});
