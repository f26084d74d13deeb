// GET /api/overview on a real hub with real MQTT agents: rooms online, open alarms, the class on now,
// and the share of today's classes captured healthily, computed from stored capture windows.
import type { CaptureRecord } from '@classroom/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClassHealth, COUNT_AFTER_MS } from '../src/overview/classes.js';
import type { StoredPeriod } from '../src/schedule/store.js';
import { FakeAgent, startTestHub, type TestHub, waitFor } from './people-hub.js';

type Capture = Omit<CaptureRecord, 'seq'>;

function windows(
  source: string,
  from: number,
  to: number,
  make: (start: number) => Partial<Capture>,
): Capture[] {
  const out: Capture[] = [];
  for (let s = from; s + 10_000 <= to; s += 10_000)
    out.push({ kind: 'capture', source, start: s, end: s + 10_000, ...make(s) } as Capture);
  return out;
}

const goodVideo = {
  fps: 25,
  width: 1280,
  height: 720,
  keyframes: 10,
  bitrateKbps: 2000,
  blackRatio: 0,
  frozenRatio: 0,
  motion: 0.1,
};
const sound = { rmsDb: -30, peakDb: -10, loudnessLufs: -28, silenceRatio: 0.1 };

describe('dashboard overview', () => {
  let t: TestHub;
  const agents: FakeAgent[] = [];
  const now = Date.now();
  const start = now - 25 * 60_000;

  beforeAll(async () => {
    t = await startTestHub({ CLASSROOM_HUB_ALARM_RAISE_S: '0.2' });
    for (const [agent, id] of [
      ['box-r1', 'R1'],
      ['box-r2', 'R2'],
      ['box-r3', 'R3'],
    ] as const) {
      const a = new FakeAgent(t, agent, { id, name: id, building: 'A', floor: '1' });
      await a.connect();
      agents.push(a);
    }
    const [r1, r2] = agents as [FakeAgent, FakeAgent];
    // R1: a good picture and sound for the whole class; R2: a black picture throughout.
    const r1Records = [
      ...windows('cam', start, now - 30_000, () => ({ video: goodVideo })),
      ...windows('mic', start, now - 30_000, () => ({ audio: sound })),
    ];
    const r2Records = [
      ...windows('cam', start, now - 30_000, () => ({ video: { ...goodVideo, blackRatio: 1 } })),
      ...windows('mic', start, now - 30_000, () => ({ audio: sound })),
    ];
    for (let i = 0; i < r1Records.length; i += 200) await r1.capture(r1Records.slice(i, i + 200));
    for (let i = 0; i < r2Records.length; i += 200) await r2.capture(r2Records.slice(i, i + 200));
    await r2.event('video.black.start', 'cam');
    const csv = (title: string) =>
      `start,end,title\n${new Date(start).toISOString()},${new Date(now + 60 * 60_000).toISOString()},${title}\n`;
    for (const [room, title] of [
      ['R1', 'Calculus'],
      ['R2', 'Physics'],
    ] as const) {
      const r = await t.api('PUT', `/api/rooms/${room}/schedule`, { format: 'csv', content: csv(title) });
      expect(r.status).toBe(200);
    }
    await waitFor('records stored', async () => {
      const r = await t.api<{ records: unknown[] }>('GET', '/api/records?room=R2&kind=capture&limit=1000');
      const r1s = await t.api<{ records: unknown[] }>('GET', '/api/records?room=R1&kind=capture&limit=1000');
      return r.body.records.length === r2Records.length && r1s.body.records.length === r1Records.length;
    });
  });

  afterAll(async () => {
    for (const a of agents) await a.close();
    await t?.stop();
  });

  it('counts rooms online and open alarms, and gives the class on now per room', async () => {
    // The black picture of R2 raises video.black (and the timetable may add schedule alarms): the
    // overview counts exactly what GET /api/alarms lists as open.
    await waitFor('black alarm', async () => {
      const r = await t.api<{ alarms: Array<{ type: string }> }>('GET', '/api/alarms?state=active');
      return r.body.alarms.some((a) => a.type === 'video.black');
    });
    const r = await t.api<{
      roomsTotal: number;
      roomsOnline: number;
      alarms: { open: number; active: number };
      rooms: Array<{ room: string; classNow: { title: string } | null }>;
    }>('GET', '/api/overview');
    expect(r.status).toBe(200);
    expect(r.body.roomsTotal).toBe(3);
    expect(r.body.roomsOnline).toBe(3);
    // Read until two reads agree: the timetable's checks may raise an alarm between the calls.
    const counts = await waitFor('consistent alarm counts', async () => {
      const ov = await t.api<{ alarms: { open: number; active: number } }>('GET', '/api/overview');
      const active = await t.api<{ alarms: unknown[] }>('GET', '/api/alarms?state=active');
      const acked = await t.api<{ alarms: unknown[] }>('GET', '/api/alarms?state=acked');
      const want = {
        open: active.body.alarms.length + acked.body.alarms.length,
        active: active.body.alarms.length,
      };
      return ov.body.alarms.open === want.open && ov.body.alarms.active === want.active
        ? ov.body.alarms
        : null;
    });
    expect(counts.active).toBeGreaterThanOrEqual(1);
    const byRoom = Object.fromEntries(r.body.rooms.map((x) => [x.room, x.classNow?.title ?? null]));
    expect(byRoom).toMatchObject({ R1: 'Calculus', R2: 'Physics' });
    expect(byRoom.R3).toBeUndefined();
  });

  it('counts a class healthy from its stored windows: R1 healthy, R2 black, a class too young not counted', async () => {
    const health = new ClassHealth(t.hub.ctx.db);
    const period = (id: string, room: string, s: number): StoredPeriod => ({
      id,
      room,
      start: s,
      end: now + 60 * 60_000,
      title: id,
      origin: 'csv',
      precheck: null,
      startCheck: null,
    });
    const periods = [
      period('p1', 'R1', start),
      period('p2', 'R2', start),
      period('p3', 'R3', now - COUNT_AFTER_MS / 2),
    ];
    const first = await health.soFar(periods, now, start - 1);
    expect(first).toEqual({ counted: 2, healthy: 1, share: 0.5 });
    // Incremental: a second pass reads only newer windows and gives the same answer.
    expect(await health.soFar(periods, now + 1000, start - 1)).toEqual(first);
    // A new day forgets yesterday's classes.
    expect(await health.soFar(periods, now, start + 1)).toEqual({ counted: 0, healthy: 0, share: null });
  });

  it('requires the admin token', async () => {
    const res = await fetch(`${t.base}/api/overview`);
    expect(res.status).toBe(401);
  });
});
