// Upgrade of a box (docs/operations.md "Upgrade"): the outbox database that agent 0.1.0 wrote
// (test/fixtures/upgrade/0.1.0/agent-sqlite.sql, made by scripts/upgrade-fixtures.mjs with that
// release's code) is opened by this agent. Nothing buffered is lost, no seq or session is reused
// (DESIGN.md "Records", "session"), and a command id seen before the upgrade is still refused.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeDir, tempDir, testAgent, testConfig } from './helpers/agent.js';
import { startBroker, type TestBroker, TestHub, waitFor } from './helpers/broker.js';

const FIXTURE = new URL('../../test/fixtures/upgrade/0.1.0/agent-sqlite.sql', import.meta.url);

function sqlite(file: string) {
  const db = new sqlite3.Database(file);
  return {
    exec: (sql: string) => new Promise<void>((res, rej) => db.exec(sql, (err) => (err ? rej(err) : res()))),
    all: <T>(sql: string) =>
      new Promise<T[]>((res, rej) => db.all(sql, (err, rows) => (err ? rej(err) : res(rows as T[])))),
    close: () => new Promise<void>((res, rej) => db.close((err) => (err ? rej(err) : res()))),
  };
}

describe('agent upgrade from 0.1.0', () => {
  let dir: string;
  let broker: TestBroker;
  let hub: TestHub;
  let old: { seq: number; json: string }[];
  let oldMeta: Record<string, number>;
  let oldSeen: string[];

  beforeEach(async () => {
    dir = tempDir('agent-upgrade-');
    mkdirSync(join(dir, 'data'));
    const db = sqlite(join(dir, 'data', 'agent.db'));
    await db.exec(readFileSync(FIXTURE, 'utf8'));
    old = await db.all<{ seq: number; json: string }>('SELECT seq, json FROM outbox ORDER BY seq');
    oldMeta = Object.fromEntries(
      (await db.all<{ key: string; value: number }>('SELECT key, value FROM meta')).map((r) => [
        r.key,
        r.value,
      ]),
    );
    oldSeen = (await db.all<{ id: string }>('SELECT id FROM cmd_seen')).map((r) => r.id);
    await db.close();
    broker = await startBroker();
    hub = new TestHub();
    await hub.connect(broker.url);
  });

  afterEach(async () => {
    await hub.close();
    await broker.close();
    removeDir(dir);
  });

  it('delivers every buffered record unchanged, continues the seq and session, and keeps refusing seen commands', async () => {
    expect(old.length).toBeGreaterThan(3);
    expect(oldSeen.length).toBeGreaterThan(0);
    const lastSeq = oldMeta.lastSeq as number;
    expect(lastSeq).toBe(old.at(-1)?.seq);

    const agent = testAgent(testConfig(join(dir, 'data'), broker.url));
    await agent.app.start();
    try {
      await waitFor(() => agent.app.status().connected && hub.on('/birth').length > 0, 'agent online');
      const birth = hub.on('/birth').at(-1) as { session: number };
      expect(birth.session).toBeGreaterThan(oldMeta.session as number);

      // Every record of the old outbox reaches the hub byte for byte (as parsed JSON) and is acked.
      await waitFor(() => agent.app.status().outbox.records === 0, 'old outbox drained', 30_000);
      const got = new Map((hub.records.get('box-1') ?? []).map((r) => [r.seq, r]));
      for (const row of old) expect(got.get(row.seq), `seq ${row.seq}`).toEqual(JSON.parse(row.json));
      expect(hub.duplicates).toBe(0);

      // New windows take the next seqs: none of the old ones is handed out again.
      agent.monitors.get('cam')?.emitWindows(3);
      await waitFor(() => hub.sortedSeqs('box-1').length >= old.length + 3, 'new windows delivered');
      expect(hub.sortedSeqs('box-1').slice(-3)).toEqual([lastSeq + 1, lastSeq + 2, lastSeq + 3]);

      // A command id the old version had run is still a duplicate.
      const id = oldSeen[0] as string;
      await hub.publish('classroom/v1/box-1/cmd', {
        v: 1,
        id,
        name: 'rebirth',
        args: {},
        expiresAt: Date.now() + 60_000,
      });
      const result = await waitFor(
        () =>
          (hub.on('/cmd/result') as Array<{ id: string; status: string; error?: string }>).find(
            (r) => r.id === id,
          ),
        'answer to the replayed command',
      );
      expect(result.status).toBe('error');
      expect(result.error).toMatch(/duplicate/);
    } finally {
      await agent.app.stop();
    }
  });
});
