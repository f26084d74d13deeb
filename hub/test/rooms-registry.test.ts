// The room registry (docs/hub-people.md "Room registry"): parsing reports every bad line, imports are
// idempotent and all-or-nothing on SQLite and a real PostgreSQL, the API and the bin import it, and
// the registry's names and buildings win over what a box's birth says.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../src/context.js';
import { parseRoomsCsv, RoomsImportError } from '../src/rooms/parse.js';
import { importRegistryRooms, listRegistryRooms } from '../src/rooms/store.js';
import { openStore } from '../src/store/open.js';
import { apiFor, birth, connectAgent, spawnHub, TOKEN, tempDir, waitFor } from './core-helpers.js';
import { startTestHub, type TestHub } from './people-hub.js';
import { startPostgres, type TestPostgres } from './pg-helpers.js';

const run = promisify(execFile);
const BIN = new URL('../bin/classroom-hub.js', import.meta.url).pathname;

const GOOD = `id,name,building,floor,campus,capacity
A101,Lecture Hall A101,Science,1,East,120
"B-2.05","Seminar Room, 2nd floor",Humanities,2,East,
C3,实验室 C3,工程楼,3,West,40
`;

function errorsOf(fn: () => unknown): Array<{ line: number; reason: string }> {
  try {
    fn();
  } catch (err) {
    if (err instanceof RoomsImportError) return err.errors;
    throw err;
  }
  throw new Error('expected a RoomsImportError');
}

describe('room registry CSV', () => {
  it('reads the columns, a quoted comma, an empty capacity and UTF-8', () => {
    const rooms = parseRoomsCsv(`\uFEFF${GOOD}`);
    expect(rooms).toEqual([
      {
        id: 'A101',
        name: 'Lecture Hall A101',
        building: 'Science',
        floor: '1',
        campus: 'East',
        capacity: 120,
      },
      {
        id: 'B-2.05',
        name: 'Seminar Room, 2nd floor',
        building: 'Humanities',
        floor: '2',
        campus: 'East',
        capacity: null,
      },
      { id: 'C3', name: '实验室 C3', building: '工程楼', floor: '3', campus: 'West', capacity: 40 },
    ]);
  });

  it('reports every bad line with its number and reason', () => {
    const errors = errorsOf(() =>
      parseRoomsCsv(
        [
          'id,name,building,floor,campus,capacity',
          'A1,Room A1,S,1,E,30',
          'A2,Room A2,S,1,E,thirty',
          'A/3,Room,S,1,E,10',
          'A4,,S,1,E,10',
          'A1,Again,S,1,E,10',
          'A6,Too,few',
          'A7,Half,S,1,E,2.5',
        ].join('\n'),
      ),
    );
    expect(errors.map((e) => e.line)).toEqual([3, 4, 5, 6, 7, 8]);
    expect(errors[0]!.reason).toMatch(/capacity/);
    expect(errors[1]!.reason).toMatch(/^id:/);
    expect(errors[2]!.reason).toMatch(/name is empty/);
    expect(errors[3]!.reason).toMatch(/repeats line 2/);
    expect(errors[4]!.reason).toMatch(/3 fields/);
    expect(errors[5]!.reason).toMatch(/whole number/);
  });

  it('refuses a header without the registry columns', () => {
    const errors = errorsOf(() => parseRoomsCsv('room,title\nA1,x\n'));
    expect(errors).toEqual([{ line: 1, reason: expect.stringMatching(/header lacks id, name/) }]);
  });
});

/** The store's contract, run on SQLite and on PostgreSQL. */
function storeContract(open: () => Promise<Db & { close(): Promise<void> }>): void {
  it('imports idempotently, replaces the list and keeps it on a failed import', async () => {
    const db = await open();
    try {
      const rooms = parseRoomsCsv(GOOD);
      expect(await importRegistryRooms(db, rooms, 1000)).toEqual({
        rooms: 3,
        added: 3,
        updated: 0,
        unchanged: 0,
        removed: 0,
      });
      expect(await importRegistryRooms(db, rooms, 2000)).toMatchObject({
        added: 0,
        updated: 0,
        unchanged: 3,
      });
      const changed = rooms
        .filter((r) => r.id !== 'C3')
        .map((r) => (r.id === 'A101' ? { ...r, capacity: 150 } : r));
      expect(await importRegistryRooms(db, changed, 3000)).toMatchObject({
        updated: 1,
        unchanged: 1,
        removed: 1,
      });
      const before = await listRegistryRooms(db);
      expect(before.map((r) => [r.id, r.capacity])).toEqual([
        ['A101', 150],
        ['B-2.05', null],
      ]);
      // A row the database refuses half-way (NOT NULL) rolls the whole import back.
      const bad = [
        { ...changed[0]!, capacity: 1 },
        { id: 'Z9', name: null as never, building: '', floor: '', campus: '', capacity: null },
      ];
      await expect(importRegistryRooms(db, bad, 4000)).rejects.toThrow();
      expect(await listRegistryRooms(db)).toEqual(before);
    } finally {
      await db.close();
    }
  });
}

describe('room registry store on SQLite', () => {
  const t = tempDir('rooms-sqlite-');
  afterAll(() => t.remove());
  storeContract(() => openStore({ dataDir: t.dir }));
});

describe('room registry on a real PostgreSQL', () => {
  let pg: TestPostgres;
  let url = '';
  beforeAll(async () => {
    pg = await startPostgres();
    url = await pg.createDatabase('rooms_store');
  }, 60_000);
  afterAll(async () => pg?.stop());
  storeContract(() => openStore({ dataDir: '/nonexistent', database: url }));

  it('imports with the bin into PostgreSQL (--database)', async () => {
    const t = tempDir('rooms-pg-cli-');
    try {
      const file = join(t.dir, 'rooms.csv');
      writeFileSync(file, GOOD);
      const db2 = await pg.createDatabase('rooms_cli');
      const { stdout } = await run(process.execPath, [
        BIN,
        'rooms',
        'import',
        '--file',
        file,
        '--database',
        db2,
      ]);
      expect(JSON.parse(stdout)).toMatchObject({ rooms: 3, added: 3 });
      const db = await openStore({ dataDir: t.dir, database: db2 });
      try {
        expect((await listRegistryRooms(db)).map((r) => r.id)).toEqual(['A101', 'B-2.05', 'C3']);
      } finally {
        await db.close();
      }
    } finally {
      t.remove();
    }
  }, 60_000);
});

describe('room registry over the API', () => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub();
  });
  afterAll(async () => t?.stop());

  it('imports as admin, is audited, and its names win over the birth', async () => {
    const prov = await t.api<{ username: string; password: string }>('POST', '/api/agents', {
      agent: 'box-a101',
      room: 'A101',
    });
    expect(prov.status).toBe(201);
    const box = await connectAgent(
      `mqtt://127.0.0.1:${t.hub.mqttPort}`,
      prov.body.username,
      prov.body.password,
    );
    try {
      await box.publishAsync('classroom/v1/box-a101/birth', JSON.stringify(birth('box-a101', 'A101')), {
        qos: 1,
      });
      await waitFor('birth seen', async () => {
        const r = await t.api<{ room: { name: string } }>('GET', '/api/rooms/A101');
        return r.status === 200 && r.body.room.name === 'Room A101';
      });

      const put = await t.api('PUT', '/api/rooms', { csv: GOOD });
      expect(put).toMatchObject({ status: 200, body: { rooms: 3, added: 3 } });
      const detail = await t.api<{ room: Record<string, string>; capacity: number }>(
        'GET',
        '/api/rooms/A101',
      );
      expect(detail.body.room).toEqual({
        id: 'A101',
        name: 'Lecture Hall A101',
        building: 'Science',
        floor: '1',
        campus: 'East',
      });
      expect(detail.body.capacity).toBe(120);
      const list = await t.api<{ rooms: Array<{ room: { id: string; building: string } }> }>(
        'GET',
        '/api/rooms',
      );
      expect(list.body.rooms.find((r) => r.room.id === 'A101')?.room.building).toBe('Science');
      const agents = await t.api<{ agents: Array<{ agent: string; room: { name: string } }> }>(
        'GET',
        '/api/agents',
      );
      expect(agents.body.agents.find((a) => a.agent === 'box-a101')?.room.name).toBe('Lecture Hall A101');

      // JSON body, same data: nothing changes.
      const again = await t.api('PUT', '/api/rooms', { rooms: parseRoomsCsv(GOOD) });
      expect(again.body).toMatchObject({ unchanged: 3, added: 0, updated: 0, removed: 0 });

      // A bad file answers every bad line and keeps the registry.
      const bad = await t.api<{ error: { code: string; details: { lines: Array<{ line: number }> } } }>(
        'PUT',
        '/api/rooms',
        {
          csv: 'id,name,building,floor,campus,capacity\nA101,New,S,1,E,-4\nX,,S,1,E,1\n',
        },
      );
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('bad_rooms');
      expect(bad.body.error.details.lines.map((l) => l.line)).toEqual([2, 3]);
      const kept = await t.api<{ rooms: Array<{ id: string }> }>('GET', '/api/registry/rooms');
      expect(kept.body.rooms.map((r) => r.id)).toEqual(['A101', 'B-2.05', 'C3']);

      const audit = await t.api<{ entries: Array<{ action: string; detail: Record<string, unknown> }> }>(
        'GET',
        '/api/audit?action=rooms.import',
      );
      expect(audit.status).toBe(200);
      const actions = JSON.stringify(audit.body);
      expect(actions).toContain('rooms.import');
      expect(actions).toContain('"added":3');
    } finally {
      await box.endAsync();
    }
  });

  it('takes a whole campus (20,000 rooms, over 1 MiB) in one import', async () => {
    const lines = ['id,name,building,floor,campus,capacity'];
    for (let i = 0; i < 20_000; i++) {
      lines.push(
        `R${String(i).padStart(5, '0')},Teaching room number ${i} of the campus,Building ${i % 40},${i % 9},Main,${30 + (i % 200)}`,
      );
    }
    const csv = lines.join('\n');
    expect(csv.length).toBeGreaterThan(1024 * 1024);
    const put = await t.api('PUT', '/api/rooms', { csv });
    expect(put).toMatchObject({ status: 200, body: { rooms: 20_000 } });
    const list = await t.api<{ rooms: Array<{ id: string; capacity: number }> }>(
      'GET',
      '/api/registry/rooms',
    );
    expect(list.body.rooms).toHaveLength(20_000);
    expect(list.body.rooms[19_999]).toMatchObject({ id: 'R19999', capacity: 30 + (19_999 % 200) });
  }, 120_000);

  it('refuses a body with neither or both of csv and rooms', async () => {
    expect((await t.api('PUT', '/api/rooms', {})).status).toBe(400);
    expect((await t.api('PUT', '/api/rooms', { csv: GOOD, rooms: [] })).status).toBe(400);
  });
});

describe('classroom-hub rooms import (the bin)', () => {
  it('imports into a running hub’s store, which shows it; a bad file exits 2 naming its lines', async () => {
    const t = tempDir('rooms-cli-');
    const hub = await spawnHub(t.dir);
    try {
      const api = apiFor(hub.httpPort, TOKEN);
      expect((await api('POST', '/api/agents', { agent: 'box-c3', room: 'C3' })).status).toBe(201);
      const file = join(t.dir, 'rooms.csv');
      writeFileSync(file, GOOD);
      const { stdout } = await run(process.execPath, [
        BIN,
        'rooms',
        'import',
        '--file',
        file,
        '--data-dir',
        t.dir,
      ]);
      expect(JSON.parse(stdout)).toEqual({ rooms: 3, added: 3, updated: 0, unchanged: 0, removed: 0 });
      const again = await run(process.execPath, [
        BIN,
        'rooms',
        'import',
        '--file',
        file,
        '--data-dir',
        t.dir,
      ]);
      expect(JSON.parse(again.stdout)).toMatchObject({ unchanged: 3 });
      // The running hub polls the registry's version (rooms/module.ts) and shows the new name.
      await waitFor(
        'registry name shown',
        async () => {
          const r = await api<{ room: { name: string; building: string } }>('GET', '/api/rooms/C3');
          return r.status === 200 && r.body.room.name === '实验室 C3' && r.body.room.building === '工程楼';
        },
        30_000,
      );

      const badFile = join(t.dir, 'bad.csv');
      writeFileSync(badFile, 'id,name,building,floor,campus,capacity\nC3,,x,1,E,1\nD4,Room D4,x,1,E,many\n');
      const err = await run(process.execPath, [
        BIN,
        'rooms',
        'import',
        '--file',
        badFile,
        '--data-dir',
        t.dir,
      ]).then(
        () => null,
        (e: { code: number; stderr: string }) => e,
      );
      expect(err?.code).toBe(2);
      expect(err?.stderr).toContain('bad.csv:2: name');
      expect(err?.stderr).toContain('bad.csv:3: capacity');
      expect(err?.stderr).toContain('previous registry is kept');
      const kept = await api<{ rooms: Array<{ id: string }> }>('GET', '/api/registry/rooms');
      expect(kept.body.rooms).toHaveLength(3);
    } finally {
      await hub.terminate();
      t.remove();
    }
  }, 90_000);
});
