// The read API (docs/hub.md "HTTP API (core part)"): auth, one error body, records filters and cursor paging, CSV, OpenAPI,
// metrics, and MQTT over WebSocket at /mqtt.
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ackCollector,
  batch,
  birth,
  connectAgent,
  type InProcessHub,
  inProcessHub,
  range,
  waitFor,
} from './core-helpers.js';

let h: InProcessHub;
let ws: MqttClient;

interface Page {
  records: Array<{
    agent: string;
    room: string | null;
    historical: boolean;
    record: { seq: number; kind: string };
  }>;
  nextCursor: string | null;
}

beforeAll(async () => {
  h = await inProcessHub();
  const creds = (
    await h.api<{ password: string }>('POST', '/api/agents', { agent: 'box-api', room: 'R7', name: 'Lab 7' })
  ).body;
  // This agent speaks MQTT over WebSocket on the HTTP port.
  ws = await connectAgent(`ws://127.0.0.1:${h.hub.httpPort}/mqtt`, 'box-api', creds.password);
  const acked = await ackCollector(ws, 'box-api');
  await ws.publishAsync('classroom/v1/box-api/birth', JSON.stringify(birth('box-api', 'R7')), { qos: 1 });
  await ws.publishAsync('classroom/v1/box-api/records', batch(range(1, 30)), { qos: 1 });
  const events = {
    v: 1,
    session: 1,
    historical: true,
    records: [31, 32].map((seq) => ({
      seq,
      kind: 'event',
      source: 'cam',
      ts: 1_800_000_000_000 + seq,
      type: 'video.black.start',
      detail: { n: seq },
    })),
  };
  await ws.publishAsync('classroom/v1/box-api/records', JSON.stringify(events), { qos: 1 });
  await waitFor('acks over WebSocket', () => acked.size === 32);
});

afterAll(async () => {
  ws?.end(true);
  await h?.stop();
});

describe('HTTP API', () => {
  it('requires the admin token everywhere but /api/health, with one error body', async () => {
    expect((await h.api('GET', '/api/health', undefined, null)).status).toBe(200);
    for (const path of ['/api/agents', '/api/rooms', '/api/records', '/api/agents/box-api']) {
      const r = await h.api('GET', path, undefined, null);
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
      expect((await h.api('GET', path, undefined, 'wrong-token-wrong-token')).status).toBe(401);
    }
    const nf = await h.api('GET', '/api/agents/nobody');
    expect(nf.status).toBe(404);
    expect(nf.body).toMatchObject({ error: { code: 'not_found' } });
    const bad = await h.api('POST', '/api/agents', { agent: 'Bad Id', room: 'R1' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { code: 'invalid' } });
    const dup = await h.api('POST', '/api/agents', { agent: 'box-api', room: 'R1' });
    expect(dup.status).toBe(409);
    const schema = await h.api('POST', '/api/agents', { room: 5 });
    expect(schema.status).toBe(400);
    expect(schema.body).toMatchObject({ error: { code: 'invalid_request', details: expect.any(Array) } });
  });

  it('serves rooms and agents built from births', async () => {
    const rooms = await h.api<{ rooms: Array<{ room: { id: string; campus: string }; agents: unknown[] }> }>(
      'GET',
      '/api/rooms',
    );
    expect(rooms.body.rooms.find((r) => r.room.id === 'R7')?.room.campus).toBe('Main');
    const room = await h.api<{
      room: { id: string };
      agents: Array<{ agent: string; availability: string; sources: Array<{ id: string; status: string }> }>;
    }>('GET', '/api/rooms/R7');
    expect(room.status).toBe(200);
    expect(room.body.agents[0]).toMatchObject({ agent: 'box-api', availability: 'online' });
    expect(room.body.agents[0]?.sources.find((s) => s.id === 'cam')?.status).toBe('black');
    expect((await h.api('GET', '/api/rooms/nowhere')).status).toBe(404);
  });

  it('filters records and pages with an opaque cursor', async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r: { body: Page } = await h.api(
        'GET',
        `/api/records?agent=box-api&limit=7${cursor ? `&cursor=${cursor}` : ''}`,
      );
      seen.push(...r.body.records.map((x) => x.record.seq));
      cursor = r.body.nextCursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(range(1, 32));
    expect(pages).toBe(5);
    const events = await h.api<Page>('GET', '/api/records?kind=event&room=R7');
    expect(events.body.records.map((r) => [r.record.seq, r.historical])).toEqual([
      [31, true],
      [32, true],
    ]);
    const from = 1_700_000_000_000 + 10 * 10_000;
    const win = await h.api<Page>(`GET`, `/api/records?from=${from}&to=${from + 50_000}`);
    expect(win.body.records.map((r) => r.record.seq)).toEqual(range(10, 14));
    const badCursor = await h.api('GET', '/api/records?cursor=zzz');
    expect(badCursor.status).toBe(400);
  });

  it('exports CSV', async () => {
    const r = await h.api('GET', '/api/records?agent=box-api&limit=3&format=csv');
    expect(r.headers.get('content-type')).toMatch(/text\/csv/);
    const lines = r.text.trim().split('\n');
    expect(lines[0]).toMatch(/^agent,room,seq,kind,source,start,end/);
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(/^box-api,R7,1,capture,cam,/);
    expect(r.headers.get('x-next-cursor')).toBeTruthy();
  });

  it('publishes an OpenAPI document and Prometheus metrics', async () => {
    const doc = await h.api<{ openapi: string; paths: Record<string, unknown> }>(
      'GET',
      '/api/openapi.json',
      undefined,
      null,
    );
    expect(doc.body.openapi).toMatch(/^3\./);
    for (const p of [
      '/api/health',
      '/api/agents',
      '/api/agents/{id}',
      '/api/rooms',
      '/api/rooms/{room}',
      '/api/records',
    ]) {
      expect(Object.keys(doc.body.paths)).toContain(p);
    }
    const m = await h.api('GET', '/metrics', undefined, null);
    expect(m.text).toMatch(/classroom_hub_records_inserted_total 32/);
    expect(m.text).toMatch(/classroom_hub_mqtt_connected_clients 1/);
    expect(m.text).toMatch(/classroom_hub_agents\{availability="online"\} 1/);
    expect(m.text).toMatch(/classroom_hub_store_commit_seconds_count [1-9]/);
  });
});
