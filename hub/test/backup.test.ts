// `classroom-hub backup` (docs/hub.md "Backup and restore"): a consistent online backup of the SQLite
// store taken while a `classroom-sim fleet` ingests into the running hub; a hub started on the backup
// (restored as the docs say) serves every record committed, and so acked, before the backup began.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sqlite3 from 'sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { apiFor, spawnHub, TOKEN, tempDir, waitFor } from './core-helpers.js';

const run = promisify(execFile);
const BIN = new URL('../bin/classroom-hub.js', import.meta.url).pathname;
const SIM = new URL('../../simulators/bin/classroom-sim.js', import.meta.url).pathname;

function query<T>(file: string, sql: string): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const d = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (err) => {
      if (err) return reject(err);
      d.configure('busyTimeout', 10_000);
      d.all(sql, (e, rows) => d.close(() => (e ? reject(e) : resolve(rows as T[]))));
    });
  });
}

function exec(file: string, sql: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const d = new sqlite3.Database(file, (err) => {
      if (err) return reject(err);
      d.configure('busyTimeout', 10_000);
      d.exec(sql, (e) => d.close(() => (e ? reject(e) : resolve())));
    });
  });
}

const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
}, 60_000);

describe('classroom-hub backup', () => {
  it('takes a consistent backup while a fleet ingests; a hub on the backup serves every record acked before it', async () => {
    const live = tempDir('hub-backup-live-');
    cleanups.push(() => live.remove());
    const hub = await spawnHub(live.dir);
    cleanups.push(async () => {
      await hub.terminate();
    });
    const liveDb = join(live.dir, 'hub.db');
    // Bulk so the copy takes a while: 60,000 wide rows from an earlier day, written beside the hub.
    await exec(
      liveDb,
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000)
       INSERT INTO records (agent, seq, kind, source, ts, end_ts, room, type, historical, received_at, body)
       SELECT 'bulk', i, 'capture', 'cam', ${Date.now() - 86_400_000} + i * 1000, NULL, 'R0', NULL, 0, 0,
              printf('{"seq":%d,"pad":"%s"}', i, hex(randomblob(200))) FROM n`,
    );
    const fleet: ChildProcess = spawn(
      process.execPath,
      [
        SIM,
        'fleet',
        '--broker',
        `mqtt://127.0.0.1:${hub.mqttPort}`,
        '--api',
        `http://127.0.0.1:${hub.httpPort}`,
        '--admin-token',
        TOKEN,
        '--rooms',
        '8',
        '--window-s',
        '1',
        '--duration-s',
        '120',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    let fleetOut = '';
    fleet.stdout?.on('data', (b: Buffer) => {
      fleetOut += b.toString();
    });
    fleet.stderr?.on('data', (b: Buffer) => {
      fleetOut += b.toString();
    });
    const fleetExited = new Promise<void>((r) => fleet.once('exit', () => r()));
    cleanups.push(async () => {
      if (fleet.exitCode === null && fleet.pid) process.kill(-fleet.pid, 'SIGKILL');
      await fleetExited;
    });
    const fleetRecords = async () =>
      (await query<{ n: number }>(liveDb, "SELECT count(*) AS n FROM records WHERE agent LIKE 'sim-%'"))[0]
        ?.n ?? 0;
    await waitFor(
      `fleet records stored (fleet: ${fleetOut.slice(-500)})`,
      async () => (await fleetRecords()) >= 100,
      60_000,
      200,
    );

    // Everything committed before the backup begins (the hub acks only committed records).
    const before = await query<{ agent: string; seq: number }>(
      liveDb,
      "SELECT agent, seq FROM records WHERE agent LIKE 'sim-%'",
    );
    const to = join(live.dir, 'backups', 'hub-backup.db');
    await run('mkdir', ['-p', join(live.dir, 'backups')]);
    const countAtStart = await fleetRecords();
    const res = await run(process.execPath, [BIN, 'backup', '--data-dir', live.dir, '--to', to]);
    const out = JSON.parse(res.stdout) as { file: string; bytes: number; records: number; integrity: string };
    expect(out.file).toBe(to);
    expect(out.integrity).toBe('ok');
    expect(out.records).toBeGreaterThanOrEqual(60_000 + before.length);
    expect(res.stderr).toMatch(/backup: 100% \(/);
    // The fleet kept ingesting while the copy ran: the hub never stopped acking.
    await waitFor('ingest after the backup', async () => (await fleetRecords()) > countAtStart, 30_000, 200);
    // Nothing half-written is left beside the backup.
    expect(readdirSync(join(live.dir, 'backups'))).toEqual(['hub-backup.db']);
    // A second backup to the same name is refused without --force.
    const again = await run(process.execPath, [BIN, 'backup', '--data-dir', live.dir, '--to', to]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect((again as { code: number }).code).toBe(1);
    expect((again as { stderr: string }).stderr).toMatch(/exists; pass --force/);

    // Restore as docs/hub.md says: the backup becomes hub.db of a data dir with no -wal/-shm beside it.
    const restored = tempDir('hub-backup-restored-');
    cleanups.push(() => restored.remove());
    copyFileSync(to, join(restored.dir, 'hub.db'));
    expect(existsSync(join(restored.dir, 'hub.db-wal'))).toBe(false);
    const hub2 = await spawnHub(restored.dir);
    cleanups.push(async () => {
      await hub2.terminate();
    });
    const api = apiFor(hub2.httpPort, TOKEN);
    const served = new Set<string>();
    let cursor: string | null = null;
    do {
      const page: {
        status: number;
        body: { records: Array<{ agent: string; record: { seq: number } }>; nextCursor: string | null };
      } = await api(
        'GET',
        `/api/records?from=${Date.now() - 3_600_000}&limit=1000${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.status).toBe(200);
      for (const r of page.body.records) served.add(`${r.agent}/${r.record.seq}`);
      cursor = page.body.nextCursor;
    } while (cursor);
    const missing = before.filter((r) => !served.has(`${r.agent}/${r.seq}`));
    expect(missing).toEqual([]);
    expect(before.length).toBeGreaterThanOrEqual(100);
    const bulk = await query<{ n: number }>(
      join(restored.dir, 'hub.db'),
      "SELECT count(*) AS n FROM records WHERE agent = 'bulk'",
    );
    expect(bulk[0]?.n).toBe(60_000);
  }, 180_000);

  it('refuses PostgreSQL and a missing database with a clear message', async () => {
    const t = tempDir('hub-backup-none-');
    cleanups.push(() => t.remove());
    const e1 = await run(process.execPath, [
      BIN,
      'backup',
      '--data-dir',
      t.dir,
      '--to',
      join(t.dir, 'x.db'),
    ]).catch((e: { code: number; stderr: string }) => e);
    expect((e1 as { stderr: string }).stderr).toMatch(/no database at/);
    const e2 = await run(process.execPath, [
      BIN,
      'backup',
      '--database',
      'postgres://u@127.0.0.1:1/db',
      '--to',
      join(t.dir, 'x.db'),
    ]).catch((e: { code: number; stderr: string }) => e);
    expect((e2 as { code: number }).code).toBe(2);
    expect((e2 as { stderr: string }).stderr).toMatch(/pg_dump/);
  });
});
