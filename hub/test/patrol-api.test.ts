// The patrol wall's API on a real hub with real MQTT agents: the room list and its filters, thumbnails
// asked of the box only on demand and kept in memory only, private rooms, and the audit trail.
import { execFileSync } from 'node:child_process';
import { topics } from '@classroom/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeAgent, startTestHub, type TestHub, waitFor } from './people-hub.js';

describe('patrol API', () => {
  let t: TestHub;
  const agents = new Map<string, FakeAgent>();
  const asked = new Map<string, number>();
  // A real 320 px JPEG made at test time (no binary fixtures).
  const jpeg = execFileSync('ffmpeg', [
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    'testsrc=size=320x180',
    '-frames:v',
    '1',
    '-f',
    'mjpeg',
    '-',
  ]);

  beforeAll(async () => {
    t = await startTestHub({ CLASSROOM_HUB_ALARM_RAISE_S: '0.2' });
    const rooms = [
      ['box-a101', 'A-101', 'A', '1'],
      ['box-a201', 'A-201', 'A', '2'],
      ['box-b101', 'B-101', 'B', '1'],
      ['box-b102', 'B-102', 'B', '1'],
    ] as const;
    for (const [agent, id, building, floor] of rooms) {
      const a = new FakeAgent(t, agent, { id, name: `Room ${id}`, building, floor });
      await a.connect();
      // Answers thumbnail commands as a real agent does: ok at once, the picture in base64.
      a.client!.on('message', (topic, payload) => {
        if (topic !== topics.cmd(agent)) return;
        const cmd = JSON.parse(payload.toString()) as { id: string; name: string; args: { source?: string } };
        if (cmd.name !== 'thumbnail') return;
        asked.set(agent, (asked.get(agent) ?? 0) + 1);
        void a.publish('cmd/result', {
          v: 1,
          id: cmd.id,
          status: 'ok',
          data: {
            source: cmd.args.source,
            contentType: 'image/jpeg',
            bytes: jpeg.length,
            at: Date.now(),
            jpeg: jpeg.toString('base64'),
          },
        });
      });
      agents.set(id, a);
    }
    const now = Date.now();
    const csv = `start,end,title\n${new Date(now - 60_000).toISOString()},${new Date(now + 3_600_000).toISOString()},Optics\n`;
    expect((await t.api('PUT', '/api/rooms/A-201/schedule', { format: 'csv', content: csv })).status).toBe(
      200,
    );
    await agents.get('B-101')!.event('video.frozen.start', 'cam');
    await waitFor('frozen alarm', async () => {
      const r = await t.api<{ alarms: unknown[] }>('GET', '/api/alarms?state=active');
      return r.body.alarms.length === 1;
    });
  });

  afterAll(async () => {
    for (const a of agents.values()) await a.close();
    await t?.stop();
  });

  const list = async (q = '') =>
    (
      await t.api<{
        rooms: Array<{
          room: { id: string };
          classNow: { title: string } | null;
          problem: boolean;
          camera: string;
        }>;
      }>('GET', `/api/patrol/rooms${q}`)
    ).body.rooms;
  const ids = async (q = '') => (await list(q)).map((r) => r.room.id);

  it('lists rooms in building and floor order, with the filters a wall offers', async () => {
    expect(await ids()).toEqual(['A-101', 'A-201', 'B-101', 'B-102']);
    expect(await ids('?building=B')).toEqual(['B-101', 'B-102']);
    expect(await ids('?building=A&floor=2')).toEqual(['A-201']);
    expect(await ids('?inClass=true')).toEqual(['A-201']);
    expect((await list('?inClass=true'))[0]!.classNow?.title).toBe('Optics');
    expect(await ids('?problem=true')).toEqual(['B-101']);
    expect((await list())[0]!.camera).toBe('cam');
    expect((await t.api('GET', '/api/patrol/rooms?inClass=maybe')).status).toBe(400);
  });

  it('serves a thumbnail asked of the box, then from memory; nothing of it is stored', async () => {
    const res = await fetch(`${t.base}/api/rooms/A-101/thumbnail`, {
      headers: { authorization: `Bearer ${t.token}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(Buffer.from(await res.arrayBuffer()).equals(jpeg)).toBe(true);
    expect(asked.get('box-a101')).toBe(1);
    // A second wall within the time-to-live costs the box nothing.
    const again = await fetch(`${t.base}/api/rooms/A-101/thumbnail`, {
      headers: { authorization: `Bearer ${t.token}` },
    });
    expect(again.status).toBe(200);
    expect(asked.get('box-a101')).toBe(1);
    const db = t.hub.ctx.db;
    expect(await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM commands')).toEqual({ n: 0 });
    const metrics = await (await fetch(`${t.base}/metrics`)).text();
    expect(metrics).toMatch(/classroom_hub_thumbnails_total\{result="fetched"\} 1/);
    expect(metrics).toMatch(/classroom_hub_thumbnails_total\{result="hit"\} 1/);
  });

  it('writes the view to the audit log, once per user and room while watching', async () => {
    const r = await t.api<{ entries: Array<{ action: string; target: string; actor: string; ip: string }> }>(
      'GET',
      '/api/audit?action=patrol.view',
    );
    expect(r.status).toBe(200);
    expect(r.body.entries).toMatchObject([{ action: 'patrol.view', target: 'A-101', actor: 'admin-token' }]);
    expect(r.body.entries[0]!.ip).toBe('127.0.0.1');
  });

  it('a private room never shows on the wall and its thumbnail is refused', async () => {
    const set = await t.api<{ private: boolean }>('PUT', '/api/rooms/B-102/privacy', { private: true });
    expect(set.status).toBe(200);
    expect(set.body.private).toBe(true);
    expect(await ids()).toEqual(['A-101', 'A-201', 'B-101']);
    expect(await ids('?building=B')).toEqual(['B-101']);
    const before = asked.get('box-b102') ?? 0;
    const res = await t.api<{ error: { code: string } }>('GET', '/api/rooms/B-102/thumbnail');
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('room_private');
    expect(asked.get('box-b102') ?? 0).toBe(before);
    expect(
      (await t.api<{ rooms: Array<{ room: string }> }>('GET', '/api/privacy')).body.rooms.map((r) => r.room),
    ).toEqual(['B-102']);
    const audit = await t.api<{ entries: Array<{ target: string }> }>(
      'GET',
      '/api/audit?action=room.privacy',
    );
    expect(audit.body.entries.map((e) => e.target)).toEqual(['B-102']);
    // Taking the flag off puts it back.
    await t.api('PUT', '/api/rooms/B-102/privacy', { private: false });
    expect(await ids('?building=B')).toEqual(['B-101', 'B-102']);
  });

  it('answers 204 with the reason when the room has no picture now, and 404 for an unknown room', async () => {
    const a = agents.get('A-201')!;
    await a.publish('state', { v: 1, state: 'offline', session: 1, ts: Date.now() }, true);
    await waitFor('A-201 offline', async () => {
      const r = await t.api<{ agents: Array<{ availability: string }> }>('GET', '/api/rooms/A-201');
      return r.body.agents[0]?.availability === 'offline';
    });
    const res = await fetch(`${t.base}/api/rooms/A-201/thumbnail`, {
      headers: { authorization: `Bearer ${t.token}` },
    });
    expect(res.status).toBe(204);
    expect(decodeURIComponent(res.headers.get('x-thumbnail-unavailable') ?? '')).toBe('the box is offline');
    expect((await t.api('GET', '/api/rooms/Z-999/thumbnail')).status).toBe(404);
  });

  it('thumbnails are not commands of the command log', async () => {
    const r = await t.api<{ error: { message: string } }>('POST', '/api/agents/box-a101/commands', {
      name: 'thumbnail',
      args: {},
    });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/GET \/api\/rooms\/\{room\}\/thumbnail/);
  });
});
