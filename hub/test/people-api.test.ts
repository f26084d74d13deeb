// The people API against a real in-process hub: real aedes broker, real MQTT.js agent, real SQLite,
// a real local webhook receiver and a real WebSocket client.
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { topics } from '@classroom/protocol';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { checkResponse } from './openapi-responses.js';
import { FakeAgent, startTestHub, type TestHub, waitFor } from './people-hub.js';

/** A counter's value in the hub's /metrics (0 while it has no sample). */
async function counter(base: string, series: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

interface AlarmBody {
  id: string;
  type: string;
  state: string;
  source: string | null;
  room: string | null;
  ackedBy: string | null;
}

describe('people API on a running hub', () => {
  let t: TestHub;
  let agent: FakeAgent;
  let hookServer: Server;
  const deliveries: Array<{ headers: Record<string, string | string[] | undefined>; body: string }> = [];
  let failFirst = 1;

  beforeAll(async () => {
    hookServer = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        if (failFirst > 0) {
          failFirst--;
          res.writeHead(503).end();
          return;
        }
        deliveries.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
    const port = (hookServer.address() as AddressInfo).port;
    t = await startTestHub({
      CLASSROOM_HUB_ALARM_RAISE_S: '0.3',
      CLASSROOM_HUB_ALARM_CLEAR_S: '0.3',
      CLASSROOM_HUB_WEBHOOK_URL: `http://127.0.0.1:${port}/hook`,
      CLASSROOM_HUB_WEBHOOK_SECRET: 'a-very-secret-secret',
    });
    agent = new FakeAgent(t, 'box-101', { id: 'A-101', name: 'Lecture hall 101', building: 'A', floor: '1' });
    await agent.connect();
    await waitFor('agent online', async () => {
      const r = await t.api<{ agents: Array<{ availability: string }> }>('GET', '/api/agents');
      return r.body.agents?.some((a) => a.availability === 'online');
    });
  });

  afterAll(async () => {
    await agent?.close();
    await t?.stop();
    await new Promise((r) => hookServer.close(r));
  });

  it('requires the admin token on people routes', async () => {
    const res = await fetch(`${t.base}/api/alarms`);
    expect(res.status).toBe(401);
    const text = await res.text();
    await checkResponse(t.base, 'GET', '/api/alarms', res.status, res.headers.get('content-type'), text);
    const body = JSON.parse(text) as { error: { code: string } };
    expect(body.error.code).toBe('unauthorized');
  });

  it('raises an alarm from an event, acks it, clears it, and signs webhooks', async () => {
    const ws = new WebSocket(`${t.base.replace('http', 'ws')}/api/stream?token=${t.token}`);
    const streamed: Array<{ type: string; data: { to?: string } }> = [];
    ws.on('message', (m) => streamed.push(JSON.parse(String(m))));
    await new Promise((r, j) => ws.once('open', r).once('error', j));

    await agent.event('video.black.start', 'cam');
    const alarm = await waitFor('active alarm', async () => {
      const r = await t.api<{ alarms: AlarmBody[] }>('GET', '/api/alarms?state=active');
      return r.body.alarms.find((a) => a.type === 'video.black');
    });
    expect(alarm).toMatchObject({ source: 'cam', room: 'A-101', state: 'active' });

    const room = await t.api<{ alarms: AlarmBody[] }>('GET', '/api/rooms/A-101');
    expect(room.body.alarms.map((a) => a.id)).toContain(alarm.id);

    const ack = await t.api<{ alarm: AlarmBody }>('POST', `/api/alarms/${alarm.id}/ack`, {
      who: 'zhang',
      note: 'checking the lens cap',
    });
    expect(ack.status).toBe(200);
    expect(ack.body.alarm).toMatchObject({ state: 'acked', ackedBy: 'zhang' });
    const again = await t.api<{ error: { code: string } }>('POST', `/api/alarms/${alarm.id}/ack`, {});
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('conflict');
    expect((await t.api('POST', '/api/alarms/does-not-exist/ack', {})).status).toBe(404);

    await agent.event('video.black.end', 'cam');
    const detail = await waitFor('cleared alarm', async () => {
      const r = await t.api<{ alarm: AlarmBody; history: Array<{ to: string }> }>(
        'GET',
        `/api/alarms/${alarm.id}`,
      );
      return r.body.alarm.state === 'cleared' ? r.body : undefined;
    });
    expect(detail.history.map((h) => h.to)).toEqual(['active', 'acked', 'cleared']);

    // Webhook: the first attempt got a 503, the retry delivered; all three transitions arrive signed.
    await waitFor('three webhook deliveries', () => deliveries.length >= 3, 30_000);
    for (const d of deliveries) {
      const expected = `sha256=${createHmac('sha256', 'a-very-secret-secret').update(d.body).digest('hex')}`;
      expect(d.headers['x-classroom-signature']).toBe(expected);
      expect(d.headers['x-classroom-event']).toBe('alarm.transition');
    }
    const tos = deliveries.map((d) => (JSON.parse(d.body) as { to: string }).to).sort();
    expect(tos).toEqual(['acked', 'active', 'cleared']);

    await waitFor('alarm transitions on the stream', () =>
      ['active', 'acked', 'cleared'].every((s) =>
        streamed.some((m) => m.type === 'alarm' && m.data.to === s),
      ),
    );
    ws.close();

    const csv = await fetch(`${t.base}/api/alarms?format=csv`, {
      headers: { authorization: `Bearer ${t.token}` },
    });
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
    const lines = (await csv.text()).trim().split('\n');
    expect(lines[0]).toMatch(/^id,agent,room,source,type,state/);
    expect(lines.some((l) => l.includes(alarm.id) && l.includes('cleared'))).toBe(true);
  });

  it('refuses a stream connection without a valid token', async () => {
    const ws = new WebSocket(`${t.base.replace('http', 'ws')}/api/stream?token=wrong`);
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    expect(status).toBe(401);
  });

  it('sends a command, reports its result, and publishes a retained versioned config', async () => {
    const sent = await t.api<{ id: string; expiresAt: number }>('POST', '/api/agents/box-101/commands', {
      name: 'snapshot',
      args: { source: 'cam' },
    });
    expect(sent.status).toBe(202);
    const cmd = await waitFor('cmd at the agent', () =>
      agent.received.find(
        (m) => m.topic === topics.cmd('box-101') && (m.payload as { id: string }).id === sent.body.id,
      ),
    );
    expect(cmd.payload).toMatchObject({
      v: 1,
      name: 'snapshot',
      args: { source: 'cam' },
      expiresAt: sent.body.expiresAt,
    });
    const pending = await t.api<{ status: string }>('GET', `/api/commands/${sent.body.id}`);
    expect(pending.body.status).toBe('pending');
    await agent.publish('cmd/result', {
      v: 1,
      id: sent.body.id,
      status: 'ok',
      data: { mime: 'image/jpeg', jpeg: 'AAAA' },
    });
    const done = await waitFor('command result', async () => {
      const r = await t.api<{ status: string; data: unknown }>('GET', `/api/commands/${sent.body.id}`);
      return r.body.status === 'ok' ? r.body : undefined;
    });
    expect(done.data).toEqual({ mime: 'image/jpeg', jpeg: 'AAAA' });
    expect((await t.api('POST', '/api/agents/nobody/commands', { name: 'rebirth' })).status).toBe(404);
    expect((await t.api('POST', '/api/agents/box-101/commands', { name: 'format-disk' })).status).toBe(400);

    const put = await t.api<{ version: number }>('PUT', '/api/agents/box-101/config', { windowS: 5 });
    expect(put.status).toBe(200);
    expect(put.body.version).toBe(1);
    const put2 = await t.api<{ version: number }>('PUT', '/api/agents/box-101/config', { windowS: 10 });
    expect(put2.body.version).toBe(2);
    const cfg = await waitFor('config at the agent', () =>
      agent.received.find(
        (m) => m.topic === topics.config('box-101') && (m.payload as { version: number }).version === 2,
      ),
    );
    expect(cfg.payload).toEqual({ v: 1, version: 2, config: { windowS: 10 } });
    expect((await t.api('PUT', '/api/agents/box-101/config', { windowS: -1 })).status).toBe(400);
  });

  it('rolls up capture windows per room as they arrive', async () => {
    const now = Date.now();
    const start = now - 60_000;
    await agent.capture([
      {
        kind: 'capture',
        source: 'cam',
        start,
        end: start + 30_000,
        video: {
          fps: 25,
          width: 1280,
          height: 720,
          keyframes: 15,
          bitrateKbps: 2000,
          blackRatio: 0,
          frozenRatio: 0,
          motion: 0.2,
        },
      },
      {
        kind: 'capture',
        source: 'cam',
        start: start + 30_000,
        end: start + 60_000,
        video: {
          fps: 25,
          width: 1280,
          height: 720,
          keyframes: 15,
          bitrateKbps: 2000,
          blackRatio: 1,
          frozenRatio: 0,
          motion: 0,
        },
      },
      {
        kind: 'capture',
        source: 'mic',
        start,
        end: start + 60_000,
        audio: { rmsDb: -30, peakDb: -10, loudnessLufs: -28, silenceRatio: 0.25 },
      },
    ]);
    const day = await waitFor('day rollup', async () => {
      const r = await t.api<{
        rollups: Array<{
          captureMinutes: number;
          videoOkRatio: number;
          audioActiveMinutes: number;
          uptimeRatio: number | null;
        }>;
      }>('GET', '/api/rooms/A-101/rollups?bucket=day');
      const total = r.body.rollups.reduce((s, x) => s + x.captureMinutes, 0);
      return total >= 0.99 ? r.body.rollups : undefined;
    });
    const sum = (f: 'captureMinutes' | 'audioActiveMinutes') => day.reduce((s, x) => s + x[f], 0);
    expect(sum('captureMinutes')).toBeCloseTo(1, 1);
    expect(sum('audioActiveMinutes')).toBeCloseTo(0.75, 1);
    expect(day.at(-1)?.videoOkRatio).toBeCloseTo(0.5, 2);
    expect(day.at(-1)?.uptimeRatio).toBe(1);
    const csv = await fetch(`${t.base}/api/rooms/A-101/rollups?bucket=hour&format=csv`, {
      headers: { authorization: `Bearer ${t.token}` },
    });
    expect((await csv.text()).split('\n')[0]).toMatch(/^room,bucket,start,end,uptimeRatio,videoOkRatio/);
    const bad = await t.api<{ error: { code: string } }>('GET', '/api/rooms/A-101/rollups?bucket=week');
    expect(bad.status).toBe(400);
  });

  it('publishes a retained room summary that a platform account can read', async () => {
    const acct = await t.api<{ username: string; password: string }>('POST', '/api/accounts', {
      account: 'platform-1',
      role: 'platform',
    });
    expect(acct.status).toBe(201);
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${t.hub.mqttPort}`, {
      username: acct.body.username,
      password: acct.body.password,
      // A platform client id is its username or starts with `<username>-` (docs/hub.md).
      clientId: `${acct.body.username}-summaries`,
      reconnectPeriod: 0,
    });
    try {
      const got: unknown[] = [];
      client.on('message', (topic, payload) => {
        if (topic === topics.roomSummary('A-101')) got.push(JSON.parse(payload.toString()));
      });
      await client.subscribeAsync(topics.allRoomSummaries(), { qos: 1 });
      const summary = await waitFor(
        'retained summary',
        () => got.at(-1) as Record<string, unknown> | undefined,
      );
      expect(summary).toMatchObject({
        v: 1,
        agent: 'box-101',
        availability: 'online',
        room: { id: 'A-101', name: 'Lecture hall 101', building: 'A' },
      });
    } finally {
      await client.endAsync(true);
    }
  });

  it('documents the people routes in the OpenAPI description and exposes metrics', async () => {
    const doc = await t.api<{ paths: Record<string, unknown> }>('GET', '/api/openapi.json');
    for (const p of [
      '/api/alarms',
      '/api/alarms/{id}/ack',
      '/api/agents/{id}/commands',
      '/api/commands/{id}',
      '/api/rooms/{room}/rollups',
    ]) {
      expect(Object.keys(doc.body.paths)).toContain(p);
    }
    const metrics = await (await fetch(`${t.base}/metrics`)).text();
    expect(metrics).toMatch(/classroom_hub_alarms\{state="cleared"\} 1/);
    expect(metrics).toMatch(/classroom_hub_webhook_deliveries_total\{outcome="ok"\} [3-9]/);
    expect(metrics).toMatch(/classroom_hub_webhook_deliveries_total\{outcome="retry"\} 1/);
  });
  it('keeps media alarms over a same-session rebirth and clears them after a new session', async () => {
    await agent.event('audio.silence.start', 'mic');
    const alarm = await waitFor('silent alarm', async () => {
      const r = await t.api<{ alarms: AlarmBody[] }>('GET', '/api/alarms?state=active');
      return r.body.alarms.find((a) => a.type === 'audio.silent');
    });
    const births = 'classroom_hub_ingest_messages_total{leaf="birth"}';
    const birthsBefore = await counter(t.base, births);
    await agent.sendBirth(agent.session);
    // Once the hub has taken the rebirth in (however late load makes that), wait out more than the
    // 0.3 s clear delay: a same-session rebirth must not have cleared it.
    await waitFor('the rebirth ingested', async () => (await counter(t.base, births)) > birthsBefore);
    await new Promise((r) => setTimeout(r, 1200));
    expect((await t.api<{ alarm: AlarmBody }>('GET', `/api/alarms/${alarm.id}`)).body.alarm.state).toBe(
      'active',
    );
    agent.session = 2;
    await agent.sendBirth(2);
    await waitFor('cleared after a new session', async () => {
      const r = await t.api<{ alarm: AlarmBody }>('GET', `/api/alarms/${alarm.id}`);
      return r.body.alarm.state === 'cleared';
    });
  });
  it('puts a room in maintenance: open media alarms clear and none are raised', async () => {
    await agent.event('video.frozen.start', 'cam');
    const alarm = await waitFor('frozen alarm', async () => {
      const r = await t.api<{ alarms: AlarmBody[] }>('GET', '/api/alarms?state=active');
      return r.body.alarms.find((a) => a.type === 'video.frozen');
    });
    const on = await t.api<{ maintenance: { who: string } | null }>('PUT', '/api/rooms/A-101/maintenance', {
      on: true,
      who: 'li',
      note: 'projector swap',
    });
    expect(on.body.maintenance?.who).toBe('li');
    const detail = await t.api<{ alarm: AlarmBody; history: Array<{ note: string | null }> }>(
      'GET',
      `/api/alarms/${alarm.id}`,
    );
    expect(detail.body.alarm.state).toBe('cleared');
    expect(detail.body.history.at(-1)?.note).toBe('room in maintenance');
    const room = await t.api<{ maintenance: boolean }>('GET', '/api/rooms/A-101');
    expect(room.body.maintenance).toBe(true);
    expect(
      (await t.api<{ rooms: Array<{ room: string }> }>('GET', '/api/maintenance')).body.rooms,
    ).toMatchObject([{ room: 'A-101' }]);
    const inserted = 'classroom_hub_records_inserted_total';
    const insertedBefore = await counter(t.base, inserted);
    await agent.event('video.frozen.end', 'cam');
    await agent.event('video.frozen.start', 'cam');
    // Once both events are stored (however late load makes that), wait out more than the 0.3 s
    // raise delay: no alarm may be raised in maintenance.
    await waitFor('both events stored', async () => (await counter(t.base, inserted)) >= insertedBefore + 2);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await t.api<{ alarm: AlarmBody }>('GET', `/api/alarms/${alarm.id}`)).body.alarm.state).toBe(
      'cleared',
    );
    await t.api('PUT', '/api/rooms/A-101/maintenance', { on: false });
    expect((await t.api<{ maintenance: boolean }>('GET', '/api/rooms/A-101')).body.maintenance).toBe(false);
  });
});
