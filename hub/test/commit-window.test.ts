// Unit test of the group committer's adaptive window (docs/hub-perf.md "Group commit window"): an idle writer commits on the
// next turn of the event loop instead of waiting a timer, and batches that arrive while a commit is in
// flight form the next group together. The store is a stand-in that records every statement.
import type { RecordT } from '@classroom/protocol';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../src/context.js';
import { GroupCommitter } from '../src/ingest/commit.js';
import { createMetrics } from '../src/metrics.js';
import type { Store } from '../src/store/open.js';

function event(seq: number): RecordT {
  return { seq, kind: 'event', source: 'cam', ts: 1_700_000_000_000 + seq, type: 'source.up' } as RecordT;
}

function fakeStore() {
  const groups: number[] = [];
  let release: (() => void) | null = null;
  let hold = false;
  const store = {
    dialect: 'sqlite',
    async allWrite(_sql: string, params: unknown[]) {
      const rows = JSON.parse(String(params[0])) as unknown[][];
      groups.push(rows.length);
      if (hold) await new Promise<void>((r) => (release = r));
      return rows.map((r) => ({ agent: r[0], seq: r[1] }));
    },
  } as unknown as Store;
  return {
    store,
    groups,
    hold: (on: boolean) => (hold = on),
    release: () => release?.(),
  };
}

describe('GroupCommitter adaptive window', () => {
  it('commits a lone batch without waiting a timer window', async () => {
    const f = fakeStore();
    // A 10 s window would time the test out if the idle writer waited for it.
    const c = new GroupCommitter(f.store, systemClock, createMetrics(), { windowMs: 0, maxRecords: 5000 });
    const started = performance.now();
    const fresh = await c.submit({
      agent: 'a1',
      room: null,
      records: [event(1)],
      historical: false,
      receivedAt: 0,
    });
    expect(fresh.map((r) => r.seq)).toEqual([1]);
    expect(f.groups).toEqual([1]);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('starts a commit as soon as maxRecords are pending, so the writer works while the rest is read', async () => {
    const f = fakeStore();
    const c = new GroupCommitter(f.store, systemClock, createMetrics(), { windowMs: 0, maxRecords: 4 });
    f.hold(true);
    const all = Array.from({ length: 10 }, (_, i) =>
      c.submit({ agent: `a${i}`, room: null, records: [event(1)], historical: false, receivedAt: 0 }),
    );
    // The fourth batch started a commit during this very turn; the other six wait for it.
    expect(f.groups).toEqual([4]);
    f.hold(false);
    f.release();
    const fresh = await Promise.all(all);
    expect(fresh.every((r) => r.length === 1)).toBe(true);
    expect(f.groups).toEqual([4, 6]);
  });

  it('coalesces batches that arrive in one turn, and those that arrive during a commit', async () => {
    const f = fakeStore();
    const c = new GroupCommitter(f.store, systemClock, createMetrics(), { windowMs: 0, maxRecords: 5000 });
    const sub = (agent: string, seq: number) =>
      c.submit({ agent, room: null, records: [event(seq)], historical: false, receivedAt: 0 });
    f.hold(true);
    const first = [sub('a1', 1), sub('a2', 1)];
    await expect.poll(() => f.groups.length).toBe(1);
    // While the first group is being written, three more arrive: they wait and form one group.
    const second = [sub('a3', 1), sub('a4', 1), sub('a1', 2)];
    expect(f.groups).toEqual([2]);
    f.hold(false);
    f.release();
    await Promise.all([...first, ...second]);
    expect(f.groups).toEqual([2, 3]);
    await c.flush();
  });
});
