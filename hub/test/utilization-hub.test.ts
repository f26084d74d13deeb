// Occupancy end to end on a real in-process hub: a box publishes capture windows with people counts
// over real MQTT; the hub files them under the registry's room, serves /api/utilization (JSON and CSV),
// rollups, the retained summary's `people`, and sends class.empty to a real webhook receiver.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { topics } from '@classroom/protocol';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeAgent, startTestHub, type TestHub, waitFor } from './people-hub.js';

const M = 60_000;

describe('occupancy through real MQTT ingest', () => {
  let t: TestHub;
  let box: FakeAgent;
  let hooks: Server;
  const deliveries: Array<Record<string, unknown>> = [];
  // A class that began 20 minutes ago and runs another 40: its first minutes are already past.
  const classStart = Math.floor((Date.now() - 20 * M) / M) * M;
  const classEnd = classStart + 60 * M;

  beforeAll(async () => {
    hooks = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        deliveries.push(JSON.parse(body) as Record<string, unknown>);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
    t = await startTestHub({
      CLASSROOM_HUB_WEBHOOK_URL: `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hook`,
      CLASSROOM_HUB_WEBHOOK_SECRET: 'occupancy-test-secret-0123',
      CLASSROOM_HUB_CLASS_EMPTY_AFTER_S: '600',
    });
    const reg = await t.api('PUT', '/api/rooms', {
      rooms: [
        { id: 'U-1', name: 'Hall U1', building: 'North', floor: '2', campus: 'Main', capacity: 50 },
        { id: 'U-2', name: 'Hall U2', building: 'South', floor: '1', campus: 'Main', capacity: null },
      ],
    });
    expect(reg.status).toBe(200);
    const csv = `start,end,title\n${new Date(classStart).toISOString()},${new Date(classEnd).toISOString()},Physics\n`;
    expect((await t.api('PUT', '/api/rooms/U-1/schedule', { format: 'csv', content: csv })).status).toBe(200);
    box = new FakeAgent(t, 'box-u1', { id: 'U-1', name: 'whatever the box says', building: 'X', floor: '9' });
    await box.connect();
  });

  afterAll(async () => {
    await box?.close();
    await t?.stop();
    await new Promise((r) => hooks.close(r));
  });

  it('serves utilization, rollups and the summary count, and reports the empty class once', async () => {
    const acct = await t.api<{ username: string; password: string }>('POST', '/api/accounts', {
      account: 'platform-occ',
      role: 'platform',
    });
    const platform = await mqtt.connectAsync(`mqtt://127.0.0.1:${t.hub.mqttPort}`, {
      username: acct.body.username,
      password: acct.body.password,
      clientId: `${acct.body.username}-occ`,
      reconnectPeriod: 0,
    });
    const summaries: Array<Record<string, unknown>> = [];
    platform.on('message', (topic, payload) => {
      if (topic === topics.roomSummary('U-1')) summaries.push(JSON.parse(payload.toString()));
    });
    await platform.subscribeAsync(topics.roomSummary('U-1'), { qos: 1 });
    try {
      // Ten minutes before the class: 4 people (unbooked use); the class's first 20 minutes: nobody.
      const windows = [];
      for (let m = -10; m < 20; m++) {
        const people = m < 0 ? 4 : 0;
        windows.push({
          kind: 'capture' as const,
          source: 'cam',
          start: classStart + m * M,
          end: classStart + (m + 1) * M,
          video: {
            fps: 25,
            width: 1280,
            height: 720,
            keyframes: 30,
            bitrateKbps: 900,
            blackRatio: 0,
            frozenRatio: 0,
            motion: 0,
          },
          occupancy: { people, peak: people, samples: 6 },
        });
      }
      await box.capture(windows.slice(0, 15));
      await box.capture(windows.slice(15));

      const from = classStart - 10 * M;
      const to = classStart + 20 * M;
      // The range may cross a midnight: the day rows are added up.
      const total = (rows: Array<Record<string, unknown>>) => {
        const out: Record<string, unknown> = { ...rows[0] };
        for (const k of [
          'scheduledMinutes',
          'occupiedMinutes',
          'scheduledEmptyMinutes',
          'occupiedUnscheduledMinutes',
          'scheduledUncountedMinutes',
        ]) {
          out[k] = rows.reduce((n, r) => n + Number(r[k]), 0);
        }
        out.peoplePeak = Math.max(...rows.map((r) => Number(r.peoplePeak ?? 0)));
        out.seatUse = rows.map((r) => r.seatUse).find((v) => v !== null) ?? null;
        return out;
      };
      const util = await waitFor('utilization counted', async () => {
        const r = await t.api<{ rows: Array<Record<string, unknown>> }>(
          'GET',
          `/api/utilization?from=${from}&to=${to}&bucket=day&building=North`,
        );
        const sum = r.body.rows?.length ? total(r.body.rows) : null;
        return sum && sum.occupiedMinutes === 10 && sum.scheduledEmptyMinutes === 20 ? r.body.rows : null;
      });
      expect(new Set(util.map((r) => r.room))).toEqual(new Set(['U-1']));
      expect(total(util)).toMatchObject({
        room: 'U-1',
        name: 'Hall U1',
        building: 'North',
        capacity: 50,
        scheduledMinutes: 20,
        occupiedUnscheduledMinutes: 10,
        scheduledUncountedMinutes: 0,
        peoplePeak: 4,
        seatUse: 0,
      });
      const south = await t.api<{ rows: Array<{ room: string }> }>(
        'GET',
        `/api/utilization?from=${from}&to=${to}&bucket=day&building=South`,
      );
      expect(south.body.rows.map((r) => r.room)).toEqual(['U-2']);
      const csv = await t.api<string>(
        'GET',
        `/api/utilization?from=${from}&to=${to}&bucket=day&building=North&format=csv`,
      );
      expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
      expect(csv.body.split('\n')[0]).toContain('scheduledEmptyMinutes');
      expect(csv.body).toContain('Hall U1');
      const bad = await t.api('GET', `/api/utilization?from=${to}&to=${from}`);
      expect(bad.status).toBe(400);
      const tooLong = await t.api('GET', `/api/utilization?from=0&to=${to}&bucket=hour`);
      expect(tooLong.status).toBe(400);

      const rollups = await t.api<{ rollups: Array<{ occupiedMinutes: number; peoplePeak: number | null }> }>(
        'GET',
        `/api/rooms/U-1/rollups?bucket=day&from=${from}&to=${to}`,
      );
      expect(rollups.body.rollups.reduce((n, r) => n + r.occupiedMinutes, 0)).toBe(10);
      expect(Math.max(...rollups.body.rollups.map((r) => r.peoplePeak ?? 0))).toBe(4);

      // The retained summary carries the newest count (0) and the registry's name.
      const summary = await waitFor('summary with people', () => summaries.findLast((s) => s.people === 0));
      expect(summary).toMatchObject({ room: { id: 'U-1', name: 'Hall U1', building: 'North' }, people: 0 });
      // A new registry entry for the room is published in its retained summary at once.
      const renamed = await t.api('PUT', '/api/rooms', {
        rooms: [
          {
            id: 'U-1',
            name: 'Hall U1 (renovated)',
            building: 'North',
            floor: '3',
            campus: 'Main',
            capacity: 60,
          },
        ],
      });
      expect(renamed.body).toMatchObject({ updated: 1, removed: 1 });
      const republished = await waitFor('summary with the new name', () =>
        summaries.findLast((s) => (s.room as { name: string }).name === 'Hall U1 (renovated)'),
      );
      expect(republished).toMatchObject({ room: { floor: '3' }, people: 0 });

      // class.empty: the class's first 10 minutes (CLASSROOM_HUB_CLASS_EMPTY_AFTER_S) were counted empty.
      const report = await waitFor(
        'class.empty webhook',
        () => deliveries.find((d) => d.event === 'class.empty'),
        60_000,
      );
      expect(report).toMatchObject({
        event: 'class.empty',
        room: 'U-1',
        afterMinutes: 10,
        countedMinutes: 10,
        period: { title: 'Physics', start: classStart, end: classEnd },
      });
      // Once per class: the next passes (every 30 s) send nothing more.
      const n = deliveries.filter((d) => d.event === 'class.empty').length;
      expect(n).toBe(1);
    } finally {
      await platform.endAsync(true);
    }
  }, 120_000);
});
